"""SEQ and PAR: value passing, HALT/COLLECT, deadlines, structure (SPEC §3.4, §4)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from testing_backends import TIMER_BACKENDS
from stbass import (
    PAR,
    SEQ,
    Chan,
    FailurePolicy,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
)

pytestmark = pytest.mark.anyio


def const(value: Any, name: str = "const") -> Process:
    async def body(ctx: ProcessContext) -> ProcessResult[Any]:
        return ProcessResult.ok(value)

    return Process(body, name=name)


def add(n: int) -> Process:
    async def body(ctx: ProcessContext) -> ProcessResult[int]:
        value = await ctx.recv("input")
        return ProcessResult.ok(value + n)

    return Process(body, name=f"add{n}")


def boom(message: str = "boom", name: str = "boom") -> Process:
    async def body(ctx: ProcessContext) -> ProcessResult[Any]:
        raise ValueError(message)

    return Process(body, name=name)


def forever(started: list[str] | None = None, name: str = "forever") -> Process:
    async def body(ctx: ProcessContext) -> ProcessResult[Any]:
        if started is not None:
            started.append(name)
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    return Process(body, name=name)


def task_count() -> int:
    return len(anyio.get_running_tasks())


# ----------------------------------------------------------------------- SEQ


async def test_seq_passes_each_stage_value_to_the_next() -> None:
    result = await SEQ(add(1), add(10), add(100)).run(input_value=0)
    assert result.is_ok and result.value == 111
    assert [r.value for r in result.results] == [1, 11, 111]


async def test_seq_output_channel_wins_over_the_result_value() -> None:
    @Process
    async def emits(ctx: ProcessContext) -> ProcessResult[str]:
        await ctx.send("output", "from channel")
        return ProcessResult.ok("from result")

    result = await SEQ(emits, add_suffix()).run()
    assert result.value == "from channel!"


def add_suffix() -> Process:
    async def body(ctx: ProcessContext) -> ProcessResult[str]:
        return ProcessResult.ok(await ctx.recv("input") + "!")

    return Process(body, name="suffix")


async def test_stage_that_ignores_input_and_output_neither_hangs_nor_leaks() -> None:
    before = task_count()
    with anyio.fail_after(10):
        result = await SEQ(const(1), const(2), const(3)).run(input_value="unused")
    assert result.value == 3
    assert task_count() == before


async def test_empty_seq_is_the_identity() -> None:
    result = await SEQ().run(input_value=42)
    assert result.is_ok and result.value == 42 and result.results == []


async def test_seq_halt_stops_at_the_first_failure() -> None:
    ran: list[str] = []

    @Process
    async def later(ctx: ProcessContext) -> ProcessResult[None]:
        ran.append("later")
        return ProcessResult.ok()

    result = await SEQ(const(1), boom(), later).run()
    assert not result.is_ok
    assert len(result.results) == 2 and ran == []
    assert result.failures[0].summary == "[boom] ValueError: boom"


async def test_seq_collect_runs_later_stages_with_none() -> None:
    seen: list[Any] = []

    @Process
    async def later(ctx: ProcessContext) -> ProcessResult[str]:
        seen.append(await ctx.recv("input"))
        return ProcessResult.ok("done")

    result = await SEQ(const(1), boom(), later, on_failure=FailurePolicy.COLLECT).run()
    assert not result.is_ok and seen == [None]
    assert len(result.results) == 3 and len(result.failures) == 1


async def test_optional_stage_failure_does_not_stop_the_seq() -> None:
    result = await SEQ(const(1), boom().optional(), const(3)).run()
    assert result.is_ok and result.value == 3 and len(result.failures) == 1


async def test_seq_nests_and_composes_with_par() -> None:
    inner = SEQ(add(1), add(1))
    result = await SEQ(add(1), inner, add(1)).run(input_value=0)
    assert result.value == 4
    par_then = await SEQ(PAR(const("a"), const("b")), add_suffix_list()).run()
    assert par_then.value == ["a", "b", "!"]


def add_suffix_list() -> Process:
    async def body(ctx: ProcessContext) -> ProcessResult[list[str]]:
        return ProcessResult.ok([*await ctx.recv("input"), "!"])

    return Process(body, name="suffix-list")


async def test_seq_async_with_runs_on_exit() -> None:
    async with SEQ(const(1)) as seq:
        seq.add(add(1))
    assert seq.result is not None and seq.result.value == 2


async def test_a_seq_value_runs_many_times() -> None:
    seq = SEQ(add(1), add(2))
    assert [(await seq.run(i)).value for i in range(3)] == [3, 4, 5]


# ----------------------------------------------------------------------- PAR


async def test_par_results_are_in_declaration_order() -> None:
    result = await PAR(const("a"), const("b"), const("c")).run()
    assert result.is_ok
    assert result.value == ["a", "b", "c"]
    assert [r.value for r in result.successes] == ["a", "b", "c"]


async def test_par_of_nothing_succeeds() -> None:
    result = await PAR().run()
    assert result.is_ok and result.results == [] and result.value == []


async def test_par_halt_cancels_siblings_and_records_them() -> None:
    started: list[str] = []
    before = task_count()
    with anyio.fail_after(10):
        result = await PAR(forever(started, "a"), boom(), forever(started, "b")).run()
    assert not result.is_ok
    assert sorted(started) == ["a", "b"]
    errors = [r.failure.error for r in result.results]
    assert isinstance(errors[1], ValueError)
    for i in (0, 2):
        err = errors[i]
        assert isinstance(err, ProcessCancelledError) and err.reason == "halt"
        assert "HALT" in str(err) and "'boom'" in str(err)
    assert task_count() == before


async def test_par_collect_lets_everyone_finish() -> None:
    result = await PAR(const(1), boom(), const(3), on_failure=FailurePolicy.COLLECT).run()
    assert not result.is_ok
    assert [r.is_ok for r in result.results] == [True, False, True]
    assert result.value == [1, None, 3]


async def test_optional_failure_does_not_halt_par() -> None:
    result = await PAR(const(1), boom().optional(), const(3)).run()
    assert result.is_ok and len(result.failures) == 1


async def test_cancellation_from_outside_propagates_and_leaves_no_task() -> None:
    before = task_count()
    started: list[str] = []
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as tg:

            async def run_par() -> None:
                await PAR(forever(started, "x"), forever(started, "y")).run()
                raise AssertionError("PAR.run must not return when cancelled from outside")

            tg.start_soon(run_par)
            await anyio.wait_all_tasks_blocked()
            scope.cancel()
    assert scope.cancelled_caught and sorted(started) == ["x", "y"]
    assert task_count() == before


async def test_channels_bound_with_with_channels_are_visible() -> None:
    ch = Chan(int, name="shared")
    seen: list[list[str]] = []

    @Process
    async def writer(ctx: ProcessContext) -> ProcessResult[None]:
        seen.append(sorted(ctx.channels))
        await ctx.send("link", 1)
        return ProcessResult.ok()

    @Process
    async def reader(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(await ctx.recv("link"))

    result = await PAR(writer.with_channels(link=ch), reader.with_channels(link=ch)).run()
    assert result.value == [None, 1] and seen == [["link"]]


async def test_second_writer_process_gets_a_topology_error() -> None:
    ch = Chan(int, name="one-writer")

    @Process
    async def writer(ctx: ProcessContext) -> ProcessResult[None]:
        await ctx.send("out", 1)
        return ProcessResult.ok()

    @Process
    async def reader(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(await ctx.recv("out"))

    a = writer.with_channels(out=ch).with_name("w1")
    b = writer.with_channels(out=ch).with_name("w2")
    result = await PAR(a, b, reader.with_channels(out=ch), on_failure=FailurePolicy.COLLECT).run()
    failed = [r.failure for r in result.results if r.is_fail]
    assert len(failed) == 1
    assert type(failed[0].error).__name__ == "ChannelTopologyError"
    assert "one-writer" in str(failed[0].error)
    # the channel stays usable and unbound afterwards
    assert not ch.writer_attached and not ch.reader_attached


def test_constructors_reject_bad_arguments() -> None:
    async def not_a_process(ctx: ProcessContext) -> None:
        return None

    with pytest.raises(TypeError, match=r"PAR: argument 1 must be a Process.*@Process"):
        PAR(const(1), not_a_process)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="SEQ: argument 0"):
        SEQ("stage")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="deadline must be a number"):
        PAR(const(1), deadline="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        PAR(const(1), deadline=-1)
    with pytest.raises(TypeError, match="on_failure"):
        PAR(const(1), on_failure="halt")  # type: ignore[arg-type]


def test_composition_reprs() -> None:
    assert repr(PAR(const(1, "a"), SEQ(const(2, "b")), deadline=2.0)) == (
        "PAR(body.with_name('a'), SEQ(body.with_name('b')), deadline=2.0)"
    )


class TestDeadlines:
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    async def test_deadline_cancels_what_is_still_running(self, anyio_backend: object) -> None:
        @Process
        async def quick(ctx: ProcessContext) -> ProcessResult[str]:
            return ProcessResult.ok("quick")

        start = anyio.current_time()
        result = await PAR(quick, forever(name="slow"), deadline=0.2).run()
        assert anyio.current_time() - start >= 0.2 - 1e-6
        assert result.results[0].value == "quick"
        err = result.results[1].failure.error
        assert isinstance(err, ProcessCancelledError) and err.reason == "deadline"
        assert "deadline" in str(err)

    async def test_children_see_the_deadline(self, anyio_backend: object) -> None:
        seen: list[float | None] = []

        @Process
        async def look(ctx: ProcessContext) -> ProcessResult[None]:
            seen.append(ctx.deadline)
            return ProcessResult.ok()

        start = anyio.current_time()
        await PAR(look, deadline=5).run()
        assert seen[0] is not None and seen[0] >= start + 5 - 1e-6


async def test_halt_reports_the_failure_that_caused_it_first() -> None:
    """The sibling that HALT cancelled is not the failure a user should see."""
    result = await PAR(forever(name="slow"), boom("root cause")).run()
    assert result.failures[0].summary == "[boom] ValueError: root cause"
    assert result.cause is result.failures[0]
    nested = await SEQ(PAR(forever(name="slow"), boom("root cause"))).run()
    assert nested.failures[0].summary == "[boom] ValueError: root cause"
    assert isinstance(nested.as_process_result().failure.error, ValueError)
