"""stbass.dag: start-when-ready scheduling, HALT/COLLECT, retries, resume from a
state file, spans and the Mermaid drawing, on both backends."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pydantic
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import (
    PAR,
    PAR_FOR,
    SEQ,
    FailurePolicy,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
    RetryPolicy,
)
from stbass import _names as N
from stbass.dag import DAG, DAGCycleError, DAGResult

pytestmark = pytest.mark.anyio


class Report(pydantic.BaseModel):
    title: str
    total: int


def const(value: Any) -> Any:
    def fn(_: Any) -> Any:
        return value

    return fn


# ------------------------------------------------------------------ scheduling


async def test_a_task_starts_when_its_own_dependencies_are_done_not_its_level() -> None:
    # slow and fast are independent; after_fast depends on fast only. slow waits
    # until after_fast has run: a level-by-level scheduler would deadlock here.
    after_fast_ran = anyio.Event()

    async def slow(_: Any) -> str:
        await after_fast_ran.wait()
        return "slow"

    async def after_fast(inputs: dict[str, Any]) -> str:
        after_fast_ran.set()
        return f"after {inputs['fast']}"

    dag = DAG("eager").add("slow", slow).add("fast", const("fast"))
    dag.add("after_fast", after_fast, after=["fast"])
    with anyio.fail_after(10):
        result = await dag.run()
    assert result.is_ok
    assert result.values == {"slow": "slow", "fast": "fast", "after_fast": "after fast"}


async def test_tasks_get_the_dag_input_or_their_dependencies_values_by_name() -> None:
    seen: dict[str, Any] = {}

    def record(name: str, value: Any) -> Any:
        def fn(inputs: Any) -> Any:
            seen[name] = inputs
            return value

        return fn

    dag = DAG("inputs").add("a", record("a", 1)).add("b", record("b", 2))
    dag.add("c", record("c", 3), after=["a", "b"])
    with anyio.fail_after(10):
        result = await dag.run("the input")
    assert seen == {"a": "the input", "b": "the input", "c": {"a": 1, "b": 2}}
    assert result.values == {"a": 1, "b": 2, "c": 3}


async def test_a_process_task_reads_its_input_channel_and_may_write_an_output() -> None:
    @Process
    async def double(ctx: ProcessContext) -> int:
        return 2 * int(await ctx.recv("input"))

    @Process
    async def writes(ctx: ProcessContext) -> str:
        inputs = await ctx.recv("input")
        await ctx.send("output", f"sent {inputs['double']}")
        return "returned"

    @Process
    async def ignores_input(ctx: ProcessContext) -> str:
        return "fine"

    dag = DAG("procs").add("double", double).add("writes", writes, after=["double"])
    dag.add("ignores", ignores_input)
    with anyio.fail_after(10):
        result = await dag.run(21)
    assert result.values == {"double": 42, "writes": "sent 42", "ignores": "fine"}


async def test_sync_and_async_functions_both_work_as_tasks() -> None:
    async def plus_one(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return x + 1

    dag = DAG("fns").add("a", plus_one).add("b", lambda d: d["a"] * 10, after=["a"])
    with anyio.fail_after(10):
        assert (await dag.run(1)).values == {"a": 2, "b": 20}


async def test_max_parallel_bounds_the_tasks_running_at_once() -> None:
    go = anyio.Event()
    running = 0
    peak = 0

    async def task(_: Any) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await go.wait()
        running -= 1

    dag = DAG("bounded")
    for i in range(5):
        dag.add(f"t{i}", task)
    results: list[DAGResult] = []

    async def run() -> None:
        results.append(await dag.run(max_parallel=2))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            await anyio.wait_all_tasks_blocked()
            assert running == 2
            go.set()
    assert results[0].is_ok and len(results[0].values) == 5
    assert peak == 2


# ------------------------------------------------------------------ failures


async def test_halt_cancels_running_tasks_and_skips_the_rest() -> None:
    started = anyio.Event()
    cancelled = []

    async def waits(_: Any) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append("waits")

    async def fails(_: Any) -> None:
        await started.wait()
        raise ValueError("bad input")

    dag = DAG("halting").add("waits", waits).add("fails", fails)
    dag.add("later", const(1), after=["fails"]).add("after_waits", const(2), after=["waits"])
    with anyio.fail_after(10):
        result = await dag.run()
    assert not result.is_ok
    assert list(result.failures) == ["fails", "waits"]  # the cause first
    assert isinstance(result.failures["fails"].error, ValueError)
    error = result.failures["waits"].error
    assert isinstance(error, ProcessCancelledError) and error.reason == "halt"
    assert "'fails'" in str(error)
    assert result.skipped == ("later", "after_waits")
    assert cancelled == ["waits"]
    assert result.values == {}


async def test_collect_runs_every_task_whose_dependencies_succeeded() -> None:
    def fails(_: Any) -> None:
        raise RuntimeError("no data")

    dag = DAG("collecting").add("bad", fails).add("good", const(1))
    dag.add("needs_bad", const(2), after=["bad"]).add("needs_good", const(3), after=["good"])
    dag.add("needs_skipped", const(4), after=["needs_bad", "good"])
    with anyio.fail_after(10):
        result = await dag.run(on_failure=FailurePolicy.COLLECT)
    assert result.values == {"good": 1, "needs_good": 3}
    assert list(result.failures) == ["bad"]
    assert result.failures["bad"].summary == "[bad] RuntimeError: no data"
    assert result.skipped == ("needs_bad", "needs_skipped")


async def test_a_retry_policy_reruns_a_failing_task() -> None:
    attempts = []

    def flaky(_: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    dag = DAG("retrying").add("flaky", flaky, retry=RetryPolicy(3, "constant", base_delay=0))
    with anyio.fail_after(10):
        result = await dag.run()
    assert result.values == {"flaky": "ok"}
    assert len(attempts) == 3


async def test_a_retried_process_task_gets_its_input_on_every_attempt() -> None:
    seen = []

    @Process
    async def flaky(ctx: ProcessContext) -> int:
        seen.append(await ctx.recv("input"))
        if len(seen) < 2:
            raise ConnectionError("try again")
        return len(seen)

    dag = DAG("retrying").add("flaky", flaky, retry=RetryPolicy(2, "constant", base_delay=0))
    with anyio.fail_after(10):
        result = await dag.run("x")
    assert result.values == {"flaky": 2}
    assert seen == ["x", "x"]


async def test_cancellation_from_outside_propagates_and_leaves_no_task() -> None:
    finished = []

    async def forever(_: Any) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            finished.append("forever")

    dag = DAG("cancelled").add("a", forever).add("b", forever)
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(dag.run)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
    assert scope.cancelled_caught
    assert finished == ["forever", "forever"]


# ------------------------------------------------------------------ build-time errors


async def test_build_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="duplicate task name 'a'"):
        DAG("d").add("a", const(1)).add("a", const(2))
    with pytest.raises(ValueError, match="task 'b' depends on unknown task 'nope'"):
        await DAG("d").add("b", const(1), after=["nope"]).run()
    with pytest.raises(DAGCycleError, match="has a cycle: a -> a"):
        DAG("d").add("a", const(1), after=["a"])
    with pytest.raises(TypeError, match="must be a Process or a function"):
        DAG("d").add("a", 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="after= takes a list"):
        DAG("d").add("a", const(1), after="b")
    with pytest.raises(TypeError, match="retry must be a RetryPolicy"):
        DAG("d").add("a", const(1), retry=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_parallel must be at least 1"):
        await DAG("d").run(max_parallel=0)
    with pytest.raises(TypeError, match="on_failure"):
        DAG("d", on_failure="halt")  # type: ignore[arg-type]


async def test_a_cycle_is_reported_before_anything_runs_and_named() -> None:
    ran = []
    dag = DAG("loop").add("start", lambda _: ran.append("start"))
    dag.add("a", const(1), after=["start", "c"]).add("b", const(2), after=["a"])
    dag.add("c", const(3), after=["b"])
    with pytest.raises(DAGCycleError) as info:
        await dag.run()
    assert ran == []
    assert info.value.cycle in (["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"])
    assert " -> ".join(info.value.cycle) in str(info.value)


# ------------------------------------------------------------------ state and resume


def flaky_dag(calls: list[str], fail: list[bool]) -> DAG:
    def task(name: str, value: Any) -> Any:
        def fn(inputs: Any) -> Any:
            calls.append(name)
            if name == "report" and fail[0]:
                raise ConnectionError("mail server down")
            return value

        return fn

    dag = DAG("weekly")
    dag.add("sales", task("sales", 120)).add("costs", task("costs", 85))
    dag.add("margin", task("margin", 35), after=["sales", "costs"])
    dag.add("report", task("report", "sent"), after=["margin"])
    dag.add("archive", task("archive", True), after=["report"])
    return dag


async def test_a_second_run_with_the_state_file_skips_completed_tasks(tmp_path: Path) -> None:
    state = tmp_path / "weekly.json"
    calls: list[str] = []
    fail = [True]
    dag = flaky_dag(calls, fail)
    with anyio.fail_after(10):
        first = await dag.run(state=state)
    assert list(first.failures) == ["report"] and first.skipped == ("archive",)
    saved = json.loads(state.read_text())
    assert sorted(saved["tasks"]) == ["costs", "margin", "sales"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weekly.json"]  # no temp file left

    calls.clear()
    fail[0] = False
    with anyio.fail_after(10):
        second = await dag.run(state=state)
    assert second.is_ok
    assert calls == ["report", "archive"]
    assert second.resumed == ("sales", "costs", "margin")
    assert second.values == {
        "sales": 120, "costs": 85, "margin": 35, "report": "sent", "archive": True,
    }  # fmt: skip
    assert second.run_id == first.run_id

    calls.clear()
    with anyio.fail_after(10):
        third = await dag.run(state=state)
    assert calls == [] and third.is_ok


async def test_pydantic_values_survive_a_resume(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    calls = []

    def make(_: Any) -> Report:
        calls.append("make")
        return Report(title="weekly", total=3)

    dag = DAG("models").add("make", make).add("use", lambda d: d["make"].total, after=["make"])
    with anyio.fail_after(10):
        await dag.run(state=state)
        result = await dag.run(state=state)
    assert calls == ["make"]
    assert result.values["make"] == Report(title="weekly", total=3)


async def test_a_value_the_state_file_cannot_hold_fails_its_task(tmp_path: Path) -> None:
    dag = DAG("sets").add("s", const({1, 2})).add("after", const(1), after=["s"])
    with anyio.fail_after(10):
        result = await dag.run(state=tmp_path / "s.json")
    error = result.failures["s"].error
    assert isinstance(error, TypeError)
    assert "task 's'" in str(error) and "JSON-serialisable or pydantic" in str(error)
    assert result.skipped == ("after",)


async def test_an_input_the_state_file_cannot_hold_is_an_error_before_the_run(
    tmp_path: Path,
) -> None:
    ran = []
    dag = DAG("in").add("a", lambda x: ran.append(x))
    with pytest.raises(TypeError, match="the input value is a object"):
        await dag.run(object(), state=tmp_path / "s.json")
    assert ran == []


async def test_a_state_file_for_another_input_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "s.json"
    dag = DAG("in").add("a", lambda x: x)
    await dag.run("monday", state=state)
    with pytest.raises(ValueError, match="written for another input value"):
        await dag.run("tuesday", state=state)


# ------------------------------------------------------------------ composition, spans, drawing


async def test_a_dag_nests_in_seq_and_gets_the_previous_value() -> None:
    @Process
    async def three(ctx: ProcessContext) -> int:
        return 3

    dag = DAG("inner").add("square", lambda x: x * x).add("neg", lambda d: -d["square"], after=["square"])
    with anyio.fail_after(10):
        result = await SEQ(three, dag).run()
    assert result.is_ok
    assert result.value == {"square": 9, "neg": -9}


async def test_a_dag_span_has_a_process_span_per_task(span_exporter: InMemorySpanExporter) -> None:
    dag = DAG("traced").add("a", const(1)).add("b", const(2), after=["a"])
    dag.add("c", lambda _: 1 / 0, after=["a"])
    with anyio.fail_after(10):
        await dag.run(on_failure=FailurePolicy.COLLECT)
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    root = spans["DAG"]
    assert root.attributes is not None
    assert root.attributes[N.DAG_NAME] == "traced"
    assert list(root.attributes[N.DAG_EDGES]) == ["a -> b", "a -> c"]  # type: ignore[arg-type]
    for name in ("a", "b", "c"):
        span = spans[f"process {name}"]
        assert span.parent is not None and span.parent.span_id == root.context.span_id
    # one failure, one ERROR span: the task's; the DAG records that a child failed
    assert not spans["process c"].status.is_ok
    assert root.attributes[N.CHILD_FAILED] is True


async def test_every_task_span_names_its_task_a_composition_too(
    span_exporter: InMemorySpanExporter,
) -> None:
    """The span of each task carries ``stbass.dag.task``: a leaf process's, and
    a PAR's or a PAR_FOR's the DAG does not open itself; the spans inside a
    composition task do not."""

    @Process
    async def left(ctx: ProcessContext) -> int:
        return 1

    @Process
    async def right(ctx: ProcessContext) -> int:
        return 2

    async def square(i: int, ctx: ProcessContext) -> int:
        return i * i

    dag = (
        DAG("shapes")
        .add("a", const(0))
        .add("both", PAR(left, right), after=["a"])
        .add("squares", PAR_FOR(3, square), after=["a"])
        .add("z", lambda d: d, after=["both", "squares"])
    )
    with anyio.fail_after(10):
        result = await dag.run()
    assert result.values["both"] == [1, 2] and result.values["squares"] == [0, 1, 4]
    spans = span_exporter.get_finished_spans()
    (root,) = [s for s in spans if s.name == "DAG"]
    tasks = {}
    for s in spans:
        assert s.attributes is not None
        if s.parent is not None and s.parent.span_id == root.context.span_id:
            tasks[s.attributes.get(N.DAG_TASK)] = s.name
        else:  # the DAG itself, and what runs inside the PAR and the PAR_FOR
            assert N.DAG_TASK not in s.attributes, s.name
    assert tasks == {"a": "process a", "both": "PAR", "squares": "PAR_FOR", "z": "process z"}


async def test_a_retried_composition_task_names_its_task_on_every_attempt(
    span_exporter: InMemorySpanExporter,
) -> None:
    attempts = []

    @Process
    async def flaky(ctx: ProcessContext) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt fails")
        return 1

    dag = DAG("d").add("s", SEQ(flaky), retry=RetryPolicy(2, base_delay=0.001))
    with anyio.fail_after(10):
        assert (await dag.run()).is_ok
    seqs = [s for s in span_exporter.get_finished_spans() if s.name == "SEQ"]
    assert len(seqs) == 2
    assert all(s.attributes is not None and s.attributes[N.DAG_TASK] == "s" for s in seqs)


def test_to_mermaid_draws_edges_and_styles_a_result() -> None:
    dag = DAG("d").add("a", const(1)).add('b "quoted"', const(2), after=["a"])
    assert dag.to_mermaid() == "\n".join(
        ["flowchart LR", '    t0["a"]', '    t1["b #quot;quoted#quot;"]', "    t0 --> t1"]
    )
    result = DAGResult("d", {"a": 1}, {}, ('b "quoted"',), (), "id")
    drawn = dag.to_mermaid(result)
    assert "class t0 ok" in drawn and "class t1 skipped" in drawn


def test_repr_is_short() -> None:
    assert repr(DAG("d").add("a", const(1))) == "DAG('d', tasks=['a'])"


# ------------------------------------------------------------------ the example

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def test_dag_report_example_fails_then_resumes_only_the_failed_task(tmp_path: Path) -> None:
    main = runpy.run_path(str(EXAMPLES / "dag_report.py"), run_name="dag_report")["main"]
    with anyio.fail_after(20):
        outcome = await main(tmp_path / "report.json")
    first, second = outcome["first"], outcome["second"]
    assert list(first.failures) == ["email"]
    assert "mail server unreachable" in first.failures["email"].summary
    assert outcome["first_calls"].count("email") == 2  # its retry policy: two attempts
    assert second.is_ok
    assert second.resumed == ("sales", "costs", "news", "margin", "summary")
    assert outcome["world"].calls == ["email"]
    assert outcome["world"].outbox == [
        "Margin 29.2%; watch out: a competitor cut prices by 5%."
    ]


def test_dag_report_example_runs_from_the_command_line_on_trio(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "dag_report.py"), "--backend", "trio",
         "--state", str(tmp_path / "r.json")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "ran this time: email" in proc.stdout


async def test_under_halt_a_task_waiting_for_a_slot_is_skipped_not_cancelled() -> None:
    started: list[str] = []

    def task(name: str) -> Any:
        async def body(_: Any) -> None:
            started.append(name)
            await anyio.wait_all_tasks_blocked()  # the third task waits for a slot
            if len(started) == 2 and started[1] == name:
                raise ValueError("boom")
            await anyio.sleep_forever()

        return body

    dag = DAG("slots").add("a", task("a")).add("b", task("b")).add("c", task("c"))
    with anyio.fail_after(10):
        result = await dag.run(max_parallel=2)
    assert len(started) == 2
    assert list(result.failures) == [started[1], started[0]]  # the cause first
    (skipped,) = result.skipped
    assert skipped not in started


async def test_a_process_task_returning_a_failed_result_fails_the_task() -> None:
    @Process
    async def refuses(ctx: ProcessContext) -> ProcessResult[Any]:
        return ProcessResult.fail(PermissionError("no access"))

    dag = DAG("refusing").add("refuses", refuses).add("after", const(1), after=["refuses"])
    with anyio.fail_after(10):
        result = await dag.run(on_failure=FailurePolicy.COLLECT)
    assert result.failures["refuses"].summary == "[refuses] PermissionError: no access"
    assert result.skipped == ("after",)
    assert result.as_process_result().is_fail


async def test_a_dag_nests_in_par_with_halt_and_fails_it() -> None:
    from stbass import PAR

    @Process
    async def other(ctx: ProcessContext) -> str:
        await anyio.sleep_forever()
        return "never"  # pragma: no cover

    dag = DAG("inner").add("bad", lambda _: 1 / 0)
    with anyio.fail_after(10):
        result = await PAR(dag, other).run()
    assert not result.is_ok
    assert isinstance(result.failures[0].error, ZeroDivisionError)


async def test_only_the_successful_attempt_s_output_counts_under_retry() -> None:
    attempts = {"flaky": 0, "quiet": 0}

    @Process
    async def flaky(ctx: ProcessContext) -> str:
        attempts["flaky"] += 1
        await ctx.send("output", f"attempt {attempts['flaky']}")
        if attempts["flaky"] == 1:
            raise ConnectionError("try again")
        return "returned"

    @Process
    async def quiet_on_retry(ctx: ProcessContext) -> str:
        attempts["quiet"] += 1
        if attempts["quiet"] == 1:
            await ctx.send("output", "stale")
            raise ConnectionError("try again")
        return "fresh"

    policy = RetryPolicy(2, "constant", base_delay=0)
    dag = DAG("outputs").add("flaky", flaky, retry=policy).add("quiet", quiet_on_retry, retry=policy)
    with anyio.fail_after(10):
        result = await dag.run()
    assert result.values == {"flaky": "attempt 2", "quiet": "fresh"}
