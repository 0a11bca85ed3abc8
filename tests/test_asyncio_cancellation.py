"""asyncio's own cancellation tools keep the rendezvous guarantees (SPEC §4.8).

``Task.cancel()``, ``asyncio.wait_for``, ``asyncio.timeout`` and
``asyncio.TaskGroup`` race against channel operations here, thousands of times
with randomised timing. Whatever wins each race: a value whose ``send``
returned is returned by exactly one receive, in order; a send that raised was
received by nobody (senders retry, so a wrong failure shows up as a duplicate);
no ``CancelledError`` fires after the scope that requested it has exited; and no
cancellation is swallowed. These tools exist on asyncio only, so these tests
run there; the same races with anyio's cancel scopes run on both backends in
tests/test_stress.py and tests/test_checkpoints.py.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import anyio
import pytest

from stbass import ALT, PRI_ALT, SKIP, Chan, ChannelClosedError, Guard

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("anyio_backend", [pytest.param(("asyncio", {}), id="asyncio")]),
]

ROUNDS = 400

#: the races below also run on a buffered channel (``capacity=2``), where a send
#: that returned put its value in the buffer and one that raised put nothing there
CAPACITIES = pytest.mark.parametrize("capacity", [0, 2], ids=["rendezvous", "buffered"])


async def _sender(ch: Chan[int], n: int, sent: list[int]) -> None:
    for i in range(n):
        await ch.send(i)
        sent.append(i)


async def _jitter(rng: random.Random) -> None:
    for _ in range(rng.randrange(3)):
        await asyncio.sleep(0)


@CAPACITIES
async def test_wait_for_recv_loses_no_value(capacity: int) -> None:
    rng = random.Random(1)
    ch = Chan(int, name="wf-recv", capacity=capacity)
    sent: list[int] = []
    got: list[int] = []
    async with asyncio.timeout(60):
        task = asyncio.create_task(_sender(ch, ROUNDS, sent))
        while len(got) < ROUNDS:
            try:
                got.append(await asyncio.wait_for(ch.recv(), rng.choice([0, 1e-6, 1e-4])))
            except TimeoutError:
                pass
        await task
    assert got == list(range(ROUNDS)) == sent


@CAPACITIES
async def test_wait_for_send_that_times_out_was_not_received(capacity: int) -> None:
    rng = random.Random(2)
    ch = Chan(int, name="wf-send", capacity=capacity)
    got: list[int] = []
    timeouts = 0

    async def receiver() -> None:
        async for v in ch:
            got.append(v)
            await _jitter(rng)

    async with asyncio.timeout(60):
        recv_task = asyncio.create_task(receiver())
        for i in range(ROUNDS):
            while True:  # retry until the send is reported as done
                try:
                    await asyncio.wait_for(ch.send(i), rng.choice([0, 1e-6, 1e-4]))
                    break
                except TimeoutError:
                    timeouts += 1
        ch.close()
        await recv_task
    assert got == list(range(ROUNDS))  # a duplicate means a failed send was received
    assert timeouts > 0


@CAPACITIES
async def test_asyncio_timeout_around_recv_leaves_no_stray_cancellation(capacity: int) -> None:
    rng = random.Random(3)
    ch = Chan(int, name="to-recv", capacity=capacity)
    sent: list[int] = []
    got: list[int] = []
    async with asyncio.timeout(60):
        task = asyncio.create_task(_sender(ch, ROUNDS, sent))
        while len(got) < ROUNDS:
            try:
                async with asyncio.timeout(rng.choice([0, 1e-6, 1e-4])):
                    v = await ch.recv()
                got.append(v)
            except TimeoutError:
                pass
            # A CancelledError left behind by the block would fire here.
            await asyncio.sleep(0)
            await _jitter(rng)
        await task
    assert got == list(range(ROUNDS)) == sent


@CAPACITIES
async def test_task_cancel_on_a_receiving_task_loses_no_value(capacity: int) -> None:
    rng = random.Random(4)
    ch = Chan(int, name="tc-recv", capacity=capacity)
    sent: list[int] = []
    got: list[int] = []

    async def recv_one() -> int:
        return await ch.recv()

    async with asyncio.timeout(60):
        sender = asyncio.create_task(_sender(ch, ROUNDS, sent))
        cancelled = 0
        while len(got) < ROUNDS:
            t = asyncio.create_task(recv_one())
            await _jitter(rng)
            t.cancel()
            try:
                got.append(await t)
            except asyncio.CancelledError:
                cancelled += 1
        await sender
    assert got == list(range(ROUNDS)) == sent
    assert cancelled > 0


@CAPACITIES
async def test_task_cancel_on_a_sending_task_duplicates_nothing(capacity: int) -> None:
    rng = random.Random(5)
    ch = Chan(int, name="tc-send", capacity=capacity)
    got: list[int] = []

    async def receiver() -> None:
        async for v in ch:
            got.append(v)
            await _jitter(rng)

    async with asyncio.timeout(60):
        recv_task = asyncio.create_task(receiver())
        for i in range(ROUNDS):
            while True:
                t = asyncio.create_task(ch.send(i))
                await _jitter(rng)
                t.cancel()
                try:
                    await t
                    break
                except asyncio.CancelledError:
                    pass
        ch.close()
        await recv_task
    assert got == list(range(ROUNDS))


async def test_task_cancel_on_an_alt_loses_and_duplicates_nothing() -> None:
    rng = random.Random(6)
    chans = [Chan(int, name=f"alt{i}") for i in range(2)]
    got: list[int] = []
    sent: list[int] = []

    async def sender(k: int) -> None:
        for i in range(k, 2 * ROUNDS, 2):
            await chans[k].send(i)
            sent.append(i)

    async with asyncio.timeout(60):
        senders = [asyncio.create_task(sender(k)) for k in range(2)]
        while len(got) < 2 * ROUNDS:
            t = asyncio.create_task(ALT(*chans).select())
            await _jitter(rng)
            t.cancel()
            try:
                got.append(await t)
            except asyncio.CancelledError:
                pass
        await asyncio.gather(*senders)
    assert sorted(got) == list(range(2 * ROUNDS)) == sorted(sent)
    for k in range(2):  # per-channel order
        assert [v for v in got if v % 2 == k] == list(range(k, 2 * ROUNDS, 2))


async def test_taskgroup_cancelling_a_receiver_loses_no_value() -> None:
    rng = random.Random(7)
    ch = Chan(int, name="tg")
    sent: list[int] = []
    got: list[int] = []

    class Stop(Exception):
        pass

    async def receive_forever() -> None:
        while True:
            got.append(await ch.recv())

    async def fail_soon() -> None:
        await _jitter(rng)
        raise Stop

    async with asyncio.timeout(60):
        sender = asyncio.create_task(_sender(ch, ROUNDS, sent))
        while len(got) < ROUNDS:
            try:
                async with asyncio.TaskGroup() as tg:
                    tg.create_task(receive_forever())
                    tg.create_task(fail_soon())
            except* Stop:
                pass
        await sender
    assert got == list(range(ROUNDS)) == sent


async def test_task_cancel_is_not_swallowed_by_a_loop_of_operations() -> None:
    """A task receiving in a loop from a fast sender stops when cancelled,
    however often the cancellation lands just after a commit."""
    ch = Chan(int, name="loop")
    got: list[int] = []

    async def produce() -> None:
        i = 0
        while True:
            await ch.send(i)
            i += 1

    async def consume() -> None:
        while True:
            got.append(await ch.recv())

    async with asyncio.timeout(60):
        producer = asyncio.create_task(produce())
        for _ in range(50):
            consumer = asyncio.create_task(consume())
            for _ in range(random.Random(len(got)).randrange(1, 20)):
                await asyncio.sleep(0)
            consumer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await consumer
        producer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await producer
    assert got == list(range(len(got)))  # nothing lost in between


async def test_native_cancel_with_a_cancelled_anyio_scope_is_not_swallowed() -> None:
    """A native Task.cancel() that arrives while a recv completes inside an anyio
    scope that is also cancelled still stops the task."""
    ch = Chan(int, name="both")
    after_scope: list[str] = []
    scope_box: list[anyio.CancelScope] = []
    received: list[int] = []

    async def victim() -> None:
        with anyio.CancelScope() as scope:
            scope_box.append(scope)
            received.append(await ch.recv())
            await anyio.sleep_forever()
        after_scope.append("ran on")  # the native cancel must not be swallowed
        await anyio.sleep_forever()

    async with asyncio.timeout(60):
        t = asyncio.create_task(victim())
        while not ch.statistics().waiting_receivers:
            await asyncio.sleep(0)
        ch.send_nowait(1)  # commits the parked recv
        scope_box[0].cancel()
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
    assert received == [1]  # the value whose send returned was received
    assert after_scope == []


async def test_a_cancel_absorbed_after_a_commit_fires_at_the_next_operation() -> None:
    """A ready loop whose task is cancelled natively stops at the next operation."""
    ch = Chan(int, name="never")
    polls = 0

    async def poll() -> None:
        nonlocal polls
        while True:
            await PRI_ALT(Guard(ch), SKIP)
            polls += 1

    async with asyncio.timeout(60):
        t = asyncio.create_task(poll())
        for _ in range(10):
            await asyncio.sleep(0)
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
    assert polls > 0


async def test_wait_for_and_timeout_stop_a_loop_of_ready_operations() -> None:
    ch = Chan(int, name="never")

    async def poll_forever() -> None:
        while True:
            await PRI_ALT(Guard(ch), SKIP)

    async with asyncio.timeout(60):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(poll_forever(), 0.02)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await poll_forever()


async def test_alt_is_a_coroutine_for_asyncio_tools() -> None:
    ch = Chan(int, name="c")
    async with asyncio.timeout(60):
        t = asyncio.create_task(ALT(Guard(ch, handler=lambda v: v * 10)))
        await ch.send(4)
        assert await t == 40
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ALT(ch), 0.01)
        assert ch.statistics().waiting_receivers == 0  # the timed-out ALT withdrew

        async with anyio.create_task_group() as tg:
            tg.start_soon(ALT, ch)
            await ch.send(5)




async def test_a_task_that_cancelled_itself_sends_nothing() -> None:
    """``Task.cancel()`` of the running task, then a send that could complete at
    once: the send raises and the waiting receiver gets nothing."""
    ch = Chan(int, name="self")

    async def sender() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await ch.send(1)

    async with asyncio.timeout(60):
        receiver = asyncio.create_task(ch.recv())
        while not ch.statistics().waiting_receivers:
            await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.create_task(sender())
        assert ch.statistics().waiting_receivers == 1  # still waiting: nothing sent
        ch.send_nowait(2)
        assert await receiver == 2


async def test_a_native_cancel_during_a_completed_send_lands_at_the_next_one() -> None:
    """``Task.cancel()`` that reaches a sender at the schedule point after its
    send completed: that send returns, the next one raises and sends nothing,
    and the task ends cancelled."""
    ch = Chan(int, name="late")
    got: list[int] = []
    returned: list[int] = []
    tasks: list[asyncio.Task[Any]] = []

    async def receiver() -> None:
        got.append(await ch.recv())
        tasks[0].cancel()  # the sender has committed and not yet resumed
        with pytest.raises(ChannelClosedError):
            got.append(await ch.recv())

    async def sender() -> None:
        for i in (1, 2, 3):
            await ch.send(i)
            returned.append(i)

    async with asyncio.timeout(60):
        r = asyncio.create_task(receiver())
        while not ch.statistics().waiting_receivers:
            await asyncio.sleep(0)
        tasks.append(asyncio.create_task(sender()))
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
        ch.close()
        await r
    assert returned == [1]
    assert got == [1]
    assert tasks[0].cancelled()
