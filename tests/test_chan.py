"""Chan: typing, rendezvous, close, binding and cancellation (SPEC §3.3, §4)."""

from __future__ import annotations

import inspect
import sys
import threading
from typing import Literal

from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

import anyio
import pytest
from pydantic import BaseModel

from stbass import (
    Guard,
    Chan,
    ChannelClosedError,
    ChannelProtocolError,
    ChannelTopologyError,
    ChannelTypeError,
    SequentialProtocol,
    VariantProtocol,
)

pytestmark = pytest.mark.anyio

# A channel made at import time, before any event loop exists.
MODULE_CHAN: Chan[int] = Chan(int, name="module-level")


class Query(BaseModel):
    text: str
    limit: int = 10


class Point(TypedDict):
    x: int
    y: int


async def test_send_returns_only_after_the_receiver_has_the_value() -> None:
    ch = Chan(int, name="c")
    events: list[str] = []

    async def sender() -> None:
        await ch.send(1)
        events.append("send returned")

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await anyio.wait_all_tasks_blocked()
        assert events == []  # parked: nobody has received yet
        assert ch.statistics().waiting_senders == 1
        assert await ch.recv() == 1
        events.append("received")
    assert sorted(events) == ["received", "send returned"]
    assert ch.statistics().messages == 1


async def test_receiver_waits_for_a_sender() -> None:
    ch = Chan(str, name="c")
    got: list[str] = []

    async def receiver() -> None:
        got.append(await ch.recv())

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await anyio.wait_all_tasks_blocked()
        assert ch.statistics().waiting_receivers == 1
        await ch.send("hi")
    assert got == ["hi"]


async def test_module_level_channel_works_on_whichever_backend_runs() -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(MODULE_CHAN.send, 42)
        assert await MODULE_CHAN.recv() == 42


async def test_values_from_one_sender_arrive_in_order() -> None:
    ch = Chan(int, name="fifo")
    got: list[int] = []

    async def sender() -> None:
        for i in range(200):
            await ch.send(i)
        ch.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(sender)
        async for v in ch:
            got.append(v)
    assert got == list(range(200))


async def test_wrong_type_raises_in_sender_before_rendezvous_and_channel_stays_usable() -> None:
    ch = Chan(int, name="numbers")
    with pytest.raises(ChannelTypeError) as info:
        await ch.send("5")  # type: ignore[arg-type]
    message = str(info.value)
    assert "'numbers'" in message and "int" in message and "str" in message
    assert ch.statistics().waiting_senders == 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 5)
        assert await ch.recv() == 5


async def test_pydantic_model_channel_coerces_dicts() -> None:
    ch = Chan(Query, name="queries")
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, {"text": "llm"})
        got = await ch.recv()
    assert isinstance(got, Query) and got.text == "llm" and got.limit == 10
    with pytest.raises(ChannelTypeError, match="queries"):
        await ch.send({"limit": 3})  # text missing
    with pytest.raises(ChannelTypeError, match="queries"):
        await ch.send("text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        (list[int], [1, 2], [1, "2"]),
        (int | str, "x", 1.5),
        (Literal["a", "b"], "a", "c"),
        (Point, {"x": 1, "y": 2}, {"x": 1}),
        (int, 5, "5"),
    ],
    ids=["list-int", "union", "literal", "typeddict", "strict-int"],
)
async def test_any_pydantic_type_is_validated_strictly(spec: object, good: object, bad: object) -> None:
    ch: Chan[object] = Chan(spec, name="typed")
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, good)
        assert await ch.recv() == good
    with pytest.raises(ChannelTypeError, match="'typed'"):
        await ch.send(bad)


async def test_generic_form_sets_the_type() -> None:
    ch = Chan[int]("ints")
    assert ch.name == "ints" and ch.type_spec is int
    with pytest.raises(ChannelTypeError, match="'ints'"):
        await ch.send("no")  # type: ignore[arg-type]
    assert repr(ch) == "Chan(int, name='ints')"


async def test_channel_without_a_type_says_how_to_give_one() -> None:
    ch: Chan[object] = Chan("untyped")
    with pytest.raises(ChannelTypeError, match="has no type"):
        await ch.send(1)


async def test_sequential_protocol_enforces_order_and_end() -> None:
    ch: Chan[object] = Chan(SequentialProtocol(str, int), name="proto")
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.recv)
        with pytest.raises(ChannelProtocolError, match="value 1"):
            await ch.send(3)
        await ch.send("name")
        tg.start_soon(ch.recv)
        await ch.send(3)
    with pytest.raises(ChannelProtocolError, match="ended"):
        await ch.send("more")


async def test_cancelled_protocol_send_does_not_advance_the_protocol() -> None:
    ch: Chan[object] = Chan(SequentialProtocol(str, int), name="proto")
    with anyio.move_on_after(0):
        await ch.send("first")
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.recv)
        await ch.send("first again")


async def test_variant_protocol_accepts_any_listed_type() -> None:
    ch: Chan[object] = Chan(VariantProtocol(int, str), name="var")
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 1)
        tg.start_soon(ch.send, "a")
        got = {await ch.recv(), await ch.recv()}
    assert got == {1, "a"}
    with pytest.raises(ChannelTypeError, match="'var'"):
        await ch.send(1.5)


async def test_close_wakes_every_waiting_sender_and_receiver() -> None:
    senders = Chan(int, name="s")
    receivers = Chan(int, name="r")
    errors: list[str] = []

    async def send() -> None:
        try:
            await senders.send(1)
        except ChannelClosedError as exc:
            errors.append(f"send:{exc.channel}")

    async def recv() -> None:
        try:
            await receivers.recv()
        except ChannelClosedError as exc:
            errors.append(f"recv:{exc.channel}")

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(send)
            tg.start_soon(recv)
        await anyio.wait_all_tasks_blocked()
        senders.close()
        receivers.close()
        senders.close()  # idempotent
    assert sorted(errors) == ["recv:r"] * 3 + ["send:s"] * 3
    with pytest.raises(ChannelClosedError, match="'s'"):
        await senders.send(1)
    with pytest.raises(ChannelClosedError, match="'r'"):
        await receivers.recv()
    assert senders.closed and senders.statistics().waiting_senders == 0


async def test_closed_channel_error_is_an_anyio_closed_resource_error() -> None:
    ch = Chan(int, name="c")
    ch.close()
    with pytest.raises(anyio.ClosedResourceError):
        await ch.recv()


async def test_async_for_ends_when_closed() -> None:
    ch = Chan(int, name="c")
    got: list[int] = []

    async def consume() -> None:
        async for v in ch:
            got.append(v)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        for i in range(3):
            await ch.send(i)
        ch.close()
    assert got == [0, 1, 2]


async def test_cancelled_parked_sender_delivers_nothing() -> None:
    ch = Chan(int, name="c")
    with anyio.move_on_after(0) as scope:
        await ch.send(1)
    assert scope.cancelled_caught
    assert ch.statistics().waiting_senders == 0
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 2)
        assert await ch.recv() == 2  # not 1: the cancelled send left nothing behind


async def test_cancelled_parked_receiver_takes_nothing() -> None:
    ch = Chan(int, name="c")
    got: list[int] = []

    async def receive_once() -> None:
        got.append(await ch.recv())

    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as inner:
                inner.start_soon(receive_once)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
        assert ch.statistics().waiting_receivers == 0
        tg.start_soon(receive_once)
        await ch.send(7)
    assert got == [7]


async def test_nowait_variants() -> None:
    ch = Chan(int, name="c")
    with pytest.raises(anyio.WouldBlock):
        ch.send_nowait(1)
    with pytest.raises(anyio.WouldBlock):
        ch.recv_nowait()
    got: list[int] = []

    async def receiver() -> None:
        got.append(await ch.recv())

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await anyio.wait_all_tasks_blocked()
        ch.send_nowait(3)
        tg.start_soon(ch.send, 4)
        await anyio.wait_all_tasks_blocked()
        assert ch.recv_nowait() == 4
    assert got == [3]


async def test_binding_allows_one_writer_and_one_reader() -> None:
    ch = Chan(int, name="wires")
    ch.bind_writer("a")
    ch.bind_writer("a")  # the same writer again is fine
    with pytest.raises(ChannelTopologyError, match="'wires'.*'a'"):
        ch.bind_writer("b")
    assert ch.writer_attached and not ch.reader_attached and not ch.is_bound
    ch.bind_reader("r")
    assert ch.is_bound
    with pytest.raises(ChannelTopologyError):
        ch.bind_reader("s")
    ch.unbind_writer()
    ch.unbind_reader()
    ch.bind_writer("b")
    assert ch.writer == "b"


def test_constructor_errors_name_the_problem() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        Chan(int, name=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must not be a string"):
        Chan("int", name="x")
    with pytest.raises(ValueError):
        SequentialProtocol()


def test_channel_can_be_created_in_another_thread_without_a_loop() -> None:
    made: list[Chan[int]] = []
    t = threading.Thread(target=lambda: made.append(Chan(int, name="t")))
    t.start()
    t.join()
    assert made[0].name == "t"


async def test_send_and_recv_are_awaitables_with_the_0_1_results() -> None:
    """send/recv return their coroutine directly (one frame per operation);
    what ``await`` gives, and when a bad value raises, are unchanged."""
    ch = Chan(int, name="numbers")
    pending = ch.send("seven")  # nothing runs until awaited: no error yet
    with pytest.raises(ChannelTypeError, match="channel 'numbers' expects int"):
        await pending
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 7)  # a coroutine-returning callable works with start_soon
        assert await ch.recv() == 7
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.recv)
        assert await ch.send(8) is None


def test_channel_methods_still_count_as_coroutine_functions() -> None:
    ch = Chan(int, name="out")
    with pytest.raises(TypeError, match="handler 'send' is a coroutine function"):
        Guard(Chan(int, name="in"), handler=ch.send)
    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(ch.send)
        assert inspect.iscoroutinefunction(ch.recv)
