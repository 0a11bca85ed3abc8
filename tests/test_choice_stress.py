"""Randomized stress: RACE and QUORUM whose children send on channels.

Each child sends a random number of values on its own channel, with random
yields in between, then succeeds or fails; a receiver per channel (outside the
composition) takes whatever arrives. Losers are cancelled wherever they happen
to be, often in the middle of a send. Every value a child saw delivered (its
``send`` returned) is received exactly once, and a send that was cancelled is
received by nobody; there is exactly one RACE winner (QUORUM: ``k`` winners),
each a child that succeeded; no child task is still running when the
composition returns.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import anyio
import pytest

from stbass import (
    QUORUM,
    RACE,
    Chan,
    ChannelClosedError,
    Process,
    ProcessContext,
    QUORUMResult,
    RACEResult,
)

pytestmark = pytest.mark.anyio

RUNS = 300


async def _yield(rng: random.Random) -> None:
    for _ in range(rng.randrange(3)):
        await anyio.lowlevel.checkpoint()


async def one_run(seed: int) -> tuple[int, int]:
    rng = random.Random(seed)
    n = rng.randint(2, 6)
    chans = [Chan(tuple, name=f"c{i}") for i in range(n)]
    delivered: list[tuple[int, int]] = []
    received: list[tuple[int, int]] = []
    running: set[int] = set()
    plans = [(rng.randrange(6), rng.random() < 0.7, random.Random(rng.random())) for _ in range(n)]

    def child(i: int) -> Process:
        count, succeeds, crng = plans[i]

        async def body(ctx: ProcessContext) -> Any:
            running.add(i)
            try:
                for j in range(count):
                    await _yield(crng)
                    await chans[i].send((i, j))
                    delivered.append((i, j))
                await _yield(crng)
                if not succeeds:
                    raise ValueError(f"child {i} fails")
                return i
            finally:
                running.discard(i)

        return Process(body, name=f"child{i}")

    async def receiver(ch: Chan[Any], rrng: random.Random) -> None:
        try:
            while True:
                received.append(await ch.recv())
                await _yield(rrng)
        except ChannelClosedError:
            pass

    use_quorum = rng.random() < 0.5
    k = rng.randint(1, n) if use_quorum else 1
    procs = [child(i) for i in range(n)]
    composition = QUORUM(k, *procs) if use_quorum else RACE(*procs)
    async with anyio.create_task_group() as tg:
        for ch in chans:
            tg.start_soon(receiver, ch, random.Random(rng.random()))
        result = await composition.run()
        assert not running, f"seed {seed}: children still running: {running}"
        for ch in chans:
            ch.close()

    counts = Counter(received)
    assert all(c == 1 for c in counts.values()), f"seed {seed}: duplicates {counts}"
    assert sorted(received) == sorted(delivered), f"seed {seed}: lost or phantom values"
    successes = [i for i in range(n) if plans[i][1]]
    if isinstance(result, QUORUMResult):
        winners = result.winners if result.is_ok else []
        assert result.is_ok == (len(successes) >= k), f"seed {seed}"
        assert len(set(winners)) == len(winners)
        if result.is_ok:
            assert len(winners) == k and set(winners) <= set(successes)
            assert result.value == winners
    else:
        assert isinstance(result, RACEResult)
        assert result.is_ok == bool(successes), f"seed {seed}"
        if result.is_ok:
            winner = result.winner
            assert winner in successes and result.value == winner
    lost = sum(
        1
        for r in result.results
        if r.is_fail and getattr(r.failure.error, "reason", None) in ("lost", "halt")
    )
    return len(delivered), lost


async def test_race_and_quorum_never_lose_or_duplicate_a_sent_value() -> None:
    total_sent = total_cancelled = 0
    with anyio.fail_after(60):
        for seed in range(RUNS):
            sent, cancelled = await one_run(seed)
            total_sent += sent
            total_cancelled += cancelled
    # the storm did cancel children in flight, and values did flow
    assert total_cancelled > RUNS // 4
    assert total_sent > RUNS
