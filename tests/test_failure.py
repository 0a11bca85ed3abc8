"""retry_process, FailureReport and FailureAggregator (stbass.failure)."""

from __future__ import annotations

import sys

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest
from testing_backends import TIMER_BACKENDS

import stbass.failure
import stbass.result
from stbass import (
    PAR,
    Chan,
    Failure,
    FailurePolicy,
    Placement,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
    RetryPolicy,
)
from stbass.failure import (
    FailureAggregator,
    FailurePatterns,
    FailureReport,
    RepeatedFailure,
    retry_process,
)

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _virtual(anyio_backend: Any) -> bool:
    """True on trio with MockClock: sleeps cost nothing, time is exact."""
    return isinstance(anyio_backend, tuple) and "clock" in anyio_backend[1]


def _base_delay(anyio_backend: Any) -> float:
    return 2.0 if _virtual(anyio_backend) else 0.001


def _flaky(failures: int, error: type[Exception] = ConnectionError) -> tuple[Process, list[float]]:
    """A process that fails *failures* times, then returns the attempt count.
    The list records the (anyio) time each attempt started."""
    starts: list[float] = []

    @Process
    async def flaky(ctx: ProcessContext) -> ProcessResult[int]:
        starts.append(anyio.current_time())
        if len(starts) <= failures:
            raise error(f"attempt {len(starts)} failed")
        return ProcessResult.ok(len(starts))

    return flaky, starts


def _failure(
    name: str = "p",
    error: BaseException | None = None,
    *,
    elapsed: float | None = None,
    parent: str | None = None,
) -> Failure:
    started = None if elapsed is None else T0
    failed_at = T0 + timedelta(seconds=elapsed or 0.0)
    return Failure(
        error if error is not None else ValueError("bad"),
        process_name=name,
        started_at=started,
        failed_at=failed_at,
        parent_process=parent,
    )


# ======================================================================= retry_process


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
@pytest.mark.anyio
async def test_retry_returns_first_success_after_failures(anyio_backend: Any) -> None:
    flaky, starts = _flaky(2)
    policy = RetryPolicy(5, base_delay=_base_delay(anyio_backend))
    with anyio.fail_after(60):
        result = await retry_process(flaky, ProcessContext("flaky"), policy)
    assert result.is_ok
    assert result.value == 3
    assert len(starts) == 3


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
@pytest.mark.anyio
async def test_retry_gives_up_with_last_failure_and_attempt_count(anyio_backend: Any) -> None:
    flaky, starts = _flaky(100)
    policy = RetryPolicy(4, backoff="constant", base_delay=_base_delay(anyio_backend))
    with anyio.fail_after(60):
        result = await retry_process(flaky, ProcessContext("flaky"), policy)
    assert result.is_fail
    assert len(starts) == 4
    failure = result.failure
    assert str(failure.error) == "attempt 4 failed"
    assert failure.process_name == "flaky"
    assert getattr(failure.error, "stbass_attempts") == 4
    assert any("after 4 attempts" in note for note in failure.error.__notes__)
    assert failure.traceback_str is not None and "after 4 attempts" in failure.traceback_str
    assert "after 4 attempts" in failure.detailed


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
@pytest.mark.anyio
@pytest.mark.parametrize(
    ("backoff", "factors"),
    [("exponential", [1, 2, 4]), ("linear", [1, 2, 3]), ("constant", [1, 1, 1])],
)
async def test_retry_sleeps_policy_delays_between_attempts(
    anyio_backend: Any, backoff: Any, factors: list[int]
) -> None:
    flaky, starts = _flaky(100)
    base = _base_delay(anyio_backend)
    policy = RetryPolicy(4, backoff=backoff, base_delay=base)
    with anyio.fail_after(60):
        await retry_process(flaky, ProcessContext("flaky"), policy)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(gaps) == 3
    if _virtual(anyio_backend):
        # virtual time: the gaps are exactly the policy's delays
        assert gaps == pytest.approx([base * f for f in factors])
    else:
        assert all(g >= 0 for g in gaps)


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
@pytest.mark.anyio
async def test_retry_with_one_attempt_does_not_sleep(anyio_backend: Any) -> None:
    flaky, starts = _flaky(100)
    with anyio.fail_after(5):
        before = anyio.current_time()
        result = await retry_process(
            flaky, ProcessContext("flaky"), RetryPolicy(1, base_delay=1000.0)
        )
        after = anyio.current_time()
    assert result.is_fail and len(starts) == 1
    assert getattr(result.failure.error, "stbass_attempts") == 1
    if _virtual(anyio_backend):
        assert after == before


@pytest.mark.anyio
async def test_retry_on_returns_other_errors_at_once() -> None:
    flaky, starts = _flaky(100, error=KeyError)
    policy = RetryPolicy(5, base_delay=0.001)
    with anyio.fail_after(10):
        result = await retry_process(
            flaky, ProcessContext("flaky"), policy, retry_on=ConnectionError
        )
    assert len(starts) == 1
    assert isinstance(result.failure.error, KeyError)
    assert getattr(result.failure.error, "stbass_attempts") == 1


@pytest.mark.anyio
async def test_retry_on_retries_matching_errors() -> None:
    flaky, starts = _flaky(2, error=ConnectionResetError)
    policy = RetryPolicy(5, base_delay=0.001)
    with anyio.fail_after(10):
        result = await retry_process(
            flaky, ProcessContext("flaky"), policy, retry_on=(TimeoutError, ConnectionError)
        )
    assert result.is_ok and len(starts) == 3


@pytest.mark.anyio
async def test_retry_records_every_attempt_in_report() -> None:
    flaky, _ = _flaky(2)
    report = FailureReport("retries")
    with anyio.fail_after(10):
        result = await retry_process(
            flaky, ProcessContext("flaky"), RetryPolicy(5, base_delay=0.001), report=report
        )
    assert result.is_ok
    assert (report.total, report.failed, report.succeeded) == (3, 2, 1)
    assert report.common_failure_types == {"ConnectionError": 2}


@pytest.mark.anyio
async def test_retry_keeps_checkpoint_between_attempts() -> None:
    seen: list[Any] = []

    @Process
    async def resumable(ctx: ProcessContext) -> ProcessResult[str]:
        seen.append(ctx.last_checkpoint)
        done = (ctx.last_checkpoint or 0) + 1
        ctx.checkpoint(done)
        if done < 3:
            raise ConnectionError("interrupted")
        return ProcessResult.ok(f"finished at step {done}")

    with anyio.fail_after(10):
        result = await retry_process(
            resumable, ProcessContext("resumable"), RetryPolicy(5, base_delay=0.001)
        )
    assert seen == [None, 1, 2]
    assert result.value == "finished at step 3"


@pytest.mark.anyio
async def test_retried_process_can_use_its_channel_again() -> None:
    ch = Chan(int, name="jobs")
    received: list[int] = []

    @Process
    async def consumer(ctx: ProcessContext) -> ProcessResult[int]:
        value: int = await ctx.recv("jobs")
        received.append(value)
        if value < 2:
            raise ValueError(f"cannot handle {value}")
        return ProcessResult.ok(value)

    ctx = ProcessContext("consumer", channels={"jobs": ch})
    results: list[ProcessResult[Any]] = []

    async def run_retry() -> None:
        results.append(await retry_process(consumer, ctx, RetryPolicy(5, base_delay=0.001)))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_retry)
            for v in range(3):
                await ch.send(v)
    assert received == [0, 1, 2]
    assert results[0].value == 2


@pytest.mark.anyio
async def test_cancel_during_backoff_sleep_propagates() -> None:
    flaky, starts = _flaky(100)
    finished: list[ProcessResult[Any]] = []

    async def run_retry() -> None:
        finished.append(
            await retry_process(flaky, ProcessContext("flaky"), RetryPolicy(3, base_delay=1000.0))
        )

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_retry)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert len(starts) == 1  # sleeping after the first failure when cancelled
    assert finished == []


@pytest.mark.anyio
async def test_cancel_during_attempt_is_not_retried() -> None:
    attempts: list[int] = []

    @Process
    async def hangs(ctx: ProcessContext) -> ProcessResult[None]:
        attempts.append(1)
        await anyio.Event().wait()
        return ProcessResult.ok()

    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    retry_process, hangs, ProcessContext("hangs"), RetryPolicy(3, base_delay=0.0)
                )
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
    assert scope.cancelled_caught
    assert attempts == [1]


@pytest.mark.anyio
async def test_retry_process_accepts_a_composition() -> None:
    flaky, starts = _flaky(1)
    par = PAR(flaky)
    with anyio.fail_after(10):
        result = await retry_process(par, ProcessContext("outer"), RetryPolicy(3, base_delay=0.001))
    assert result.is_ok and result.value == [2]
    assert len(starts) == 2


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("args", "kwargs", "word"),
    [
        (("not a process", "ctx", "policy"), {}, "process must be a Process"),
        (("proc", "not a ctx", "policy"), {}, "ctx must be a ProcessContext"),
        (("proc", "ctx", FailurePolicy.HALT), {}, "policy must be a RetryPolicy"),
        (("proc", "ctx", "policy"), {"retry_on": "ValueError"}, "retry_on"),
        (("proc", "ctx", "policy"), {"retry_on": (ValueError, int)}, "retry_on"),
        (("proc", "ctx", "policy"), {"retry_on": ()}, "retry_on"),
        (("proc", "ctx", "policy"), {"report": []}, "report must be a FailureReport"),
    ],
)
async def test_retry_process_rejects_bad_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], word: str
) -> None:
    flaky, starts = _flaky(0)
    real = {"proc": flaky, "ctx": ProcessContext("x"), "policy": RetryPolicy(2, base_delay=0.0)}
    call: list[Any] = [real.get(a, a) if isinstance(a, str) else a for a in args]
    with pytest.raises(TypeError, match=word):
        await retry_process(*call, **kwargs)
    assert starts == []


@pytest.mark.anyio
async def test_retry_process_hints_at_decorator_for_plain_function() -> None:
    async def plain(ctx: ProcessContext) -> ProcessResult[None]:
        return ProcessResult.ok()

    with pytest.raises(TypeError, match="@Process"):
        await retry_process(plain, ProcessContext("x"), RetryPolicy())  # type: ignore[arg-type]


# ======================================================================= FailureReport


def test_empty_report() -> None:
    report = FailureReport()
    assert (report.total, report.failed, report.succeeded) == (0, 0, 0)
    assert report.failure_rate == 0.0
    assert report.common_failure_types == {}
    assert report.slowest_failure is None
    assert report.recommendations() == []
    assert not report.pattern_analysis().has_patterns
    assert report.summary() == "Failure report: 0 of 0 failed (0.0%)"
    assert json.loads(json.dumps(report.to_dict()))["total"] == 0


def test_report_counts_results_and_failures() -> None:
    report = FailureReport("batch")
    report.add(ProcessResult.ok(1))
    report.add(ProcessResult.ok(2))
    report.add(ProcessResult.fail(ValueError("x"), process_name="a"))
    report.add(_failure("b"))
    assert (report.total, report.failed, report.succeeded) == (4, 2, 2)
    assert report.failure_rate == 0.5
    assert [f.process_name for f in report.failures] == ["a", "b"]
    assert report.name == "batch"
    assert "2 of 4 failed" in repr(report)


def test_common_failure_types_most_common_first() -> None:
    report = FailureReport()
    for err in [KeyError("k"), ValueError("1"), ValueError("2"), TimeoutError(), ValueError("3")]:
        report.add(_failure("p", err))
    report.add(_failure("q", KeyError("j")))
    assert list(report.common_failure_types.items()) == [
        ("ValueError", 3),
        ("KeyError", 2),
        ("TimeoutError", 1),
    ]


def test_slowest_failure_skips_unknown_start() -> None:
    report = FailureReport()
    report.add(_failure("fast", elapsed=0.5))
    slow = _failure("slow", elapsed=9.0)
    report.add(slow)
    report.add(_failure("unknown"))  # no started_at: elapsed is None
    assert report.slowest_failure is slow
    only_unknown = FailureReport()
    only_unknown.add(_failure("unknown"))
    assert only_unknown.slowest_failure is None


@pytest.mark.parametrize("bad", [None, 3, "failed", ValueError("raw exception")])
def test_add_rejects_other_types(bad: Any) -> None:
    report = FailureReport()
    with pytest.raises(TypeError, match="result must be a ProcessResult or a Failure"):
        report.add(bad)
    assert report.total == 0


def test_report_name_must_be_str() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        FailureReport(42)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_extend_with_par_result_counts_every_child() -> None:
    @Process
    async def good(ctx: ProcessContext) -> ProcessResult[str]:
        return ProcessResult.ok("fine")

    @Process
    async def bad(ctx: ProcessContext) -> ProcessResult[str]:
        raise RuntimeError("broken")

    with anyio.fail_after(10):
        result = await PAR(good, bad, good.with_name("good2"), on_failure=FailurePolicy.COLLECT).run()
    report = FailureReport("par")
    with pytest.raises(TypeError, match="extend"):
        report.add(result)  # type: ignore[arg-type]
    report.extend(result)
    assert (report.total, report.failed) == (3, 1)
    assert report.failures[0].process_name == "bad"


def test_extend_with_bad_item_adds_nothing() -> None:
    report = FailureReport()
    with pytest.raises(TypeError, match=r"results\[1\]"):
        report.extend([ProcessResult.ok(), "oops", _failure()])  # type: ignore[list-item]
    assert report.total == 0
    with pytest.raises(TypeError, match="results must be"):
        report.extend("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="results must be"):
        report.extend(ProcessResult.ok())  # type: ignore[arg-type]
    items: list[ProcessResult[Any] | Failure] = [ProcessResult.ok(), _failure()]
    report.extend(iter(items))
    assert (report.total, report.failed) == (2, 1)


def test_repeat_timeouts_and_errors_are_per_process_and_type() -> None:
    report = FailureReport()
    report.add(_failure("fetch", TimeoutError("slow")))
    report.add(_failure("fetch", TimeoutError("slow again")))
    report.add(
        _failure("fetch", ProcessCancelledError("late", reason="deadline", process_name="fetch"))
    )
    report.add(_failure("store", TimeoutError("once")))
    for _ in range(3):
        report.add(_failure("parse", ValueError("bad json")))
    report.add(_failure("parse", KeyError("once")))
    report.add(_failure("other", ValueError("once")))
    patterns = report.pattern_analysis()
    assert isinstance(patterns, FailurePatterns)
    assert patterns.repeat_timeouts == (
        RepeatedFailure("fetch", "TimeoutError", 2),
    )
    assert patterns.repeat_errors == (RepeatedFailure("parse", "ValueError", 3),)
    assert patterns.cascade_failures == ()
    assert len(patterns.root_causes) == report.failed
    assert patterns.has_patterns


def test_deadline_cancellations_of_one_process_count_as_repeated_timeouts() -> None:
    report = FailureReport()
    for _ in range(2):
        error = ProcessCancelledError("late", reason="deadline", process_name="fetch")
        report.add(_failure("fetch", error))
    assert report.pattern_analysis().repeat_timeouts == (
        RepeatedFailure("fetch", "ProcessCancelledError", 2),
    )
    assert report.pattern_analysis().repeat_errors == ()


def test_threshold_controls_repeats() -> None:
    report = FailureReport()
    for _ in range(2):
        report.add(_failure("parse"))
    assert report.pattern_analysis(threshold=3).repeat_errors == ()
    assert report.pattern_analysis(threshold=2).repeat_errors != ()
    with pytest.raises(ValueError, match="threshold"):
        report.pattern_analysis(threshold=1)
    with pytest.raises(TypeError, match="threshold"):
        report.pattern_analysis(threshold="2")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_halt_cancellations_are_cascades_of_the_root_cause() -> None:
    @Process
    async def boom(ctx: ProcessContext) -> ProcessResult[None]:
        await anyio.wait_all_tasks_blocked()
        raise OSError("disk full")

    @Process
    async def waits(ctx: ProcessContext) -> ProcessResult[None]:
        await anyio.Event().wait()
        return ProcessResult.ok()

    with anyio.fail_after(10):
        result = await PAR(boom, waits.with_name("w1"), waits.with_name("w2")).run()
    report = FailureReport()
    report.extend(result)
    patterns = report.pattern_analysis()
    assert [f.process_name for f in patterns.root_causes] == ["boom"]
    assert sorted(f.process_name for f in patterns.cascade_failures) == ["w1", "w2"]
    advice = report.recommendations()
    assert any("knock-on" in a and "boom" in a for a in advice)


@pytest.mark.anyio
async def test_parent_failing_after_its_child_is_a_cascade() -> None:
    @Process
    async def child(ctx: ProcessContext) -> ProcessResult[None]:
        raise ValueError("child broke")

    inner: list[Any] = []

    @Process
    async def batch(ctx: ProcessContext) -> ProcessResult[None]:
        result = await PAR(child, on_failure=FailurePolicy.COLLECT).run()
        inner.append(result)
        if result.is_fail:
            raise RuntimeError("batch failed: a child failed")
        return ProcessResult.ok()

    with anyio.fail_after(10):
        outer = await batch.execute(ProcessContext("batch"))
    report = FailureReport()
    report.add(outer)  # the parent first: the order does not matter
    report.extend(inner[0])
    assert report.failures[1].parent_process == "batch"
    patterns = report.pattern_analysis()
    assert [f.process_name for f in patterns.cascade_failures] == ["batch"]
    assert [f.process_name for f in patterns.root_causes] == ["child"]


def test_recommendations_follow_patterns() -> None:
    report = FailureReport()
    for _ in range(2):
        report.add(_failure("fetch", TimeoutError()))
    for _ in range(2):
        report.add(_failure("api", ConnectionResetError("reset")))
    for _ in range(2):
        report.add(_failure("parse", ValueError("bad")))
    advice = report.recommendations()
    timeouts = [a for a in advice if "'fetch'" in a]
    transient = [a for a in advice if "'api'" in a]
    deterministic = [a for a in advice if "'parse'" in a]
    assert len(timeouts) == 1 and "hit a timeout 2 times" in timeouts[0]
    assert len(transient) == 1 and "retry_process" in transient[0]
    assert len(deterministic) == 1 and "will not help" in deterministic[0]
    assert any("100% of runs failed" in a for a in advice)


def test_no_recommendations_for_isolated_failures() -> None:
    report = FailureReport()
    for i in range(9):
        report.add(ProcessResult.ok(i))
    report.add(_failure("a", ValueError()))
    assert report.recommendations() == []


def test_to_dict_is_json_serialisable_and_complete() -> None:
    class Weird:
        def __repr__(self) -> str:
            return "Weird()"

    report = FailureReport("jobs")
    report.add(ProcessResult.ok())
    report.add(
        Failure(
            TimeoutError("slow"),
            process_name="fetch",
            started_at=T0,
            failed_at=T0 + timedelta(seconds=2),
            placement=Placement("gpt-x", endpoint="http://127.0.0.1:1"),
            checkpoint=Weird(),
            parent_process="PAR",
        )
    )
    report.add(_failure("fetch", TimeoutError("again")))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["name"] == "jobs"
    assert (data["total"], data["failed"], data["succeeded"]) == (3, 2, 1)
    assert data["failure_rate"] == pytest.approx(2 / 3)
    assert data["common_failure_types"] == [{"error_type": "TimeoutError", "count": 2}]
    assert data["failures_by_process"] == [{"process_name": "fetch", "count": 2}]
    slowest = data["slowest_failure"]
    assert slowest["elapsed_s"] == 2.0
    assert slowest["checkpoint"] == "Weird()"
    assert slowest["started_at"] == T0.isoformat()
    assert "gpt-x" in slowest["placement"]
    assert slowest["timeout"] is True and slowest["attempts"] == 1
    assert data["patterns"]["repeat_timeouts"] == [
        {"process_name": "fetch", "error_type": "TimeoutError", "count": 2}
    ]
    assert data["recommendations"] == report.recommendations()
    assert len(data["failures"]) == 2


def test_summary_has_counts_types_and_advice() -> None:
    report = FailureReport("nightly")
    report.add(ProcessResult.ok())
    report.add(_failure("fetch", TimeoutError("slow"), elapsed=3.0))
    report.add(_failure("fetch", TimeoutError("slow"), elapsed=1.0))
    text = report.summary()
    lines = text.splitlines()
    assert lines[0] == "Failure report 'nightly': 2 of 3 failed (66.7%)"
    assert "  error types: TimeoutError x2" in lines
    assert "  failing processes: fetch x2" in lines
    assert any(ln.startswith("  slowest failure: [fetch] TimeoutError: slow after 3.000s") for ln in lines)
    assert "  repeated timeout: fetch x2" in lines
    assert "  recommendations:" in lines


@pytest.mark.anyio
async def test_attempts_show_in_report_after_retry() -> None:
    flaky, _ = _flaky(100)
    with anyio.fail_after(10):
        result = await retry_process(flaky, ProcessContext("flaky"), RetryPolicy(3, base_delay=0.001))
    report = FailureReport()
    report.add(result)
    assert report.to_dict()["failures"][0]["attempts"] == 3


# ======================================================================= FailureAggregator


def _report(name: str, ok: int, failed: list[tuple[str, BaseException]]) -> FailureReport:
    report = FailureReport(name)
    for i in range(ok):
        report.add(ProcessResult.ok(i))
    for proc, err in failed:
        report.add(_failure(proc, err))
    return report


def test_aggregator_totals_and_worst_processes() -> None:
    agg = FailureAggregator()
    agg.add_report(_report("b1", 3, [("parse", ValueError()), ("fetch", TimeoutError())]))
    agg.add_report(_report("b2", 1, [("parse", ValueError()), ("parse", KeyError())]))
    agg.add_report(_report("b3", 4, []))
    assert (agg.total, agg.failed) == (12, 4)
    assert agg.failure_rate == pytest.approx(4 / 12)
    assert agg.worst_processes(1) == ["parse"]
    assert agg.worst_process_counts(5) == [("parse", 3), ("fetch", 1)]
    assert list(agg.common_failure_types.items()) == [
        ("ValueError", 2),
        ("TimeoutError", 1),
        ("KeyError", 1),
    ]
    assert [r.name for r in agg.reports] == ["b1", "b2", "b3"]


def test_aggregator_sees_later_additions_to_a_report() -> None:
    agg = FailureAggregator()
    report = FailureReport("live")
    agg.add_report(report)
    report.add(_failure("late"))
    assert agg.worst_processes() == ["late"]


def test_overall_summary() -> None:
    agg = FailureAggregator()
    assert agg.overall_summary() == "0 reports: 0 of 0 failed (0.0%)"
    agg.add_report(_report("b1", 1, [("parse", ValueError())]))
    agg.add_report(_report(None, 3, []))  # type: ignore[arg-type]
    lines = agg.overall_summary().splitlines()
    assert lines[0] == "2 reports: 1 of 5 failed (20.0%)"
    assert lines[1] == "  b1: 1 of 2 failed (50.0%)"
    assert lines[2] == "  #2: 0 of 3 failed (0.0%)"
    assert "  error types: ValueError x1" in lines
    assert "  worst processes: parse x1" in lines


def test_aggregator_to_dict_is_json_serialisable() -> None:
    agg = FailureAggregator()
    agg.add_report(_report("b1", 1, [("parse", ValueError())]))
    data = json.loads(json.dumps(agg.to_dict()))
    assert data["reports"] == 1 and data["failed"] == 1
    assert data["worst_processes"] == [{"process_name": "parse", "count": 1}]
    assert data["per_report"][0]["name"] == "b1"


def test_aggregator_rejects_bad_input() -> None:
    agg = FailureAggregator()
    with pytest.raises(TypeError, match="report must be a FailureReport"):
        agg.add_report({"total": 1})  # type: ignore[arg-type]
    report = FailureReport("once")
    agg.add_report(report)
    with pytest.raises(ValueError, match="already added"):
        agg.add_report(report)
    for bad in ("3", 2.0, True):
        with pytest.raises(TypeError, match="n must be an int"):
            agg.worst_processes(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n must be at least 1"):
        agg.worst_processes(0)


# ======================================================================= exports


def test_public_modules_export_the_failure_names() -> None:
    from stbass._compose import _failure

    assert stbass.failure.__all__ == (
        "FailureAggregator",
        "FailurePatterns",
        "FailureReport",
        "RepeatedFailure",
        "retry_process",
    )
    for name in stbass.failure.__all__:
        obj = getattr(stbass.failure, name)
        assert obj is getattr(_failure, name)
        # named after a public module that really has it (so pickle finds it):
        # ``stbass`` where the top level exports it, else ``stbass.failure``
        expected = "stbass" if name in stbass.__all__ else "stbass.failure"
        assert obj.__module__ == expected
        assert getattr(sys.modules[obj.__module__], obj.__qualname__) is obj
    assert stbass.result.FailureReport is FailureReport
    assert stbass.failure.__doc__ and stbass.result.__doc__


@pytest.mark.anyio
async def test_recommendations_notice_that_retrying_did_not_help() -> None:
    timeouts, _ = _flaky(100, error=TimeoutError)
    resets, _ = _flaky(100, error=ConnectionResetError)
    report = FailureReport()
    policy = RetryPolicy(2, base_delay=0.001)
    with anyio.fail_after(10):
        await retry_process(timeouts.with_name("slow"), ProcessContext("slow"), policy, report=report)
        await retry_process(resets.with_name("reset"), ProcessContext("reset"), policy, report=report)
    advice = report.recommendations()
    assert any("'slow' hit a timeout 2 times, even with retry_process (2 attempts)" in a for a in advice)
    assert any("'reset'" in a and "retrying (2 attempts) was not enough" in a for a in advice)
