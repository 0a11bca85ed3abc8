"""Buffered channels, ``Chan(T, capacity=n)``, on both backends: FIFO, a send
completes into the buffer while there is room and waits while it is full,
close lets receivers drain, ALT guards see the buffer, and exactly-once holds
under cancellation."""

from __future__ import annotations

import anyio
import pytest

from stbass import ALT, PRI_ALT, SKIP, Chan, ChannelClosedError, Guard

pytestmark = pytest.mark.anyio


async def test_send_returns_once_the_value_is_buffered_and_recv_is_fifo() -> None:
    ch = Chan(int, name="b", capacity=3)
    with anyio.fail_after(10):
        for i in range(3):
            await ch.send(i)  # no receiver: the buffer takes them
        assert ch.statistics().buffered == 3
        assert [await ch.recv() for _ in range(3)] == [0, 1, 2]


async def test_send_waits_while_the_buffer_is_full_and_is_pulled_in_by_a_recv() -> None:
    ch = Chan(int, name="b", capacity=1)
    done: list[int] = []

    async def send(v: int) -> None:
        await ch.send(v)
        done.append(v)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await ch.send(0)
            tg.start_soon(send, 1)
            await anyio.wait_all_tasks_blocked()
            assert done == [] and ch.statistics().waiting_senders == 1
            assert await ch.recv() == 0
            await anyio.wait_all_tasks_blocked()
            assert done == [1]  # its value moved into the room the recv made
            assert ch.statistics().buffered == 1
            assert await ch.recv() == 1


async def test_close_lets_receivers_drain_then_raises() -> None:
    ch = Chan(int, name="b", capacity=4)
    for i in range(2):
        ch.send_nowait(i)
    ch.close()
    with pytest.raises(ChannelClosedError):
        await ch.send(9)
    assert [v async for v in ch] == [0, 1]
    with pytest.raises(ChannelClosedError, match="'b'"):
        await ch.recv()


async def test_senders_waiting_on_a_full_buffer_fail_when_it_closes() -> None:
    ch = Chan(int, name="b", capacity=1)
    errors: list[BaseException] = []

    async def send(v: int) -> None:
        try:
            await ch.send(v)
        except ChannelClosedError as exc:
            errors.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            ch.send_nowait(0)
            tg.start_soon(send, 1)
            await anyio.wait_all_tasks_blocked()
            ch.close()
    assert len(errors) == 1
    assert [v async for v in ch] == [0]  # the failed send's value was not delivered


async def test_alt_input_guard_is_ready_when_the_buffer_holds_a_value() -> None:
    ch = Chan(int, name="b", capacity=2)
    assert await PRI_ALT(Guard(ch), SKIP) is None
    ch.send_nowait(5)
    assert await PRI_ALT(Guard(ch), SKIP) == 5


async def test_alt_output_guard_is_ready_while_there_is_room() -> None:
    ch = Chan(int, name="b", capacity=1)
    assert await PRI_ALT(Guard.send(ch, 1, handler=lambda v: "sent"), SKIP) == "sent"
    assert await PRI_ALT(Guard.send(ch, 2, handler=lambda v: "sent"), SKIP) is None  # full
    assert ch.recv_nowait() == 1


async def test_a_waiting_alt_output_guard_is_pulled_in_when_room_appears() -> None:
    ch = Chan(int, name="b", capacity=1)
    ch.send_nowait(0)
    got: list[object] = []

    async def alt() -> None:
        got.append(await ALT(Guard.send(ch, 1, handler=lambda v: f"sent {v}")))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(alt)
            await anyio.wait_all_tasks_blocked()
            assert await ch.recv() == 0
    assert got == ["sent 1"]
    assert ch.recv_nowait() == 1


async def test_cancelled_buffered_sends_put_nothing_in_and_lose_nothing() -> None:
    ch = Chan(int, name="b", capacity=2)
    reported: list[int] = []

    async def sender() -> None:
        for i in range(200):
            attempt = 0
            while True:
                attempt += 1
                with anyio.CancelScope() as scope:
                    if i % 3 == 0 and attempt == 1:
                        scope.cancel()
                    await ch.send(i)
                    reported.append(i)
                if not scope.cancelled_caught:
                    break

    got: list[int] = []
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(sender)
            attempts = 0
            while len(got) < 200:
                attempts += 1
                with anyio.CancelScope() as scope:
                    if attempts % 5 == 0:
                        scope.cancel()
                    got.append(await ch.recv())
    assert got == reported == list(range(200))


def test_repr_and_statistics_show_the_capacity() -> None:
    ch = Chan(int, name="b", capacity=8)
    assert repr(ch) == "Chan(int, name='b', capacity=8)"
    stats = ch.statistics()
    assert (stats.capacity, stats.buffered) == (8, 0)
