"""The commit/cancel race: an operation that was committed is kept, and the
cancellation that raced it fires at the next checkpoint (SPEC §4.2)."""

from __future__ import annotations

import anyio
import pytest

from stbass import ALT, Chan
from stbass._core import _park

pytestmark = pytest.mark.anyio


async def test_receiver_cancelled_right_after_commit_keeps_the_value() -> None:
    ch = Chan(int, name="race")
    got: list[int] = []
    scope = anyio.CancelScope()

    async def receiver() -> None:
        with scope:
            got.append(await ch.recv())
            await anyio.lowlevel.checkpoint()
            got.append(-1)  # never: the cancellation fires at the checkpoint

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await anyio.wait_all_tasks_blocked()
        await ch.send(1)  # commits to the parked receiver ...
        scope.cancel()  # ... which is cancelled before it resumes
    assert got == [1]
    assert scope.cancelled_caught


async def test_sender_cancelled_right_after_commit_reports_success() -> None:
    ch = Chan(int, name="race")
    sent: list[str] = []
    scope = anyio.CancelScope()

    async def sender() -> None:
        with scope:
            await ch.send(1)
            sent.append("returned")
            await anyio.lowlevel.checkpoint()
            sent.append("never")

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        assert await ch.recv() == 1
        scope.cancel()
    assert sent == ["returned"] and scope.cancelled_caught


async def test_alt_cancelled_right_after_commit_keeps_its_choice() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    got: list[int] = []
    scope = anyio.CancelScope()

    async def chooser() -> None:
        with scope:
            got.append(await ALT(a, b))
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(chooser)
        await anyio.wait_all_tasks_blocked()
        await b.send(2)
        scope.cancel()
    assert got == [2]
    assert a.statistics().waiting_receivers == 0 and b.statistics().waiting_receivers == 0


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_native_asyncio_cancel_after_commit_is_rearmed(anyio_backend: str) -> None:
    """asyncio only: a plain ``Task.cancel()`` (as asyncio.timeout uses) landing
    after the commit; trio cannot deliver a cancellation after ``reschedule``."""
    import asyncio

    ch = Chan(int, name="native")
    got: list[object] = []
    holder: list[asyncio.Task[None]] = []

    async def receiver() -> None:
        holder.append(asyncio.current_task())  # type: ignore[arg-type]
        got.append(await ch.recv())
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            got.append("cancelled at the next checkpoint")
            raise

    task = asyncio.ensure_future(receiver())
    await anyio.wait_all_tasks_blocked()
    await ch.send(5)
    holder[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert got == [5, "cancelled at the next checkpoint"]
    assert task.cancelling() == 1  # the count asyncio.timeout relies on is unchanged


async def test_immediate_send_cancelled_by_its_receiver_still_returns() -> None:
    """The send commits at once (the receiver was waiting), and the receiver cancels
    the sender's scope as soon as it has the value: the send has happened, so it
    returns, and the cancellation fires at the sender's next checkpoint."""
    ch = Chan(int, name="race")
    scope = anyio.CancelScope()
    events: list[str] = []

    async def receiver() -> None:
        assert await ch.recv() == 1
        scope.cancel()

    async def sender() -> None:
        with scope:
            await ch.send(1)
            events.append("send returned")
            await anyio.lowlevel.checkpoint()
            events.append("never")

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await anyio.wait_all_tasks_blocked()
        tg.start_soon(sender)
    assert events == ["send returned"]
    assert scope.cancelled_caught


def test_event_loops_in_two_threads_each_park_on_their_own_loop() -> None:
    """The asyncio park remembers the last running loop; a loop running in
    another thread at the same time, or a later loop in the same thread, must
    still get futures of its own (else a wake-up lands on the wrong loop)."""
    import threading

    from stbass import Chan

    async def pingpong(rounds: int) -> int:
        a, b = Chan(int, name="a"), Chan(int, name="b")

        async def echo() -> None:
            for _ in range(rounds):
                await b.send(await a.recv())

        total = 0
        async with anyio.create_task_group() as tg:
            tg.start_soon(echo)
            for i in range(rounds):
                await a.send(i)
                total += await b.recv()
        return total

    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(3):  # a new loop each time, in the same thread
                results.append(anyio.run(pingpong, 300, backend="asyncio"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert results == [sum(range(300))] * 6


def test_asyncio_uses_the_checked_operations_with_this_anyio() -> None:
    """With the anyio this project installs, asyncio checks for a pending
    cancellation synchronously before a commit and yields after it (one event
    loop turn per message); if an anyio release changes the task state this
    reads, stbass falls back to yielding first (correct, slower), and this test
    says so."""
    assert type(_park.ASYNCIO_OPS) is _park._AsyncioCheckedOps
    assert _park._anyio_task_states is not None
