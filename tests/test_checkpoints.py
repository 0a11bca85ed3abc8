"""The checkpoint rules (docs/design.md), on both backends: every channel
operation, ALT and composition run is a checkpoint; a cancellation pending when
one starts lands there, even when it could complete at once, and nothing was
sent or taken; a loop of always-ready operations never outruns a deadline, a
HALT or an outer cancel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from stbass import (
    IF,
    QUORUM,
    RACE,
    WHILE,
    PAR,
    PAR_FOR,
    PRI_ALT,
    SEQ,
    SEQ_FOR,
    SKIP,
    Chan,
    Guard,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
)

pytestmark = pytest.mark.anyio


async def _loop_until_cancelled_at(
    op: Callable[[int], Awaitable[Any]], cancel_at: int = 10, limit: int = 1000
) -> tuple[int, bool]:
    """Run *op* in a loop; cancel the enclosing scope from inside before
    operation number *cancel_at*. Returns (operations completed, cancelled_caught)."""
    done = 0
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            for i in range(limit):
                if i == cancel_at:
                    scope.cancel()
                await op(i)
                done += 1
    return done, scope.cancelled_caught


async def test_a_ready_pri_alt_with_skip_is_a_cancellation_point() -> None:
    ch = Chan(int, name="never")
    done, caught = await _loop_until_cancelled_at(lambda i: PRI_ALT(Guard(ch), SKIP))
    assert (done, caught) == (10, True)


async def test_a_send_into_a_buffer_with_room_is_a_cancellation_point() -> None:
    ch = Chan(int, name="buf", capacity=1000)
    done, caught = await _loop_until_cancelled_at(ch.send)
    assert (done, caught) == (10, True)
    assert ch.statistics().buffered == 10  # the cancelled send put nothing in


async def test_a_ready_recv_is_a_cancellation_point_and_takes_nothing() -> None:
    ch = Chan(int, name="full", capacity=100)
    for i in range(100):
        ch.send_nowait(i)
    got: list[int] = []

    async def take(_: int) -> None:
        got.append(await ch.recv())

    done, caught = await _loop_until_cancelled_at(take)
    assert (done, caught) == (10, True)
    assert got == list(range(10))
    assert ch.statistics().buffered == 90


async def test_a_recv_from_a_waiting_sender_is_a_cancellation_point() -> None:
    ch = Chan(int, name="rv")
    got: list[int] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(ch.send, i)
            await anyio.wait_all_tasks_blocked()

            async def take(_: int) -> None:
                got.append(await ch.recv())

            done, caught = await _loop_until_cancelled_at(take, cancel_at=5)
            assert (done, caught) == (5, True)
            assert ch.statistics().waiting_senders == 15  # nobody lost a value
            for _ in range(15):
                got.append(await ch.recv())
    assert sorted(got) == list(range(20))


async def test_a_send_to_a_waiting_receiver_is_a_cancellation_point() -> None:
    ch = Chan(int, name="sv")
    got: list[int] = []

    async def receiver() -> None:
        async for v in ch:
            got.append(v)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(receiver)
            await anyio.wait_all_tasks_blocked()

            async def give(i: int) -> None:
                await ch.send(i)
                await anyio.wait_all_tasks_blocked()  # the receiver waits again

            done, caught = await _loop_until_cancelled_at(give, cancel_at=7)
            ch.close()
    assert (done, caught) == (7, True)
    assert got == list(range(7))


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: SEQ(), id="SEQ()"),
        pytest.param(lambda: PAR(), id="PAR()"),
        pytest.param(lambda: PAR_FOR(0, _noop_factory), id="PAR_FOR(0)"),
        pytest.param(lambda: SEQ_FOR(0, _noop_factory), id="SEQ_FOR(0)"),
        pytest.param(lambda: RACE(never_awaits), id="RACE"),
        pytest.param(lambda: QUORUM(1, never_awaits), id="QUORUM"),
        pytest.param(lambda: IF((True, never_awaits)), id="IF"),
        pytest.param(lambda: WHILE(lambda v: False, never_awaits), id="WHILE"),
    ],
)
async def test_an_empty_composition_run_in_a_cancelled_scope_is_cancelled(
    make: Callable[[], Any],
) -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        await make().run()
        pytest.fail("the run completed inside a cancelled scope")
    assert scope.cancelled_caught


async def _noop_factory(index: int, ctx: ProcessContext) -> ProcessResult[Any]:
    return ProcessResult.ok(index)


@Process
async def never_awaits(ctx: ProcessContext) -> int:
    return 1


async def test_a_par_whose_child_never_awaits_is_still_a_cancellation_point() -> None:
    with anyio.CancelScope() as scope:
        scope.cancel()
        await PAR(never_awaits).run()
        pytest.fail("the run completed inside a cancelled scope")
    assert scope.cancelled_caught


async def test_empty_compositions_in_a_loop_let_other_tasks_run() -> None:
    ran = 0

    async def other() -> None:
        nonlocal ran
        while True:
            ran += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(other)  # ready to run at our next schedule point
        before = ran
        for _ in range(200):
            await SEQ().run()
        assert ran > before
        tg.cancel_scope.cancel()


# ------------------------------------------------- fast pairs under deadlines


def _fast_pair() -> tuple[Process, Process, Chan[int]]:
    ch = Chan(int, name="fast")

    @Process
    async def producer(ctx: ProcessContext) -> None:
        i = 0
        while True:
            await ch.send(i)
            i += 1

    @Process
    async def consumer(ctx: ProcessContext) -> None:
        while True:
            await ch.recv()

    return producer, consumer, ch


async def test_a_deadline_stops_a_fast_producer_consumer_pair() -> None:
    producer, consumer, _ = _fast_pair()
    with anyio.fail_after(20):
        result = await PAR(producer, consumer, deadline=0.05).run()
    assert not result.is_ok
    reasons = [f.error.reason for f in result.failures if isinstance(f.error, ProcessCancelledError)]
    assert reasons == ["deadline", "deadline"]


async def test_halt_stops_a_fast_producer_consumer_pair() -> None:
    producer, consumer, ch = _fast_pair()
    seen = anyio.Event()

    @Process
    async def watcher(ctx: ProcessContext) -> None:
        with anyio.fail_after(10):
            while ch.statistics().messages < 1000:
                await anyio.lowlevel.checkpoint()
        seen.set()
        raise RuntimeError("enough")

    with anyio.fail_after(20):
        result = await PAR(producer, consumer, watcher).run()
    assert seen.is_set()
    # the failure that caused the HALT comes first, then the cancelled children
    assert [type(f.error).__name__ for f in result.failures] == [
        "RuntimeError",
        "ProcessCancelledError",
        "ProcessCancelledError",
    ]


async def test_an_outer_move_on_after_stops_a_loop_of_ready_alts() -> None:
    ch = Chan(int, name="never")
    polls = 0
    with anyio.fail_after(20):
        with anyio.move_on_after(0.05) as scope:
            while True:
                await PRI_ALT(Guard(ch), SKIP)
                polls += 1
    assert scope.cancelled_caught and polls > 0


async def test_a_cancellation_during_a_completed_send_lands_at_the_next_one() -> None:
    """A send that completed at once (its receiver was waiting) returns normally
    even when its scope is cancelled during the send's schedule point, here by
    the receiver it woke; the cancellation lands at the next send, which sends
    nothing. (Whichever of the two runs first after the hand-off.)"""
    ch = Chan(int, name="handoff")
    got: list[int] = []
    returned: list[int] = []
    scopes: list[anyio.CancelScope] = []

    async def receiver() -> None:
        got.append(await ch.recv())
        scopes[0].cancel()  # the sender has committed and not yet resumed
        async for v in ch:
            got.append(v)

    async def sender() -> None:
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            for i in (1, 2, 3):
                await ch.send(i)
                returned.append(i)
        assert scope.cancelled_caught
        ch.close()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(receiver)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(sender)
    assert returned == [1]
    assert got == [1]
