"""Deadlock detection: a composition whose processes wait on each other fails
with DeadlockError naming the cycle; anything that could still move does not."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from stbass import (
    ALT,
    PAR,
    PAR_FOR,
    SEQ,
    TIMER,
    Chan,
    ChanArray,
    DeadlockError,
    Distributor,
    Guard,
    Process,
    ProcessContext,
)
from stbass.testing import Waiting, blocked, record_spans

pytestmark = pytest.mark.anyio


@Process
async def left(ctx: ProcessContext) -> None:
    await ctx.send("a", 1)
    await ctx.recv("b")


@Process
async def right(ctx: ProcessContext) -> None:
    await ctx.send("b", 2)
    await ctx.recv("a")


def crossed() -> tuple[Process, Process]:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    return left.with_channels(a=a, b=b), right.with_channels(a=a, b=b)


async def test_two_processes_sending_to_each_other_fail_with_the_cycle() -> None:
    with anyio.fail_after(5):
        with pytest.raises(DeadlockError) as info:
            await PAR(*crossed()).run()
    err = info.value
    assert "left waits to send on a -> right waits to send on b -> left" in str(err)
    assert "  left waits to send on a\n" in str(err)
    assert "  right waits to send on b\n" in str(err)
    assert err.cycle == ("left", "right", "left")
    assert set(err.waits) == {Waiting("left", "send", ("a",)), Waiting("right", "send", ("b",))}


async def test_working_exchange_is_not_a_deadlock() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")

    @Process
    async def ping(ctx: ProcessContext) -> int:
        for i in range(50):
            await ctx.send("a", i)
            await ctx.recv("b")
        return 50

    @Process
    async def pong(ctx: ProcessContext) -> int:
        for _ in range(50):
            await ctx.send("b", await ctx.recv("a"))
        return 50

    with anyio.fail_after(5):
        result = await PAR(ping.with_channels(a=a, b=b), pong.with_channels(a=a, b=b)).run()
    assert result.value == [50, 50]


async def test_a_channel_held_outside_the_composition_never_counts() -> None:
    jobs = Chan(int, name="jobs")

    @Process
    async def consumer(ctx: ProcessContext) -> int:
        return int(await ctx.recv("jobs"))

    results: list[Any] = []

    async def run() -> None:
        results.append(await PAR(consumer.with_channels(jobs=jobs)).run())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await anyio.wait_all_tasks_blocked()
            assert blocked() == [Waiting("consumer", "recv", ("jobs",))]
            await jobs.send(7)
    assert results[0].value == [7]


async def test_detect_deadlock_false_lets_it_hang_and_blocked_shows_the_waits() -> None:
    raised: list[BaseException] = []

    async def run() -> None:
        try:
            await PAR(*crossed(), detect_deadlock=False).run()
        except BaseException as exc:
            raised.append(exc)
            raise

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await anyio.wait_all_tasks_blocked()
            assert blocked() == []  # detection off: nothing watched
            tg.cancel_scope.cancel()
    assert len(raised) == 1 and isinstance(raised[0], anyio.get_cancelled_exc_class())
    assert repr(PAR(left, detect_deadlock=False)) == "PAR(left, detect_deadlock=False)"


def test_detect_deadlock_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="detect_deadlock must be a bool"):
        PAR(left, detect_deadlock="yes")  # type: ignore[arg-type]


async def test_nested_par_and_seq_deadlock_is_found_by_the_outer_par() -> None:
    lhs, rhs = crossed()
    with anyio.fail_after(5):
        with pytest.raises(DeadlockError, match="cycle: "):
            await PAR(PAR(lhs), SEQ(rhs)).run()


async def test_a_process_running_a_nested_par_waits_for_it() -> None:
    lhs, rhs = crossed()

    @Process
    async def outer(ctx: ProcessContext) -> Any:
        return await PAR(lhs, rhs).run(ctx)

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError, match="left waits to send on a"):
            await PAR(outer).run()


async def test_replicator_ring_deadlock_names_the_replicas() -> None:
    ring = ChanArray(int, 3, name_prefix="ring")

    async def node(i: int, ctx: ProcessContext) -> None:
        ctx.channels.update(out=ring[i], inp=ring[i - 1])  # every node sends first
        await ctx.send("out", i)
        await ctx.recv("inp")

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError) as info:
            await PAR_FOR(3, node).run()
    assert "node[0] waits to send on ring[0] -> node[1] waits to send on ring[1]" in str(
        info.value
    )
    assert len(info.value.cycle) == 4


async def test_alts_waiting_on_each_other_deadlock() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")

    @Process
    async def p(ctx: ProcessContext) -> Any:
        return await ALT(Guard(ctx.get_channel("a")))

    @Process
    async def q(ctx: ProcessContext) -> Any:
        return await ALT(Guard(ctx.get_channel("b")))

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError) as info:
            await PAR(p.with_channels(a=a, b=b), q.with_channels(a=a, b=b)).run()
    assert Waiting("p", "alt", ("a",)) in info.value.waits


async def test_an_alt_with_a_timer_is_not_deadlocked() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")

    @Process
    async def p(ctx: ProcessContext) -> Any:
        return await ALT(Guard(ctx.get_channel("a")), Guard(TIMER(0.01), handler=lambda: "t"))

    @Process
    async def q(ctx: ProcessContext) -> Any:
        return await ALT(Guard(ctx.get_channel("b")), Guard(TIMER(0.01), handler=lambda: "t"))

    with anyio.fail_after(5):
        result = await PAR(p.with_channels(a=a, b=b), q.with_channels(a=a, b=b)).run()
    assert result.value == ["t", "t"]


async def test_a_wait_with_its_own_timeout_is_not_deadlocked() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")

    @Process
    async def patient(ctx: ProcessContext) -> str:
        with anyio.move_on_after(0.01):
            await ctx.send("a", 1)
        return "gave up"

    @Process
    async def other(ctx: ProcessContext) -> str:
        with anyio.move_on_after(0.01):
            await ctx.send("b", 1)
        return "gave up"

    with anyio.fail_after(5):
        result = await PAR(patient.with_channels(a=a, b=b), other.with_channels(a=a, b=b)).run()
    assert result.value == ["gave up", "gave up"]


async def test_topology_processes_take_part_in_the_cycle() -> None:
    jobs, results = Chan(int, name="jobs"), Chan(int, name="results")
    lanes = ChanArray(int, 1, name_prefix="lane")

    @Process
    async def producer(ctx: ProcessContext) -> None:
        await ctx.recv("results")  # waits for a result before sending any job
        await ctx.send("jobs", 1)

    @Process
    async def worker(ctx: ProcessContext) -> None:
        await ctx.send("results", await ctx.recv("lane"))

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError) as info:
            await PAR(
                producer.with_channels(jobs=jobs, results=results),
                Distributor(jobs, lanes),
                worker.with_channels(lane=lanes[0], results=results),
            ).run()
    assert {w.process for w in info.value.waits} == {"producer", "Distributor", "worker"}


async def test_the_par_span_carries_a_deadlock_event() -> None:
    with record_spans() as spans:
        with anyio.fail_after(5):
            with pytest.raises(DeadlockError):
                await PAR(*crossed()).run()
    (par,) = spans.named("PAR")
    (event,) = [e for e in par.events if e.name == "deadlock"]
    assert "left waits to send on a" in str(event.attributes["deadlock.cycle"])


@pytest.mark.slow
def test_the_benchmarks_run() -> None:
    """Each benchmark runs both backends itself (no timing asserted)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root) + os.pathsep + env.get("PYTHONPATH", "")
    for module in ("benchmarks.deadlock", "benchmarks.explore"):
        done = subprocess.run(
            [sys.executable, "-m", module, "--quick"],
            cwd=root, env=env, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr
        for backend in ("asyncio", "trio"):
            assert backend in done.stdout


async def test_detect_deadlock_false_holds_for_a_par_used_as_a_seq_stage() -> None:
    from stbass import SEQ

    a, b = Chan(int, name="sa"), Chan(int, name="sb")

    @Process
    async def left(ctx: ProcessContext) -> None:
        await ctx.send("out", 1)
        await ctx.recv("in")

    @Process
    async def right(ctx: ProcessContext) -> None:
        await ctx.send("out", 2)
        await ctx.recv("in")

    par = PAR(
        left.with_channels(out=a, **{"in": b}),
        right.with_channels(out=b, **{"in": a}),
        detect_deadlock=False,
    )
    with anyio.move_on_after(0.5) as scope:  # a deadlock nobody reports: it just waits
        await SEQ(par).run()
    assert scope.cancelled_caught


# ------------------------------------------- tasks a process starts itself


def asker_and_answerer(helper_first: bool, go: anyio.Event | None) -> tuple[Process, Process]:
    """``asker`` sends on b from a helper task of its own and receives on a;
    ``answerer`` receives on b and sends back on a. While the helper waits (for
    *go*, or a short sleep) both processes wait on each other's channels: that
    is no deadlock, the helper can still move."""
    a, b = Chan(int, name="a"), Chan(int, name="b")

    async def helper(ctx: ProcessContext) -> None:
        if go is None:
            await anyio.sleep(0.05)
        else:
            await go.wait()
        await ctx.send("b", 41)

    @Process
    async def asker(ctx: ProcessContext) -> int:
        async with anyio.create_task_group() as tg:
            tg.start_soon(helper, ctx)
            answer = int(await ctx.recv("a"))
        return answer

    @Process
    async def answerer(ctx: ProcessContext) -> None:
        await ctx.send("a", await ctx.recv("b") + 1)

    return asker.with_channels(a=a, b=b), answerer.with_channels(a=a, b=b)


async def test_a_helper_task_that_sleeps_then_sends_is_not_a_deadlock() -> None:
    with anyio.fail_after(5):
        result = await PAR(*asker_and_answerer(True, None)).run()
    assert result.value == [42, None]


async def test_a_helper_task_waiting_on_something_else_is_not_a_deadlock() -> None:
    go = anyio.Event()
    outcome: list[Any] = []

    async def run() -> None:
        outcome.append(await PAR(*asker_and_answerer(True, go)).run())

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await anyio.wait_all_tasks_blocked()
            # Both processes wait on each other's channels, the helper on go.
            assert set(blocked()) == {
                Waiting("asker", "recv", ("a",)), Waiting("answerer", "recv", ("b",))
            }
            assert not outcome
            go.set()
    assert outcome[0].value == [42, None]


async def test_a_body_waiting_while_its_helper_is_blocked_is_not_a_deadlock() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    go = anyio.Event()

    async def helper(ctx: ProcessContext, got: list[int]) -> None:
        got.append(await ctx.recv("a"))

    @Process
    async def asker(ctx: ProcessContext) -> int:
        got: list[int] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(helper, ctx, got)
            await go.wait()  # the body is not blocked on a channel
            await ctx.send("b", 1)
        return got[0]

    @Process
    async def answerer(ctx: ProcessContext) -> None:
        await ctx.send("a", await ctx.recv("b") + 1)

    outcome: list[Any] = []

    async def run() -> None:
        outcome.append(
            await PAR(asker.with_channels(a=a, b=b), answerer.with_channels(a=a, b=b)).run()
        )

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await anyio.wait_all_tasks_blocked()
            assert not outcome
            go.set()
    assert outcome[0].value == [2, None]


async def test_a_cycle_through_a_helper_task_is_still_detected() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")

    async def helper(ctx: ProcessContext) -> None:
        await ctx.send("a", 1)

    @Process
    async def left(ctx: ProcessContext) -> None:
        async with anyio.create_task_group() as tg:  # the body waits for its helper
            tg.start_soon(helper, ctx)
        await ctx.recv("b")

    @Process
    async def right(ctx: ProcessContext) -> None:
        await ctx.send("b", 2)
        await ctx.recv("a")

    with anyio.fail_after(5):  # a hang guard: detection is prompt
        with pytest.raises(DeadlockError) as info:
            await PAR(left.with_channels(a=a, b=b), right.with_channels(a=a, b=b)).run()
    assert info.value.cycle == ("left", "right", "left")
    assert "left waits to send on a -> right waits to send on b -> left" in str(info.value)


async def test_a_helper_that_finished_leaves_a_real_deadlock_detected() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")

    async def helper() -> None:
        await anyio.sleep(0)

    @Process
    async def left(ctx: ProcessContext) -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(helper)
        await ctx.send("a", 1)
        await ctx.recv("b")

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError, match="cycle: "):
            await PAR(left.with_channels(a=a, b=b), right.with_channels(a=a, b=b)).run()


# The park path looks at the watcher only when no other process is known to be
# awake (a process's witness): a deadlock must still be found after many parks
# that did not look, after the witness finished, and with two tasks of one
# process parked at once.


async def test_a_deadlock_after_a_long_exchange_is_still_found() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")

    @Process
    async def ping(ctx: ProcessContext) -> None:
        for i in range(200):  # every operation of one side parks
            await ctx.send("a", i)
            await ctx.recv("b")
        await ctx.send("a", -1)
        await ctx.recv("b")

    @Process
    async def pong(ctx: ProcessContext) -> None:
        for _ in range(200):
            await ctx.send("b", await ctx.recv("a"))
        await ctx.send("b", -1)  # both send: nothing can move
        await ctx.recv("a")

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError) as info:
            await PAR(ping.with_channels(a=a, b=b), pong.with_channels(a=a, b=b)).run()
    assert info.value.cycle == ("ping", "pong", "ping")


async def test_a_deadlock_left_when_a_third_process_finished_is_found() -> None:
    a, b, x = Chan(int, name="a"), Chan(int, name="b"), Chan(int, name="x")

    @Process
    async def feeder(ctx: ProcessContext) -> None:
        for i in range(50):
            await ctx.send("x", i)

    @Process
    async def left(ctx: ProcessContext) -> None:
        for _ in range(50):
            await ctx.recv("x")
        await ctx.send("a", 1)
        await ctx.recv("b")

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError) as info:
            await PAR(
                feeder.with_channels(x=x),
                left.with_channels(a=a, b=b, x=x),
                right.with_channels(a=a, b=b),
            ).run()
    assert info.value.cycle == ("left", "right", "left")


async def test_two_tasks_of_one_process_parked_at_once_are_both_in_the_deadlock() -> None:
    a, b, c = Chan(int, name="a"), Chan(int, name="b"), Chan(int, name="c")

    async def send(ctx: ProcessContext, name: str) -> None:
        await ctx.send(name, 1)

    @Process
    async def two(ctx: ProcessContext) -> None:
        async with anyio.create_task_group() as tg:  # both tasks park: a and c
            tg.start_soon(send, ctx, "a")
            tg.start_soon(send, ctx, "c")

    @Process
    async def one(ctx: ProcessContext) -> None:
        await ctx.recv("b")  # nobody sends on b, which two holds

    with anyio.fail_after(5):
        with pytest.raises(DeadlockError) as info:
            await PAR(two.with_channels(a=a, b=b, c=c), one.with_channels(a=a, b=b, c=c)).run()
    assert set(info.value.waits) == {
        Waiting("two", "send", ("a",)),
        Waiting("two", "send", ("c",)),
        Waiting("one", "recv", ("b",)),
    }


async def test_par_for_takes_detect_deadlock_false() -> None:
    """A pool fed from outside: with detection on its waiting replicas are
    watched (``blocked()`` lists them); ``PAR_FOR(..., detect_deadlock=False)``
    runs them with no watcher at all."""
    jobs = Chan(int, name="jobs")
    got: list[int] = []

    async def worker(i: int, ctx: ProcessContext) -> None:
        got.append(await jobs.recv())

    async def run(detect: bool) -> list[Waiting]:
        async with anyio.create_task_group() as tg:
            tg.start_soon(PAR_FOR(2, worker, detect_deadlock=detect).run)
            await anyio.wait_all_tasks_blocked()
            seen = blocked()
            for i in range(2):
                await jobs.send(i)
        return seen

    with anyio.fail_after(10):
        assert [w.channels for w in await run(True)] == [("jobs",), ("jobs",)]
        assert await run(False) == []
    assert sorted(got) == [0, 0, 1, 1]
    assert "detect_deadlock=False" in repr(PAR_FOR(2, worker, detect_deadlock=False))
    with pytest.raises(TypeError, match="PAR_FOR: detect_deadlock must be a bool"):
        PAR_FOR(2, worker, detect_deadlock="no")  # type: ignore[arg-type]
