"""stbass.testing.explore: hypothesis makes stbass's nondeterministic decisions,
a failing schedule is reported shrunk and replays; nothing changes when not
exploring. Each explore call runs on asyncio and trio itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from stbass import ALT, PAR, Chan, DeadlockError, Guard, Process, ProcessContext
from stbass._core import _alt_random
from stbass.testing import ScheduleFailure, explore

ROOT = Path(__file__).resolve().parent.parent


async def picky() -> None:
    """ALT between two ready channels; choosing the second one is the bug."""
    a, b = Chan(int, name="a"), Chan(int, name="b")

    @Process
    async def chooser(ctx: ProcessContext) -> int:
        with anyio.fail_after(5):
            await anyio.wait_all_tasks_blocked()
        index, _ = await ALT(Guard(a), Guard(b)).choose()
        assert index == 0, "took b first"
        return int(await b.recv())

    @Process
    async def feed_a(ctx: ProcessContext) -> None:
        await a.send(1)

    @Process
    async def feed_b(ctx: ProcessContext) -> None:
        await b.send(2)

    result = await PAR(chooser, feed_a, feed_b).run()
    if result.is_fail:
        raise result.failures[0].error


def test_explore_finds_an_alt_choice_bug_and_replays_it() -> None:
    with pytest.raises(ScheduleFailure) as info:
        explore(picky, max_examples=100)
    failure = info.value
    assert "took b first" in str(failure)
    assert isinstance(failure.error, AssertionError)
    assert failure.decisions and failure.decisions[-1] == 1
    assert f"replay: explore(picky, replay={failure.decisions!r}" in str(failure)
    with pytest.raises(ScheduleFailure, match="^replaying picky on "):
        explore(picky, replay=failure.decisions, backends=(failure.backend,))


def test_the_ordinary_schedule_is_all_zeros() -> None:
    explore(picky, replay=[])  # every decision 0: ALT takes a, as in a passing run


async def two_alts() -> None:
    """Two ALTs over the same two channels; the receiver then waits on b, which is
    right only if its ALT took a: a deadlock when it picks b."""
    a, b = Chan(int, name="a"), Chan(int, name="b")

    @Process
    async def left(ctx: ProcessContext) -> None:
        first, _ = await ALT(
            Guard.send(ctx.get_channel("a"), 1), Guard.send(ctx.get_channel("b"), 1)
        ).choose()
        await ctx.get_channel("b" if first == 0 else "a").send(2)  # then the other

    @Process
    async def right(ctx: ProcessContext) -> None:
        with anyio.fail_after(5):
            await anyio.wait_all_tasks_blocked()  # left's ALT offers on both
        await ALT(Guard(ctx.get_channel("a")), Guard(ctx.get_channel("b"))).choose()
        await ctx.get_channel("b").recv()  # the bug: should take the other one

    await PAR(left.with_channels(a=a, b=b), right.with_channels(a=a, b=b)).run()


def test_explore_reports_a_deadlock_it_finds() -> None:
    with pytest.raises(ScheduleFailure) as info:
        explore(two_alts, max_examples=100)
    assert isinstance(info.value.error, DeadlockError)
    assert "right waits to recv on b" in str(info.value)
    explore(two_alts, replay=[])  # the ordinary schedule does not deadlock


async def fine() -> None:
    ch = Chan(int, name="numbers")

    @Process
    async def producer(ctx: ProcessContext) -> None:
        for i in range(5):
            await ch.send(i)

    @Process
    async def consumer(ctx: ProcessContext) -> list[int]:
        return [await ch.recv() for _ in range(5)]

    result = await PAR(producer, consumer).run()
    assert result.value[1] == [0, 1, 2, 3, 4]


def test_a_correct_program_passes_and_nothing_stays_installed() -> None:
    explore(fine, max_examples=20)
    assert _alt_random.EXPLORER is None
    assert "randrange" not in vars(_alt_random.ALT_RANDOM)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown backend 'curio'"):
        explore(fine, backends=("curio",))
    with pytest.raises(ValueError, match="max_examples must be a positive int"):
        explore(fine, max_examples=0)


def test_explore_cannot_nest() -> None:
    async def nested() -> None:
        explore(fine, max_examples=1)

    with pytest.raises(ScheduleFailure) as info:
        explore(nested, replay=[], backends=("asyncio",))
    assert "cannot nest" in str(info.value.error)


def test_a_hang_is_reported() -> None:
    async def hangs() -> None:
        await Chan(int, name="nobody").recv()

    with pytest.raises(ScheduleFailure, match="it hung"):
        explore(hangs, replay=[], backends=("asyncio",), timeout=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_schedule_bug_example_is_found_and_replayed(backend: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    done = subprocess.run(
        [sys.executable, "examples/schedule_bug.py", "--backend", backend],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert f"100 plain runs on {backend}: no failure" in done.stdout
    assert "explore found it" in done.stdout
    assert "overdrawn: withdraw 30 left the balance at -5" in done.stdout
    assert "and the replay fails the same way" in done.stdout
