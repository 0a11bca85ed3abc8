"""Randomized stress: senders, receivers and ALTs under a storm of cancellations.

Every value a send reported as delivered is received exactly once; a send that
raised was received by nobody (the sender retries it, so a wrongly failed send
shows up as a duplicate); values from one sender reach any one receiver in the
order sent. At least 10,000 cancellation events per backend.
"""

from __future__ import annotations

import random
from collections import Counter


import anyio
import pytest

from stbass import ALT, PRI_ALT, Chan, ChannelClosedError, Guard

pytestmark = pytest.mark.anyio

CANCELS_PER_RUN = 5_200


class Chaos:
    """Cancels random live scopes at random scheduling points."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.scopes: dict[int, anyio.CancelScope] = {}
        self.events = 0
        self._next = 0

    def register(self, scope: anyio.CancelScope) -> int:
        self._next += 1
        self.scopes[self._next] = scope
        return self._next

    def unregister(self, key: int) -> None:
        self.scopes.pop(key, None)

    async def run(self, done: anyio.Event) -> None:
        rng = self.rng
        while not done.is_set():
            for _ in range(rng.randrange(3)):
                await anyio.lowlevel.checkpoint()
            if self.scopes:
                key = rng.choice(list(self.scopes))
                scope = self.scopes.pop(key)
                scope.cancel()
                self.events += 1
            else:
                await anyio.lowlevel.checkpoint()


async def run_storm(seed: int, *, output_guards: bool, capacity: int = 0) -> tuple[int, int]:
    rng = random.Random(seed)
    chans = [Chan(tuple, name=f"c{i}", capacity=capacity) for i in range(3)]
    chaos = Chaos(rng)
    delivered: list[tuple[int, int]] = []
    received: list[tuple[int, int]] = []
    per_receiver: list[list[tuple[int, tuple[int, int]]]] = []  # (channel, value)
    senders_left = 4
    senders_done = anyio.Event()
    values_per_sender = 700

    async def sender(sid: int) -> None:
        nonlocal senders_left
        my_chans = [chans[sid % 3], chans[(sid + 1) % 3]]
        for k in range(values_per_sender):
            value = (sid, k)
            while True:
                with anyio.CancelScope() as scope:
                    key = chaos.register(scope)
                    try:
                        if output_guards and k % 2:
                            await ALT(*(Guard.send(c, value) for c in my_chans))
                        else:
                            await my_chans[0].send(value)
                    finally:
                        chaos.unregister(key)
                    delivered.append(value)
                    break
        senders_left -= 1
        if senders_left == 0:
            senders_done.set()

    async def receiver(rid: int) -> None:
        mine: list[tuple[int, tuple[int, int]]] = []
        per_receiver.append(mine)
        mode = rid % 3
        while True:
            with anyio.CancelScope() as scope:
                key = chaos.register(scope)
                try:
                    if mode == 0:
                        index = rid % 3
                        value = await chans[index].recv()
                    elif mode == 1:
                        index, value = await ALT(*chans).choose()
                    else:
                        index, value = await PRI_ALT(*chans).choose()
                except ChannelClosedError:
                    return
                finally:
                    chaos.unregister(key)
                received.append(value)
                mine.append((index, value))

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(chaos.run, senders_done)
            for rid in range(6):
                tg.start_soon(receiver, rid)
            for sid in range(4):
                tg.start_soon(sender, sid)
            await senders_done.wait()
            for c in chans:
                c.close()

    # A receiver's ALT ends at the first closed and drained channel, so a
    # buffered channel may keep values nobody took: they are still there.
    for c in chans:
        leftover = c.statistics().buffered
        for _ in range(leftover):
            received.append(c.recv_nowait())
    counts = Counter(received)
    duplicated = {v: n for v, n in counts.items() if n > 1}
    assert not duplicated, f"values received more than once: {list(duplicated)[:5]}"
    assert set(received) == set(delivered), "received and delivered differ"
    assert len(delivered) == 4 * values_per_sender
    # A rendezvous send returns only once its value was taken, so one sender's
    # values arrive in order whatever channels carried them; buffers keep the
    # order per channel (two buffers may be drained in any order).
    for mine in per_receiver:
        last: dict[tuple[int, int], int] = {}
        for index, (sid, k) in mine:
            stream = (sid, index if capacity else 0)
            assert last.get(stream, -1) < k, f"sender {sid} out of order at {k}"
            last[stream] = k
    return chaos.events, len(received)


@pytest.mark.parametrize("output_guards", [False, True], ids=["plain", "output-guards"])
async def test_cancellation_storm_loses_and_duplicates_nothing(output_guards: bool) -> None:
    events = 0
    seed = 0
    while events < CANCELS_PER_RUN:
        got, _ = await run_storm(1000 * seed + int(output_guards), output_guards=output_guards)
        events += got
        seed += 1
    assert events >= CANCELS_PER_RUN


@pytest.mark.parametrize("output_guards", [False, True], ids=["plain", "output-guards"])
async def test_cancellation_storm_on_buffered_channels_loses_and_duplicates_nothing(
    output_guards: bool,
) -> None:
    """The same storm with ``capacity=2``: a send that returned (into the
    buffer) is received exactly once or is still buffered; one that raised put
    nothing in the buffer."""
    events = 0
    seed = 0
    while events < CANCELS_PER_RUN // 2:
        got, _ = await run_storm(
            1000 * seed + 7 + int(output_guards), output_guards=output_guards, capacity=2
        )
        events += got
        seed += 1
    assert events >= CANCELS_PER_RUN // 2


@pytest.mark.parametrize("capacity", [0, 3], ids=["rendezvous", "buffered"])
async def test_timeouts_on_both_sides_lose_nothing(capacity: int) -> None:
    """move_on_after(0) on sends and recvs: every delivered value arrives once."""
    ch = Chan(int, name="t", capacity=capacity)
    delivered: list[int] = []
    received: list[int] = []
    rng = random.Random(7)
    done = anyio.Event()

    async def send_all() -> None:
        for i in range(2000):
            while True:
                with anyio.move_on_after(0 if rng.random() < 0.5 else 1):
                    await ch.send(i)
                    delivered.append(i)
                    break
        done.set()

    async def recv_all() -> None:
        while True:
            with anyio.move_on_after(0 if rng.random() < 0.3 else 1):
                try:
                    received.append(await ch.recv())
                except ChannelClosedError:
                    return

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(recv_all)
            tg.start_soon(recv_all)
            tg.start_soon(send_all)
            await done.wait()
            ch.close()
    assert sorted(received) == delivered == list(range(2000))


