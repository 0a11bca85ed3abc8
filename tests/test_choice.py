"""IF, WHILE, RACE, HEDGE, QUORUM, and PAR's ``reduce=`` and stage input."""

from __future__ import annotations

import math
from typing import Any, cast

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import (
    HEDGE,
    IF,
    PAR,
    PAR_FOR,
    QUORUM,
    RACE,
    SEQ,
    WHILE,
    Chan,
    MaxIterationsError,
    NoBranchError,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
)

pytestmark = pytest.mark.anyio


# ------------------------------------------------------------------ helpers


def const(value: Any, name: str | None = None) -> Process:
    async def body(ctx: ProcessContext) -> Any:
        return value

    return Process(body, name=name or f"const_{value}")


def failing(message: str) -> Process:
    async def body(ctx: ProcessContext) -> Any:
        raise ValueError(message)

    return Process(body, name=f"fail_{message}")


def settled(value: Any, name: str) -> Process:
    """Succeeds with *value* once every other task is blocked (so its siblings
    have all begun)."""

    async def body(ctx: ProcessContext) -> Any:
        await anyio.wait_all_tasks_blocked()
        return value

    return Process(body, name=name)


def gated(event: anyio.Event, value: Any, name: str) -> Process:
    """Succeeds with *value* once *event* is set."""

    async def body(ctx: ProcessContext) -> Any:
        await event.wait()
        return value

    return Process(body, name=name)


def forever(name: str, exited: list[str] | None = None) -> Process:
    async def body(ctx: ProcessContext) -> Any:
        try:
            await anyio.sleep_forever()
        finally:
            if exited is not None:
                exited.append(name)

    return Process(body, name=name)


def _reason(result: ProcessResult[Any]) -> str | None:
    error = result.failure.error
    return error.reason if isinstance(error, ProcessCancelledError) else None


@Process
async def plus_one(ctx: ProcessContext) -> int:
    return int(await ctx.recv("input")) + 1


@Process
async def double(ctx: ProcessContext) -> int:
    return 2 * int(await ctx.recv("input"))


@Process
async def echo(ctx: ProcessContext) -> Any:
    return await ctx.recv("input")


# ---------------------------------------------------------------------- IF


async def test_if_runs_the_first_branch_that_holds_with_the_input() -> None:
    choose = IF((lambda v: v < 0, const("neg")), (lambda v: v < 10, double), (True, const("big")))
    with anyio.fail_after(5):
        small = await choose.run(3)
        large = await choose.run(50)
    assert (small.value, small.branch) == (6, 1)
    assert (large.value, large.branch) == ("big", 2)


async def test_if_takes_otherwise_when_no_branch_holds() -> None:
    choose = IF((False, const("never")), otherwise=plus_one)
    with anyio.fail_after(5):
        result = await choose.run(41)
    assert result.is_ok and result.value == 42 and result.branch == "otherwise"


async def test_if_without_a_holding_branch_fails_with_no_branch_error_naming_it() -> None:
    choose = cast(IF, IF((lambda v: v == 1, const("one"))).with_name("router"))
    with anyio.fail_after(5):
        result = await choose.run(2)
    assert result.is_fail and result.branch is None and result.results == []
    error = result.failures[0].error
    assert isinstance(error, NoBranchError)
    assert "router" in str(error) and error.if_name == "router" and error.input_value == 2


async def test_if_predicate_that_raises_is_the_if_failure() -> None:
    def broken(value: Any) -> bool:
        raise RuntimeError("predicate broke")

    with anyio.fail_after(5):
        result = await IF((broken, const(1))).run(0)
    assert result.is_fail
    assert isinstance(result.failures[0].error, RuntimeError)
    assert result.failures[0].process_name == "IF"


async def test_if_branch_failure_is_the_if_failure() -> None:
    with anyio.fail_after(5):
        result = await IF((True, failing("inner"))).run()
    assert result.is_fail and result.branch == 0
    assert str(result.as_process_result().failure.error) == "inner"


async def test_if_as_a_seq_stage_sees_the_previous_value() -> None:
    pipeline = SEQ(plus_one, IF((lambda v: v % 2 == 0, double), otherwise=plus_one))
    with anyio.fail_after(5):
        assert (await pipeline.run(1)).value == 4
        assert (await pipeline.run(2)).value == 4


def test_if_checks_its_arguments_at_construction() -> None:
    with pytest.raises(TypeError, match="IF: branch 0 must be a"):
        IF(const(1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="IF: the predicate of branch 0"):
        IF((3, const(1)))  # type: ignore[arg-type]

    async def apred(v: Any) -> bool:
        return True

    with pytest.raises(TypeError, match="not async"):
        IF((apred, const(1)))
    with pytest.raises(TypeError, match="IF branch 0"):
        IF((True, "nope"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="IF otherwise"):
        IF(otherwise=lambda: 1)  # type: ignore[arg-type]


# ------------------------------------------------------------------- WHILE


async def test_while_threads_the_value_through_the_body() -> None:
    loop = WHILE(lambda v: v < 100, double)
    with anyio.fail_after(5):
        result = await loop.run(3)
    assert result.is_ok and result.value == 192 and result.iterations == 6
    assert [r.value for r in result.results] == [6, 12, 24, 48, 96, 192]


async def test_while_false_is_the_identity() -> None:
    with anyio.fail_after(5):
        result = await WHILE(False, double).run("unchanged")
    assert result.is_ok and result.value == "unchanged" and result.iterations == 0


async def test_while_beyond_max_iterations_fails_clearly() -> None:
    with anyio.fail_after(5):
        result = await WHILE(True, plus_one, max_iterations=4).run(0)
    assert result.is_fail and result.iterations == 4
    error = result.failures[0].error
    assert isinstance(error, MaxIterationsError)
    assert error.max_iterations == 4 and error.last_value == 4
    assert "4 iterations" in str(error)


async def test_while_stops_at_a_failing_body() -> None:
    calls: list[int] = []

    @Process
    async def until_three(ctx: ProcessContext) -> int:
        v = int(await ctx.recv("input"))
        calls.append(v)
        if v == 3:
            raise ValueError("three")
        return v + 1

    with anyio.fail_after(5):
        result = await WHILE(True, until_three).run(0)
    assert result.is_fail and result.iterations == 4 and calls == [0, 1, 2, 3]
    assert str(result.failures[0].error) == "three"


async def test_while_condition_that_raises_is_the_while_failure() -> None:
    with anyio.fail_after(5):
        result = await WHILE(lambda v: 1 / v, plus_one).run(-1)
    assert result.is_fail and result.iterations == 1
    assert isinstance(result.failures[0].error, ZeroDivisionError)


def test_while_checks_its_arguments_at_construction() -> None:
    with pytest.raises(TypeError, match="WHILE: condition"):
        WHILE("yes", plus_one)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="WHILE body"):
        WHILE(True, lambda: 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="WHILE: max_iterations"):
        WHILE(True, plus_one, max_iterations=-1)
    with pytest.raises(TypeError, match="WHILE: max_iterations"):
        WHILE(True, plus_one, max_iterations=2.5)  # type: ignore[arg-type]


# -------------------------------------------------------------------- RACE


async def test_race_first_success_wins_and_the_rest_are_cancelled() -> None:
    exited: list[str] = []
    race = RACE(forever("a", exited), settled("fast", "const_fast"), forever("c", exited))
    with anyio.fail_after(5):
        result = await race.run()
    assert result.is_ok and result.value == "fast" and result.winner == 1
    assert result.cancelled == [0, 2] and sorted(exited) == ["a", "c"]
    assert len(result.results) == 3 and result.failures == []
    for i in (0, 2):
        error = result.results[i].failure.error
        assert isinstance(error, ProcessCancelledError) and error.reason == "lost"
        assert "const_fast" in str(error)


async def test_race_results_read_later_describe_that_run() -> None:
    # The losers' results are made when ``results`` is first read: reading them
    # after the RACE ran again (with another winner) still describes the first run.
    race = RACE(const("a", "first"), forever("second"), forever("third"))
    with anyio.fail_after(5):
        first = await race.run()
        second = await RACE(forever("x"), const("y", "only")).run()
    assert first.winner == 0 and second.winner == 1
    assert first.results[0].value == "a"
    for loser in first.results[1:]:
        error = loser.failure.error
        assert isinstance(error, ProcessCancelledError) and error.reason == "lost"
        assert "'first' won the RACE" in str(error)
    assert [r.failure.process_name for r in first.results[1:]] == ["second", "third"]
    assert first.results is first.results  # made once
    assert first.successes == [first.results[0]] and first.failures == []
    # every loser was cancelled at the same instant: when the winner was decided
    assert first.results[1].failure.failed_at == first.results[2].failure.failed_at


async def test_race_child_raising_a_stray_cancelled_error_fails_alone() -> None:
    # Nobody cancelled this child: it raised the cancellation exception itself
    # (on asyncio, awaiting a cancelled future does that). As in PAR, that is
    # its own failure; the RACE goes on and the other child wins. (On trio the
    # exception has no public constructor: the attempt fails with TypeError.)
    @Process
    async def stray(ctx: ProcessContext) -> None:
        raise anyio.get_cancelled_exc_class()()

    @Process
    async def answers(ctx: ProcessContext) -> str:
        await anyio.wait_all_tasks_blocked()
        return "answer"

    with anyio.fail_after(5):
        result = await RACE(stray, answers).run()
    assert result.is_ok and result.value == "answer" and result.winner == 1
    assert result.results[0].is_fail and result.cancelled == []


async def test_race_failures_do_not_stop_the_others() -> None:
    go = anyio.Event()

    @Process
    async def fail_then_release(ctx: ProcessContext) -> None:
        go.set()
        raise ValueError("first")

    with anyio.fail_after(5):
        result = await RACE(fail_then_release, gated(go, "second", "b")).run()
    assert result.is_ok and result.winner == 1 and result.value == "second"
    assert [f.summary for f in result.failures] == ["[fail_then_release] ValueError: first"]


async def test_race_fails_with_every_failure_when_all_fail() -> None:
    with anyio.fail_after(5):
        result = await RACE(failing("x"), failing("y"), failing("z")).run()
    assert result.is_fail and result.winner is None
    assert sorted(str(f.error) for f in result.failures) == ["x", "y", "z"]
    assert str(result.as_process_result().failure.error) == "x"


async def test_race_has_exactly_one_winner_when_all_succeed_in_one_turn() -> None:
    procs = [const(i, name=f"p{i}") for i in range(20)]
    with anyio.fail_after(5):
        for _ in range(20):
            result = await RACE(*procs).run()
            assert result.is_ok and result.winner is not None
            assert result.value == result.winner
            # a child that finished before its cancellation landed keeps its own result
            assert all(r.is_ok or _reason(r) == "lost" for r in result.results)


async def test_race_losers_that_had_not_begun_never_run() -> None:
    ran: list[str] = []

    def noting(name: str) -> Process:
        async def body(ctx: ProcessContext) -> str:
            ran.append(name)
            return name

        return Process(body, name=name)

    with anyio.fail_after(5):
        result = await RACE(*(noting(f"p{i}") for i in range(5))).run()
    # every child either ran to the end or never began: none was cut off halfway
    assert result.winner is not None and ran[0] == f"p{result.winner}"
    for i, r in enumerate(result.results):
        assert r.is_ok == (f"p{i}" in ran)
        if r.is_fail:
            assert _reason(r) == "lost" and i in result.cancelled


async def test_race_outer_cancellation_propagates_and_leaves_no_task() -> None:
    exited: list[str] = []
    race = RACE(forever("a", exited), forever("b", exited))
    with anyio.fail_after(5):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(race.run)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
    assert scope.cancelled_caught
    assert sorted(exited) == ["a", "b"]


async def test_race_gives_every_child_the_input() -> None:
    with anyio.fail_after(5):
        assert (await RACE(double).run(21)).value == 42
        assert (await SEQ(plus_one, RACE(double, forever("slow"))).run(1)).value == 4


async def test_race_nests_in_par_and_works_with_channels() -> None:
    ch: Chan[int] = Chan(int, name="answers")

    @Process
    async def sender(ctx: ProcessContext) -> str:
        await ctx.send("out", 7)
        return "sent"

    @Process
    async def receiver(ctx: ProcessContext) -> int:
        return int(await ctx.recv("in"))

    race = RACE(sender.with_channels(out=ch), forever("idle"))
    with anyio.fail_after(5):
        result = await PAR(race, receiver.with_channels(**{"in": ch})).run()
    assert result.is_ok and result.value == ["sent", 7]


async def test_race_records_its_decision_on_spans(span_exporter: InMemorySpanExporter) -> None:
    with anyio.fail_after(5):
        await RACE(forever("slow"), settled("fast", "fast")).run()
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    race = spans["RACE"]
    assert race.attributes is not None
    assert race.attributes["stbass.composition"] == "RACE"
    assert race.attributes["stbass.winner"] == 1
    assert tuple(race.attributes["stbass.cancelled_losers"]) == (0,)  # type: ignore[arg-type]
    loser = spans["process slow"]
    assert loser.attributes is not None and loser.attributes["stbass.cancelled.by"] == "lost"


def test_race_checks_its_arguments_at_construction() -> None:
    with pytest.raises(ValueError, match="RACE: needs at least one process"):
        RACE()
    with pytest.raises(TypeError, match="RACE: argument 1 must be a Process"):
        RACE(const(1), 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="RACE: deadline"):
        RACE(const(1), deadline=-1)


# -------------------------------------------------------------------- HEDGE


async def test_hedge_does_not_start_the_backup_when_the_first_answers() -> None:
    with anyio.fail_after(5):
        result = await HEDGE(const("a"), const("b"), after=100).run()
    assert result.is_ok and result.value == "a" and result.winner == 0 and result.started == 1
    error = result.results[1].failure.error
    assert isinstance(error, ProcessCancelledError) and "was not started" in str(error)


async def test_hedge_starts_the_next_at_once_when_every_started_one_failed() -> None:
    # ``after`` is far beyond the fail_after guard: only an immediate start passes
    with anyio.fail_after(5):
        result = await HEDGE(failing("down"), const("backup"), after=3600).run()
    assert result.is_ok and result.value == "backup" and result.winner == 1
    assert result.started == 2 and len(result.failures) == 1


async def test_hedge_all_failing_fails_with_every_failure() -> None:
    with anyio.fail_after(5):
        result = await HEDGE(failing("a"), failing("b"), after=3600).run()
    assert result.is_fail and sorted(str(f.error) for f in result.failures) == ["a", "b"]


async def test_hedge_copies_of_one_process() -> None:
    flaky_calls: list[int] = []

    @Process
    async def flaky(ctx: ProcessContext) -> str:
        flaky_calls.append(1)
        if len(flaky_calls) < 3:
            raise ConnectionError("try again")
        return "third time"

    with anyio.fail_after(5):
        result = await HEDGE(flaky, flaky, flaky, after=3600).run()
    assert result.is_ok and result.value == "third time" and result.winner == 2


def test_hedge_checks_its_arguments_at_construction() -> None:
    with pytest.raises(ValueError, match="HEDGE: after"):
        HEDGE(const(1), after=-0.5)
    with pytest.raises(ValueError, match="HEDGE: after"):
        HEDGE(const(1), after=math.nan)
    with pytest.raises(TypeError, match="HEDGE: after"):
        HEDGE(const(1), after=True)
    with pytest.raises(TypeError, match="HEDGE: argument 0"):
        HEDGE("x", after=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        HEDGE(const(1))  # type: ignore[call-arg]


class TestTimed:
    """Tests whose waiting is all timers: virtual time on trio's mock clock."""

    from testing_backends import TIMER_BACKENDS

    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    async def test_hedge_starts_the_backup_after_the_delay(self) -> None:
        started: list[str] = []

        def slow(name: str, delay: float) -> Process:
            async def body(ctx: ProcessContext) -> str:
                started.append(name)
                await anyio.sleep(delay)
                return name

            return Process(body, name=name)

        with anyio.fail_after(30):
            result = await HEDGE(slow("primary", 10), slow("backup", 0.05), after=0.1).run()
        assert result.value == "backup" and result.winner == 1
        assert started == ["primary", "backup"] and result.cancelled == [0]

    async def test_race_deadline_cancels_everything(self) -> None:
        with anyio.fail_after(30):
            result = await RACE(forever("a"), forever("b"), deadline=0.05).run()
        assert result.is_fail
        reasons = [_reason(r) for r in result.results]
        assert reasons == ["deadline", "deadline"]

    async def test_quorum_deadline_keeps_what_succeeded(self) -> None:
        with anyio.fail_after(30):
            result = await QUORUM(2, const(1), forever("b"), forever("c"), deadline=0.05).run()
        assert result.is_fail and result.winners == [0]
        assert result.results[0].value == 1
        # no quorum, no value; but what arrived in time is kept
        assert result.value is None and result.winner_values == [1]


# ------------------------------------------------------------------- QUORUM


async def test_quorum_succeeds_with_the_first_k_in_completion_order() -> None:
    first, second = anyio.Event(), anyio.Event()

    @Process
    async def conductor(ctx: ProcessContext) -> None:
        second.set()
        await anyio.wait_all_tasks_blocked()
        first.set()
        await anyio.sleep_forever()

    exited: list[str] = []
    quorum = QUORUM(
        2, gated(first, "late", "a"), gated(second, "early", "b"), conductor,
        forever("d", exited),
    )
    with anyio.fail_after(5):
        result = await quorum.run()
    assert result.is_ok and result.winners == [1, 0] and result.value == ["early", "late"]
    assert result.winner_values == result.value
    assert result.cancelled == [2, 3] and exited == ["d"]


async def test_quorum_fails_as_soon_as_k_is_impossible() -> None:
    @Process
    async def fails_last(ctx: ProcessContext) -> None:
        await anyio.wait_all_tasks_blocked()
        raise ValueError("y")

    exited: list[str] = []
    quorum = QUORUM(2, failing("x"), forever("b", exited), fails_last)
    with anyio.fail_after(5):
        result = await quorum.run()
    assert result.is_fail and exited == ["b"]
    assert str(result.as_process_result().failure.error) == "x"
    halted = result.results[1].failure.error
    assert isinstance(halted, ProcessCancelledError) and halted.reason == "halt"


async def test_quorum_of_all_is_par_up_to_order() -> None:
    procs = [const(i, name=f"p{i}") for i in range(5)]
    with anyio.fail_after(5):
        quorum = await QUORUM(5, *procs).run()
        par = await PAR(*procs).run()
    assert sorted(quorum.value) == sorted(par.value)


async def test_quorum_records_winners_on_its_span(span_exporter: InMemorySpanExporter) -> None:
    with anyio.fail_after(5):
        await QUORUM(1, forever("slow"), const("x")).run()
    (span,) = [s for s in span_exporter.get_finished_spans() if s.name == "QUORUM"]
    assert span.attributes is not None
    assert tuple(span.attributes["stbass.winners"]) == (1,)  # type: ignore[arg-type]
    assert span.attributes["stbass.quorum.k"] == 1


def test_quorum_checks_k_at_construction() -> None:
    with pytest.raises(ValueError, match="QUORUM: k must be between 1 and 2, got 0"):
        QUORUM(0, const(1), const(2))
    with pytest.raises(ValueError, match="QUORUM: k must be between 1 and 2, got 3"):
        QUORUM(3, const(1), const(2))
    with pytest.raises(TypeError, match="QUORUM: k must be an int"):
        QUORUM(True, const(1))


# ------------------------------------------------------- PAR as a stage, reduce


async def test_par_as_a_seq_stage_gives_every_child_the_input() -> None:
    pipeline = SEQ(plus_one, PAR(double, plus_one, echo))
    with anyio.fail_after(5):
        result = await pipeline.run(4)
    assert result.is_ok and result.value == [10, 6, 5]


async def test_par_for_as_a_seq_stage_gives_every_replica_the_input() -> None:
    async def scaled(i: int, ctx: ProcessContext) -> int:
        return i * int(await ctx.recv("input"))

    with anyio.fail_after(5):
        result = await SEQ(echo, PAR_FOR(3, scaled, reduce=sum)).run(10)
    assert result.value == 30


async def test_par_reduce_turns_the_values_into_the_stage_output() -> None:
    with anyio.fail_after(5):
        result = await SEQ(PAR(const(1), const(2), const(3), reduce=sum), double).run()
    assert result.value == 12
    with anyio.fail_after(5):
        par = await PAR(const("a"), const("b"), reduce="".join).run()
    assert par.is_ok and par.value == "ab"


async def test_par_reduce_that_raises_is_the_par_failure() -> None:
    def bad(values: list[Any]) -> Any:
        raise ArithmeticError("cannot fold")

    with anyio.fail_after(5):
        result = await PAR(const(1), reduce=bad).run()
    assert result.is_fail
    assert isinstance(result.as_process_result().failure.error, ArithmeticError)
    assert result.failures[0].summary == "[PAR] ArithmeticError: cannot fold"


def test_par_reduce_must_be_callable() -> None:
    with pytest.raises(TypeError, match="PAR: reduce must be a callable"):
        PAR(const(1), reduce=3)  # type: ignore[arg-type]
    async def body(i: int, ctx: ProcessContext) -> int:
        return i

    with pytest.raises(TypeError, match="PAR_FOR: reduce must be a callable"):
        PAR_FOR(2, body, reduce=3)  # type: ignore[arg-type]


async def test_par_at_the_top_still_has_no_input_channel() -> None:
    @Process
    async def looks(ctx: ProcessContext) -> bool:
        return "input" in ctx.channels

    with anyio.fail_after(5):
        assert (await PAR(looks).run()).value == [False]
        assert (await SEQ(PAR(looks)).run()).value == [True]


async def test_compositions_nest_inside_each_other() -> None:
    inner = QUORUM(2, const(1), const(2), const(3))
    outer = SEQ(
        RACE(inner, forever("never")),
        IF((lambda v: len(v) == 2, PAR(echo, echo, reduce=len))),
        WHILE(lambda v: v < 8, double),
    )
    with anyio.fail_after(5):
        result = await outer.run()
    assert result.is_ok and result.value == 8


def test_reprs_are_short() -> None:
    def small(v: Any) -> bool:
        return True

    a, b = const(1, "a"), const(2, "b")
    assert repr(RACE(a, b, deadline=2)) == "RACE(body.with_name('a'), body.with_name('b'), deadline=2.0)"
    assert repr(QUORUM(1, a)) == "QUORUM(1, body.with_name('a'))"
    assert repr(HEDGE(a, after=0.5)) == "HEDGE(body.with_name('a'), after=0.5)"
    assert repr(IF((small, a), otherwise=b)).startswith("IF((small, ")
    assert repr(WHILE(False, a, max_iterations=3)).endswith("max_iterations=3)")
    assert repr(PAR(a, reduce=sum)).endswith("reduce=sum)")


async def test_results_report_process_result_shape() -> None:
    with anyio.fail_after(5):
        result = await RACE(const(5)).run()
    assert result.as_process_result() == ProcessResult.ok(5)


async def test_the_viewer_labels_rows_with_the_decision(span_exporter: InMemorySpanExporter) -> None:
    from stbass_tracing import layout_trace, trace_from_spans

    with anyio.fail_after(5):
        await SEQ(
            WHILE(lambda v: v < 3, plus_one),
            RACE(forever("slow"), const(3)),
            QUORUM(1, const("q")),
            IF((True, const("yes"))),
        ).run(0)
    trace = trace_from_spans(span_exporter.get_finished_spans())
    labels = {row.label for row in layout_trace(trace).rows}
    assert {"RACE (2) winner 1", "QUORUM (1) winners 0", "IF (1) branch 0",
            "WHILE (1) 3 iterations"} <= labels


async def test_hedge_outer_cancellation_propagates_while_it_waits_to_hedge() -> None:
    exited: list[str] = []
    hedge = HEDGE(forever("primary", exited), forever("backup", exited), after=3600)
    with anyio.fail_after(5):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(hedge.run)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
    assert scope.cancelled_caught and exited == ["primary"]  # the backup never started


async def test_if_and_while_nested_in_a_par_see_no_input() -> None:
    choose = IF((lambda v: v is None, const("no input")), otherwise=const("input"))
    loop = WHILE(lambda v: v is None, const(1))
    with anyio.fail_after(5):
        result = await PAR(choose, loop).run()
    assert result.value == ["no input", 1]


async def test_quorum_in_a_par_with_halt_is_cancelled_as_a_whole() -> None:
    @Process
    async def fails_later(ctx: ProcessContext) -> None:
        await anyio.wait_all_tasks_blocked()
        raise ValueError("boom")

    exited: list[str] = []
    with anyio.fail_after(5):
        result = await PAR(QUORUM(1, forever("q", exited)), fails_later).run()
    assert result.is_fail and exited == ["q"]
    assert str(result.failures[0].error) == "boom"
