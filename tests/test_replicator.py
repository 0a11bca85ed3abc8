"""PAR_FOR and SEQ_FOR: replication, bounded parallelism, failure policies, spans."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from testing_backends import TIMER_BACKENDS
from stbass import (
    PAR,
    SEQ,
    FailurePolicy,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
)
from stbass.replicator import PAR_FOR, SEQ_FOR

HALT = FailurePolicy.HALT
COLLECT = FailurePolicy.COLLECT


async def square(i: int, ctx: ProcessContext) -> ProcessResult[int]:
    return ProcessResult.ok(i * i)


class Gauge:
    """Counts bodies running right now and the most ever seen at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.started = 0

    def enter(self) -> None:
        self.running += 1
        self.started += 1
        self.peak = max(self.peak, self.running)

    def leave(self) -> None:
        self.running -= 1


# ----------------------------------------------------------------- PAR_FOR


@pytest.mark.anyio
async def test_par_for_results_come_back_in_index_order_whatever_the_finish_order() -> None:
    n = 5
    done = [anyio.Event() for _ in range(n + 1)]
    done[n].set()
    finished: list[int] = []

    async def body(i: int, ctx: ProcessContext) -> int:
        await done[i + 1].wait()  # the last index finishes first
        finished.append(i)
        done[i].set()
        return i * 10

    with anyio.fail_after(10):
        result = await PAR_FOR(n, body).run()
    assert finished == [4, 3, 2, 1, 0]
    assert result.is_ok
    assert result.value == [0, 10, 20, 30, 40]
    assert [r.value for r in result.results] == [0, 10, 20, 30, 40]


@pytest.mark.anyio
async def test_par_for_plain_values_and_process_results_both_succeed() -> None:
    async def body(i: int, ctx: ProcessContext) -> Any:
        return ProcessResult.ok("r") if i % 2 else "plain"

    result = await PAR_FOR(4, body).run()
    assert result.value == ["plain", "r", "plain", "r"]


@pytest.mark.anyio
async def test_par_for_of_zero_succeeds_with_no_results() -> None:
    result = await PAR_FOR(0, square).run()
    assert result.is_ok and result.results == [] and result.value == []


@pytest.mark.anyio
@pytest.mark.parametrize("k", [1, 2, 3])
async def test_par_for_max_parallel_is_never_exceeded(k: int) -> None:
    gauge = Gauge()
    release = anyio.Event()

    async def body(i: int, ctx: ProcessContext) -> int:
        gauge.enter()
        try:
            await release.wait()
            for _ in range(3):  # let every other runnable body get scheduled
                await anyio.lowlevel.checkpoint()
            return i
        finally:
            gauge.leave()

    result_box: list[Any] = []

    async def run() -> None:
        result_box.append(await PAR_FOR(8, body, max_parallel=k).run())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await anyio.wait_all_tasks_blocked()
            # everyone is parked: exactly k bodies hold a slot, the rest wait for one
            assert gauge.running == k
            assert gauge.started == k
            release.set()
    assert gauge.peak == k
    assert gauge.started == 8
    assert result_box[0].value == list(range(8))


@pytest.mark.anyio
async def test_par_for_without_max_parallel_runs_every_body_at_once() -> None:
    gauge = Gauge()
    release = anyio.Event()

    async def body(i: int, ctx: ProcessContext) -> None:
        gauge.enter()
        await release.wait()
        gauge.leave()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(PAR_FOR(6, body).run)
            await anyio.wait_all_tasks_blocked()
            assert gauge.running == 6
            release.set()


@pytest.mark.anyio
async def test_par_for_count_callable_is_evaluated_at_every_run() -> None:
    sizes = iter([2, 5, 0])
    calls: list[int] = []

    def how_many() -> int:
        n = next(sizes)
        calls.append(n)
        return n

    replicated = PAR_FOR(how_many, square)
    assert calls == []  # not at construction
    assert (await replicated.run()).value == [0, 1]
    assert (await replicated.run()).value == [0, 1, 4, 9, 16]
    assert (await replicated.run()).value == []
    assert calls == [2, 5, 0]


@pytest.mark.anyio
async def test_par_for_count_may_be_an_async_callable() -> None:
    async def how_many() -> int:
        await anyio.lowlevel.checkpoint()
        return 3

    assert (await PAR_FOR(how_many, square).run()).value == [0, 1, 4]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("bad", "error"), [(-1, ValueError), ("3", TypeError), (2.0, TypeError), (True, TypeError)]
)
async def test_par_for_bad_dynamic_count_is_a_failed_result_at_run_and_when_nested(
    bad: object, error: type[Exception]
) -> None:
    replicated = PAR_FOR(lambda: bad, square)
    alone = await replicated.run()  # a process never raises at its caller
    assert alone.is_fail
    assert isinstance(alone.failures[0].error, error)
    assert "count callable" in str(alone.failures[0].error)
    nested = await PAR(replicated, Process(_ok, name="other")).run()
    assert nested.is_fail
    assert isinstance(nested.failures[0].error, error)


async def _ok(ctx: ProcessContext) -> str:
    return "ok"


@pytest.mark.anyio
async def test_nested_replicators_4_by_3_create_12_bodies() -> None:
    seen: list[tuple[int, int, str]] = []

    async def outer(i: int, ctx: ProcessContext) -> Any:
        async def inner(j: int, inner_ctx: ProcessContext) -> tuple[int, int]:
            seen.append((i, j, inner_ctx.parent or ""))
            return (i, j)

        return await PAR_FOR(3, inner).run(ctx)

    with anyio.fail_after(10):
        result = await PAR_FOR(4, outer).run()
    assert result.is_ok
    assert len(seen) == 12
    assert sorted((i, j) for i, j, _ in seen) == [(i, j) for i in range(4) for j in range(3)]
    assert {parent for _, _, parent in seen} == {f"outer[{i}]" for i in range(4)}
    assert result.value == [[(i, j) for j in range(3)] for i in range(4)]


@pytest.mark.anyio
async def test_nested_seq_for_inside_par_for_and_failure_surfaces() -> None:
    async def outer(i: int, ctx: ProcessContext) -> Any:
        async def step(j: int, c: ProcessContext) -> int:
            if (i, j) == (2, 1):
                raise RuntimeError("inner boom")
            return j

        return await SEQ_FOR(3, step).run(ctx)

    result = await PAR_FOR(4, outer, on_failure=COLLECT).run()
    assert result.is_fail
    assert [r.is_ok for r in result.results] == [True, True, False, True]
    assert "inner boom" in str(result.failures[0].error)
    assert result.failures[0].process_name == "step[1]"


@pytest.mark.anyio
async def test_par_for_halt_cancels_the_other_bodies() -> None:
    started = Gauge()
    blocked = anyio.Event()

    async def body(i: int, ctx: ProcessContext) -> int:
        started.enter()
        if i == 2:
            await anyio.wait_all_tasks_blocked()
            raise ValueError("body 2 broke")
        await blocked.wait()  # never set: only HALT ends these
        return i

    with anyio.fail_after(10):
        result = await PAR_FOR(4, body).run()
    assert result.is_fail
    assert isinstance(result.results[2].failure.error, ValueError)
    for i in (0, 1, 3):
        error = result.results[i].failure.error
        assert isinstance(error, ProcessCancelledError) and error.reason == "halt"
        assert result.results[i].failure.process_name == f"body[{i}]"


@pytest.mark.anyio
async def test_par_for_collect_lets_every_body_finish() -> None:
    async def body(i: int, ctx: ProcessContext) -> int:
        await anyio.lowlevel.checkpoint()
        if i % 2:
            raise ValueError(f"odd {i}")
        return i

    result = await PAR_FOR(6, body, on_failure=COLLECT).run()
    assert [r.is_ok for r in result.results] == [True, False] * 3
    assert [f.process_name for f in result.failures] == ["body[1]", "body[3]", "body[5]"]
    assert result.value == [0, None, 2, None, 4, None]


@pytest.mark.anyio
async def test_par_for_halt_with_max_parallel_cancels_queued_bodies_too() -> None:
    ran: list[int] = []

    async def body(i: int, ctx: ProcessContext) -> int:
        ran.append(i)
        if i == 0:
            raise ValueError("first fails")
        await anyio.sleep_forever()
        return i

    with anyio.fail_after(10):
        result = await PAR_FOR(10, body, max_parallel=2).run()
    assert result.is_fail
    assert ran[0] == 0 and set(ran) <= {0, 1}  # index order; no slot handed out after HALT
    assert len(result.results) == 10
    cancelled = [r for r in result.results[1:]]
    assert all(isinstance(r.failure.error, ProcessCancelledError) for r in cancelled)


@pytest.mark.anyio
async def test_par_for_is_a_value_that_runs_many_times_and_nests_in_seq_and_par() -> None:
    replicated = PAR_FOR(3, square)
    first = await replicated.run()
    second = await replicated.run()
    assert first.value == second.value == [0, 1, 4]
    par = await PAR(replicated, SEQ_FOR(2, square)).run()
    assert par.value == [[0, 1, 4], 1]
    seq = await SEQ(replicated).run()
    assert seq.value == [0, 1, 4]


@pytest.mark.anyio
async def test_par_for_async_with_runs_on_exit() -> None:
    async with PAR_FOR(3, square) as replicated:
        pass
    assert replicated.result is not None and replicated.result.value == [0, 1, 4]


@pytest.mark.anyio
async def test_par_for_emits_a_span_with_one_process_span_per_body(
    span_exporter: InMemorySpanExporter,
) -> None:
    await PAR_FOR(3, square, max_parallel=2).run()
    spans = span_exporter.get_finished_spans()
    (top,) = [s for s in spans if s.name == "PAR_FOR"]
    assert top.attributes is not None
    assert top.attributes["stbass.composition"] == "PAR_FOR"
    assert top.attributes["stbass.children"] == 3
    assert top.attributes["stbass.max_parallel"] == 2
    # one span name for every replica (bounded cardinality), the index in an attribute
    bodies = sorted(
        (s for s in spans if s.name == "process square"),
        key=lambda s: s.attributes["stbass.replica.index"] if s.attributes else 0,
    )
    assert [s.attributes and s.attributes["stbass.process.name"] for s in bodies] == [
        "square[0]", "square[1]", "square[2]"
    ]
    assert [s.attributes and s.attributes["stbass.replica.index"] for s in bodies] == [0, 1, 2]
    assert all(s.parent is not None and s.parent.span_id == top.context.span_id for s in bodies)


@pytest.mark.anyio
async def test_replica_names_can_be_given() -> None:
    async def body(i: int, ctx: ProcessContext) -> str:
        return ctx.process_name

    assert (await PAR_FOR(2, body, name="agent").run()).value == ["agent[0]", "agent[1]"]


class TestDeadline:
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    @pytest.mark.anyio
    async def test_par_for_deadline_cancels_slow_bodies_and_keeps_fast_ones(self) -> None:
        async def body(i: int, ctx: ProcessContext) -> int:
            await anyio.sleep(0.01 if i < 2 else 60)
            return i

        with anyio.fail_after(30):
            result = await PAR_FOR(4, body, on_failure=COLLECT, deadline=1.0).run()
        assert result.value == [0, 1, None, None]
        for r in result.results[2:]:
            error = r.failure.error
            assert isinstance(error, ProcessCancelledError) and error.reason == "deadline"
            assert "deadline" in str(error)

    @pytest.mark.anyio
    async def test_bodies_queued_behind_max_parallel_are_cancelled_by_the_deadline(self) -> None:
        async def body(i: int, ctx: ProcessContext) -> int:
            await anyio.sleep(0.4)
            return i

        with anyio.fail_after(30):
            result = await PAR_FOR(
                6, body, on_failure=COLLECT, deadline=1.0, max_parallel=2
            ).run()
        # two waves of two fit in one second; the third wave cannot
        assert result.value[:4] == [0, 1, 2, 3]
        assert result.value[4:] == [None, None]
        assert all(
            isinstance(r.failure.error, ProcessCancelledError) for r in result.results[4:]
        )


# ----------------------------------------------------------------- SEQ_FOR


@pytest.mark.anyio
async def test_seq_for_runs_bodies_one_after_another_in_index_order() -> None:
    gauge = Gauge()
    order: list[int] = []

    async def body(i: int, ctx: ProcessContext) -> int:
        gauge.enter()
        order.append(i)
        for _ in range(3):
            await anyio.lowlevel.checkpoint()
        gauge.leave()
        return i * 2

    result = await SEQ_FOR(5, body).run()
    assert order == [0, 1, 2, 3, 4]
    assert gauge.peak == 1
    assert result.is_ok
    assert [r.value for r in result.results] == [0, 2, 4, 6, 8]
    assert result.value == 8


@pytest.mark.anyio
async def test_seq_for_passes_each_value_on_through_input() -> None:
    async def step(i: int, ctx: ProcessContext) -> int:
        previous = await ctx.recv("input")
        return int(previous) + i

    assert (await SEQ_FOR(5, step).run(input_value=100)).value == 110


@pytest.mark.anyio
async def test_seq_for_halt_stops_at_the_first_failure() -> None:
    ran: list[int] = []

    async def body(i: int, ctx: ProcessContext) -> int:
        ran.append(i)
        if i == 1:
            raise RuntimeError("stop here")
        return i

    result = await SEQ_FOR(4, body).run()
    assert ran == [0, 1]
    assert result.is_fail and len(result.results) == 2
    assert result.failures[0].process_name == "body[1]"


@pytest.mark.anyio
async def test_seq_for_collect_runs_the_rest_after_a_failure() -> None:
    inputs: list[Any] = []

    async def body(i: int, ctx: ProcessContext) -> int:
        inputs.append(await ctx.recv("input"))
        if i == 1:
            raise RuntimeError("skip me")
        return i

    result = await SEQ_FOR(4, body, on_failure=COLLECT).run(input_value="start")
    assert inputs == ["start", 0, None, 2]
    assert [r.is_ok for r in result.results] == [True, False, True, True]
    assert result.value == 3


@pytest.mark.anyio
async def test_seq_for_dynamic_count_and_zero_is_identity() -> None:
    n = [0]
    replicated = SEQ_FOR(lambda: n[0], square)
    empty = await replicated.run(input_value="x")
    assert empty.is_ok and empty.value == "x"
    n[0] = 3
    assert (await replicated.run()).value == 4


@pytest.mark.anyio
async def test_seq_for_emits_a_span(span_exporter: InMemorySpanExporter) -> None:
    await SEQ_FOR(2, square).run()
    spans = span_exporter.get_finished_spans()
    (top,) = [s for s in spans if s.name == "SEQ_FOR"]
    assert top.attributes is not None and top.attributes["stbass.children"] == 2
    children = [
        s
        for s in spans
        if s.name.startswith("process ")
        and s.parent is not None
        and s.parent.span_id == top.context.span_id
    ]
    assert [s.name for s in children] == ["process square", "process square"]
    assert sorted(
        s.attributes["stbass.process.name"] for s in children if s.attributes
    ) == ["square[0]", "square[1]"]


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize("cls", [PAR_FOR, SEQ_FOR])
def test_replicators_reject_bad_counts(cls: Any) -> None:
    with pytest.raises(ValueError, match="count must be >= 0"):
        cls(-1, square)
    for bad in ("3", 2.5, None, True):
        with pytest.raises(TypeError, match="count"):
            cls(bad, square)


@pytest.mark.parametrize("cls", [PAR_FOR, SEQ_FOR])
def test_replicators_reject_factories_that_cannot_be_called(cls: Any) -> None:
    with pytest.raises(TypeError, match="factory must be a callable"):
        cls(3, "body")
    with pytest.raises(TypeError, match="factory must be a callable"):
        cls(3, None)
    with pytest.raises(TypeError, match="factory must be a callable.*Process"):
        cls(3, Process(_ok))


@pytest.mark.anyio
@pytest.mark.parametrize("cls", [PAR_FOR, SEQ_FOR])
async def test_a_factory_that_returns_no_awaitable_fails_its_replicas(cls: Any) -> None:
    def sync_body(i: int, ctx: ProcessContext) -> int:
        return i

    with anyio.fail_after(10):
        result = await cls(2, sync_body, on_failure=FailurePolicy.COLLECT).run()
    assert result.is_fail
    assert isinstance(result.failures[0].error, TypeError)
    assert "must return an awaitable" in str(result.failures[0].error)


@pytest.mark.anyio
async def test_a_lambda_returning_a_coroutine_is_a_factory() -> None:
    items = ["a", "b", "c"]

    async def worker(i: int, item: str, ctx: ProcessContext) -> str:
        await anyio.lowlevel.checkpoint()
        return f"{i}{item}"

    with anyio.fail_after(10):
        par = await PAR_FOR(3, lambda i, ctx: worker(i, items[i], ctx)).run()
        seq = await SEQ_FOR(3, lambda i, ctx: worker(i, items[i], ctx)).run()
    assert par.value == ["0a", "1b", "2c"]
    assert seq.value == "2c"


def test_par_for_rejects_bad_max_parallel_and_deadline() -> None:
    for bad in (0, -2):
        with pytest.raises(ValueError, match="max_parallel"):
            PAR_FOR(3, square, max_parallel=bad)
    for wrong in (1.5, "2", True):
        with pytest.raises(TypeError, match="max_parallel"):
            PAR_FOR(3, square, max_parallel=wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="deadline"):
        PAR_FOR(3, square, deadline="5")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="deadline"):
        PAR_FOR(3, square, deadline=-1)
    with pytest.raises(TypeError, match="on_failure|FailurePolicy"):
        PAR_FOR(3, square, on_failure="halt")  # type: ignore[arg-type]


def test_replicator_reprs_are_short() -> None:
    assert repr(PAR_FOR(3, square)) == "PAR_FOR(3, square)"
    assert (
        repr(PAR_FOR(3, square, on_failure=COLLECT, deadline=2, max_parallel=1))
        == "PAR_FOR(3, square, on_failure=FailurePolicy.COLLECT, deadline=2.0, max_parallel=1)"
    )
    assert repr(SEQ_FOR(2, square)) == "SEQ_FOR(2, square)"


@pytest.mark.anyio
async def test_par_for_max_parallel_runs_on_that_many_tasks_not_one_per_body() -> None:
    # A PAR_FOR over many items with a small bound (the usual shape of "call the
    # model for each of 500 documents, 4 at a time") holds 4 body tasks, not 500.
    peak = 0
    before = len(anyio.get_running_tasks())

    async def body(i: int, ctx: ProcessContext) -> int:
        nonlocal peak
        await anyio.lowlevel.checkpoint()
        peak = max(peak, len(anyio.get_running_tasks()) - before)
        return i

    with anyio.fail_after(10):
        result = await PAR_FOR(500, body, max_parallel=4).run()
    assert result.value == list(range(500))
    assert peak == 4
