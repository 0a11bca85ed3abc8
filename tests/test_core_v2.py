"""Core v2 behaviours that the first round got wrong (issue "Core v2"), on both
backends: ALT preconditions honoured at close and at commit, protocol positions
checked at delivery, validators that raise anything become ChannelTypeError,
0.1's handlers and dynamic preconditions, and pickling of public objects."""

from __future__ import annotations

import pickle

import anyio
import pydantic
import pytest

import stbass
from stbass import (
    ALT,
    PRI_ALT,
    SKIP,
    AllGuardsDisabledError,
    Chan,
    ChannelClosedError,
    ChannelProtocolError,
    ChannelTypeError,
    Guard,
    SequentialProtocol,
)

pytestmark = pytest.mark.anyio


async def test_closing_a_channel_whose_guard_is_disabled_does_not_end_the_alt() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    results: list[object] = []

    async def alt() -> None:
        results.append(await ALT(Guard(a, precondition=lambda: False), Guard(b)))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(alt)
            await anyio.wait_all_tasks_blocked()
            a.close()
            await anyio.wait_all_tasks_blocked()
            assert results == []  # still waiting on b
            await b.send(7)
    assert results == [7]


async def test_closing_a_channel_whose_guard_is_enabled_ends_the_alt() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:

            async def alt() -> None:
                with pytest.raises(ChannelClosedError, match="'a'"):
                    await ALT(Guard(a, precondition=lambda: True), Guard(b))

            tg.start_soon(alt)
            await anyio.wait_all_tasks_blocked()
            a.close()


async def test_a_callable_precondition_false_at_start_fires_later() -> None:
    ch = Chan(int, name="gate")
    flag = {"open": False}
    got: list[int] = []

    async def alt() -> None:
        got.append(await ALT(Guard(ch, precondition=lambda: flag["open"])))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(alt)
            await anyio.wait_all_tasks_blocked()
            assert ch.statistics().waiting_receivers == 1  # waiting, not raising
            with pytest.raises(anyio.WouldBlock):
                ch.send_nowait(1)  # disabled: a counterpart re-evaluates and is refused
            flag["open"] = True
            await ch.send(2)
    assert got == [2]


async def test_only_plain_false_preconditions_are_statically_disabled() -> None:
    with pytest.raises(AllGuardsDisabledError):
        await ALT(Guard(Chan(int), precondition=False), Guard(SKIP, precondition=False))


async def test_handlers_may_take_no_argument() -> None:
    assert await ALT(Guard(SKIP, handler=lambda: "skipped")) == "skipped"
    ch = Chan(int, name="h")
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 3)
        assert await PRI_ALT(Guard(ch, handler=lambda v: v + 1)) == 4


async def test_alt_can_be_started_as_a_task_function() -> None:
    ch = Chan(int, name="started")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ALT, ch)
            await ch.send(1)
    assert ch.statistics().messages == 1


async def test_an_alt_value_can_be_awaited_many_times() -> None:
    ch = Chan(int, name="again")
    alt = ALT(Guard(ch), SKIP)
    assert await alt is None
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 5)
        await anyio.wait_all_tasks_blocked()
        assert await alt == 5


async def test_two_waiting_senders_cannot_both_pass_one_protocol_position() -> None:
    ch: Chan[object] = Chan(SequentialProtocol(str, int), name="proto")
    errors: list[BaseException] = []

    async def send(value: object) -> None:
        try:
            await ch.send(value)
        except ChannelProtocolError as exc:
            errors.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(send, "first")
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(send, "second")  # checked again when delivered
            await anyio.wait_all_tasks_blocked()
            assert await ch.recv() == "first"
            tg.start_soon(send, 2)
            assert await ch.recv() == 2  # the str at position 2 was refused
    assert len(errors) == 1 and "value 2" in str(errors[0]) and "'proto'" in str(errors[0])


class Strict(pydantic.BaseModel):
    n: int

    @pydantic.field_validator("n")
    @classmethod
    def explode(cls, v: int) -> int:
        if v < 0:
            raise RuntimeError("negative is not allowed")
        return v


async def test_a_validator_raising_anything_is_a_channel_type_error_naming_the_channel() -> None:
    ch = Chan(Strict, name="strict")
    with pytest.raises(ChannelTypeError, match="'strict'.*negative is not allowed"):
        await ch.send({"n": -1})  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:  # the channel stays usable
        tg.start_soon(ch.send, {"n": 1})  # type: ignore[arg-type]
        assert (await ch.recv()).n == 1


def test_a_type_that_cannot_be_validated_names_the_channel() -> None:
    with pytest.raises(TypeError, match="'weird'"):
        Chan(5, name="weird")


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_a_bad_capacity_names_the_channel(bad: object) -> None:
    with pytest.raises((TypeError, ValueError), match="'buf'"):
        Chan(int, name="buf", capacity=bad)  # type: ignore[call-overload]


PUBLIC_MODULES = (
    "stbass", "stbass.channel", "stbass.alt", "stbass.process", "stbass.result",
    "stbass.timer", "stbass.replicator", "stbass.topology", "stbass.placement",
    "stbass.failure", "stbass.observe", "stbass.mcp", "stbass.testing",
)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_class_and_function_pickles_by_reference(module_name: str) -> None:
    import importlib

    module = importlib.import_module(module_name)
    for name in module.__all__:
        obj = getattr(module, name)
        if isinstance(obj, type) or callable(obj):
            assert pickle.loads(pickle.dumps(obj)) is obj, f"{module_name}.{name}"


def test_public_values_pickle() -> None:
    from stbass.failure import RepeatedFailure

    repeated = RepeatedFailure("worker", "TimeoutError", 3)
    assert pickle.loads(pickle.dumps(repeated)) == repeated
    assert pickle.loads(pickle.dumps(SKIP)) is SKIP
    err = ChannelClosedError("send on closed channel 'x'", channel="x")
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err)


def test_results_pickle() -> None:
    """A process's or composition's result can cross a process boundary."""
    from stbass import FailurePolicy, PAR, Process, ProcessResult

    ok = ProcessResult.ok({"n": 1})
    assert pickle.loads(pickle.dumps(ok)) == ok
    failed = ProcessResult.fail(ValueError("bad input"), process_name="parse")
    back = pickle.loads(pickle.dumps(failed))
    assert back.is_fail and back.failure.process_name == "parse"
    assert back.failure.error.args == ("bad input",)

    @Process
    async def one(ctx: object) -> int:
        return 1

    @Process
    async def bad(ctx: object) -> None:
        raise ValueError("boom")

    result = anyio.run(PAR(one, bad, on_failure=FailurePolicy.COLLECT).run)
    again = pickle.loads(pickle.dumps(result))
    assert again.value == [1, None] and again.failures[0].summary == result.failures[0].summary
