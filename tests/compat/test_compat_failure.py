"""stbass 0.1 compatibility: ``Failure.process_id``, the 0.1 shapes of
``FailureReport`` and ``FailureAggregator`` (with the 0.2 values beside them),
and ``RetryPolicy``/``retry_process`` that cannot overflow."""

from __future__ import annotations

import json
import math

import anyio
import pytest

from stbass import (
    Failure,
    FailureAggregator,
    FailureReport,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
    RetryPolicy,
    retry_process,
)


def test_failure_process_id_is_generated_when_not_given() -> None:
    first, second = Failure(ValueError("a")), Failure(ValueError("b"))
    assert isinstance(first.process_id, str) and first.process_id
    assert first.process_id != second.process_id
    assert Failure(ValueError("c"), process_id="given").process_id == "given"


def _report() -> FailureReport:
    report = FailureReport("batch")
    report.add(ProcessResult.ok(1))
    report.add(ProcessResult.ok(2))
    for _ in range(3):
        report.add(Failure(TimeoutError("slow"), process_name="fetch"))
    for _ in range(2):
        report.add(Failure(ValueError("bad row"), process_name="parse"))
    return report


def test_failure_report_counts_have_their_01_names() -> None:
    report = _report()
    assert report.total_processes == 7
    assert report.succeeded == 2
    assert report.failed == 5
    assert report.failure_rate == pytest.approx(5 / 7)


def test_common_failure_types_is_a_dict_of_type_name_to_count() -> None:
    types = _report().common_failure_types
    assert types == {"TimeoutError": 3, "ValueError": 2}
    assert list(types) == ["TimeoutError", "ValueError"]  # most common first


def test_pattern_analysis_is_the_01_dict() -> None:
    patterns = _report().pattern_analysis()
    assert isinstance(patterns, dict)
    assert patterns["repeat_timeouts"] == ["fetch"]
    assert patterns["repeat_errors"] == [("parse", "ValueError")]
    assert patterns["cascade_failures"] is False
    json.dumps(patterns)  # plain data, as in 0.1
    # the 0.2 details, beside it
    assert patterns.repeat_timeouts[0].count == 3
    assert [f.process_name for f in patterns.root_causes] == ["fetch"] * 3 + ["parse"] * 2


def test_pattern_analysis_sees_cascades() -> None:
    report = FailureReport()
    report.add(Failure(ValueError("boom"), process_name="root"))
    cancelled = ProcessCancelledError("cancelled by HALT", reason="halt", process_name="sibling")
    report.add(Failure(cancelled, process_name="sibling"))
    assert report.pattern_analysis()["cascade_failures"] is True


def test_recommendations_name_the_process_and_say_timeout() -> None:
    advice = _report().recommendations()
    about_fetch = [a for a in advice if "fetch" in a]
    assert about_fetch and "timeout" in about_fetch[0]


def test_to_dict_has_the_01_counts() -> None:
    data = _report().to_dict()
    assert (data["total_processes"], data["succeeded"], data["failed"]) == (7, 2, 5)
    json.dumps(data)


def test_aggregator_worst_processes_are_names() -> None:
    aggregator = FailureAggregator()
    aggregator.add_report(_report())
    other = FailureReport("other")
    other.add(Failure(ValueError("x"), process_name="parse"))
    other.add(Failure(ValueError("y"), process_name="parse"))
    aggregator.add_report(other)
    assert aggregator.worst_processes(2) == ["parse", "fetch"]
    assert aggregator.worst_processes(1) == ["parse"]
    assert aggregator.total_processes == 9
    # the 0.2 counts, beside them
    assert aggregator.worst_process_counts(2) == [("parse", 4), ("fetch", 3)]
    assert "fetch" in aggregator.overall_summary()


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, -0.5])
def test_retry_policy_rejects_non_finite_or_negative_delays(bad: float) -> None:
    with pytest.raises(ValueError, match="base_delay"):
        RetryPolicy(max_attempts=3, base_delay=bad)


def test_retry_policy_backoff_is_capped() -> None:
    policy = RetryPolicy(max_attempts=100_000, base_delay=1.0)
    assert policy.delay_for(3) == 8.0
    assert policy.delay_for(50_000) == policy.max_delay
    assert math.isfinite(policy.delay_for(10**9))


@pytest.mark.anyio
async def test_retry_process_with_many_attempts_never_overflows() -> None:
    attempts = []

    @Process
    async def flaky(ctx: ProcessContext) -> ProcessResult:
        attempts.append(1)
        if len(attempts) < 1200:  # past 2**1024: an uncapped backoff would overflow
            raise ConnectionError("try again")
        return ProcessResult.ok("done")

    policy = RetryPolicy(max_attempts=2000, base_delay=1e-9, max_delay=0.0)
    with anyio.fail_after(60):
        result = await retry_process(flaky, ProcessContext("flaky"), policy)
    assert result.is_ok and result.value == "done"
    assert len(attempts) == 1200
