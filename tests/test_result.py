"""ProcessResult, Failure, FailurePolicy and RetryPolicy (stbass.result)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import pytest

import stbass
import stbass.result
from stbass import Failure, Placement, Process, ProcessContext
from stbass.result import FailurePolicy, FailureReport, ProcessResult, RetryPolicy

T0 = datetime(2025, 1, 1, tzinfo=timezone.utc)


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


# ======================================================================= ProcessResult


def test_ok_holds_value() -> None:
    result = ProcessResult.ok(42)
    assert result.is_ok and not result.is_fail
    assert result.value == 42
    assert ProcessResult.ok().value is None
    assert repr(result) == "ProcessResult.ok(42)"


def test_ok_has_no_failure() -> None:
    with pytest.raises(AttributeError, match="no failure"):
        ProcessResult.ok(1).failure


def test_fail_wraps_exception_with_fields() -> None:
    error = ValueError("bad input")
    result = ProcessResult.fail(error, process_name="parse", checkpoint=3)
    assert result.is_fail and not result.is_ok
    assert result.failure.error is error
    assert result.failure.process_name == "parse"
    assert result.failure.checkpoint == 3
    assert repr(result) == "ProcessResult.fail(ValueError('bad input'))"


def test_value_of_failure_reraises_original_error() -> None:
    error = KeyError("missing")
    result = ProcessResult.fail(error)
    with pytest.raises(KeyError) as info:
        result.value
    assert info.value is error


def test_fail_accepts_a_ready_failure_but_not_extra_fields() -> None:
    failure = Failure(ValueError("x"), process_name="p")
    assert ProcessResult.fail(failure).failure is failure
    with pytest.raises(TypeError, match="failure fields"):
        ProcessResult.fail(failure, process_name="q")


@pytest.mark.parametrize("bad", ["oops", 3, None, ValueError])
def test_fail_rejects_non_exceptions(bad: Any) -> None:
    with pytest.raises(TypeError, match="takes an exception or a Failure"):
        ProcessResult.fail(bad)


def test_result_holds_value_or_failure_not_both() -> None:
    with pytest.raises(TypeError, match="not both"):
        ProcessResult(1, Failure(ValueError()))


def test_process_result_is_immutable() -> None:
    result = ProcessResult.ok(1)
    with pytest.raises(AttributeError, match="immutable"):
        result._value = 2
    with pytest.raises(AttributeError, match="immutable"):
        del result._value
    assert result.value == 1


def test_equality_and_hash() -> None:
    assert ProcessResult.ok(1) == ProcessResult.ok(1)
    assert ProcessResult.ok(1) != ProcessResult.ok(2)
    assert hash(ProcessResult.ok(1)) == hash(ProcessResult.ok(2))
    same_a = ProcessResult.fail(ValueError("x"), process_name="p")
    same_b = ProcessResult.fail(ValueError("x"), process_name="p")
    assert same_a == same_b
    assert same_a != ProcessResult.fail(ValueError("y"), process_name="p")
    assert same_a != ProcessResult.fail(KeyError("x"), process_name="p")
    assert same_a != ProcessResult.fail(ValueError("x"), process_name="q")
    assert same_a != ProcessResult.ok(None)
    assert ProcessResult.ok(1) != 1


# ======================================================================= Failure


def test_failure_defaults() -> None:
    failure = Failure(RuntimeError("boom"))
    assert failure.process_name == "unknown"
    assert failure.process_id and failure.started_at is None
    assert Failure(RuntimeError("x")).process_id != failure.process_id
    assert failure.parent_process is None and failure.placement is None
    assert failure.channel_state is None and failure.checkpoint is None
    assert failure.failed_at.tzinfo is not None
    assert failure.elapsed is None
    assert failure.traceback_str is None  # never raised: no traceback
    assert failure.error_type == "RuntimeError"


def test_failure_summary_and_elapsed() -> None:
    failure = Failure(
        TimeoutError("took too long"),
        process_name="fetch",
        started_at=T0,
        failed_at=T0 + timedelta(seconds=1.5),
    )
    assert failure.summary == "[fetch] TimeoutError: took too long"
    assert failure.elapsed == timedelta(seconds=1.5) and failure.elapsed_s == 1.5
    assert repr(failure) == "Failure(TimeoutError('took too long'), process_name='fetch')"


def test_failure_keeps_traceback_of_raised_error() -> None:
    failure = Failure(_raised(ValueError("deep")), process_name="p")
    assert failure.traceback_str is not None
    assert "_raised" in failure.traceback_str
    assert "ValueError: deep" in failure.traceback_str


def test_failure_detailed_lists_everything() -> None:
    failure = Failure(
        _raised(ValueError("deep")),
        process_name="worker",
        process_id="abc123",
        parent_process="PAR",
        started_at=T0,
        failed_at=T0 + timedelta(seconds=2),
        placement=Placement("gpt-x"),
        checkpoint={"row": 7},
        channel_state={"jobs": {"closed": False}},
    )
    text = failure.detailed
    lines = text.splitlines()
    assert lines[0] == "[worker] ValueError: deep"
    assert "  process id: abc123" in lines
    assert "  parent: PAR" in lines
    assert "  elapsed: 2.000s" in lines
    assert any(ln.startswith("  placement: ") and "gpt-x" in ln for ln in lines)
    assert "  last checkpoint: {'row': 7}" in lines
    assert any(ln.startswith("  channels: ") for ln in lines)
    assert "  traceback:" in lines
    assert text.rstrip().endswith("ValueError: deep")


def test_failure_is_immutable() -> None:
    failure = Failure(ValueError("x"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        failure.process_name = "other"  # type: ignore[misc]


def test_failure_error_must_be_exception() -> None:
    with pytest.raises(TypeError, match="Failure.error must be an exception, got str"):
        Failure("not an exception")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_execute_fills_failure_fields() -> None:
    @Process
    async def worker(ctx: ProcessContext) -> ProcessResult[None]:
        ctx.checkpoint("half way")
        raise ConnectionError("lost")

    ctx = ProcessContext("worker", parent="pipeline", placement=Placement("gpt-x"))
    with anyio.fail_after(10):
        result = await worker.execute(ctx)
    failure = result.failure
    assert failure.process_name == "worker"
    assert failure.process_id == ctx.process_id
    assert failure.parent_process == "pipeline"
    assert failure.placement is not None and failure.placement.model == "gpt-x"
    assert failure.checkpoint == "half way"
    assert failure.started_at is not None and failure.elapsed is not None
    assert failure.elapsed >= timedelta(0)
    assert failure.traceback_str is not None and "ConnectionError: lost" in failure.traceback_str


# ======================================================================= RetryPolicy


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.backoff, policy.base_delay) == (3, "exponential", 1.0)


@pytest.mark.parametrize(
    ("backoff", "expected"),
    [
        ("exponential", [0.5, 1.0, 2.0, 4.0]),
        ("linear", [0.5, 1.0, 1.5, 2.0]),
        ("constant", [0.5, 0.5, 0.5, 0.5]),
    ],
)
def test_delay_for(backoff: Any, expected: list[float]) -> None:
    policy = RetryPolicy(5, backoff=backoff, base_delay=0.5)
    assert [policy.delay_for(i) for i in range(4)] == expected
    assert all(isinstance(policy.delay_for(i), float) for i in range(4))


def test_zero_base_delay_is_allowed() -> None:
    assert RetryPolicy(2, base_delay=0).delay_for(3) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_attempts": "3"}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": 2.0}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": True}, TypeError, "max_attempts must be an int"),
        ({"max_attempts": 0}, ValueError, "max_attempts must be at least 1"),
        ({"backoff": "fibonacci"}, ValueError, "unknown backoff 'fibonacci'"),
        ({"base_delay": "1"}, TypeError, "base_delay must be a number"),
        ({"base_delay": False}, TypeError, "base_delay must be a number"),
        ({"base_delay": -0.1}, ValueError, "base_delay must be a finite, non-negative"),
        ({"base_delay": float("nan")}, ValueError, "base_delay must be a finite"),
        ({"base_delay": float("inf")}, ValueError, "base_delay must be a finite"),
        ({"max_delay": -1.0}, ValueError, "max_delay must be a finite, non-negative"),
        ({"max_delay": float("inf")}, ValueError, "max_delay must be a finite"),
        ({"max_delay": "60"}, TypeError, "max_delay must be a number"),
    ],
)
def test_retry_policy_rejects_bad_arguments(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        RetryPolicy(**kwargs)


def test_retry_policy_is_frozen() -> None:
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 5  # type: ignore[misc]


# ======================================================================= FailurePolicy


def test_failure_policy_members() -> None:
    assert [p.name for p in FailurePolicy] == ["HALT", "COLLECT"]
    assert FailurePolicy.HALT.value == "halt"
    assert FailurePolicy.COLLECT.value == "collect"
    assert repr(FailurePolicy.COLLECT) == "FailurePolicy.COLLECT"


def test_failure_policy_retry_builds_retry_policy() -> None:
    policy = FailurePolicy.retry(4, backoff="linear", base_delay=0.25)
    assert policy == RetryPolicy(4, backoff="linear", base_delay=0.25)
    assert FailurePolicy.retry() == RetryPolicy()
    with pytest.raises(ValueError, match="unknown backoff"):
        FailurePolicy.retry(backoff="random")  # type: ignore[arg-type]


def test_compositions_reject_a_non_policy() -> None:
    with pytest.raises(TypeError, match="on_failure"):
        stbass.PAR(on_failure="collect")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_failure"):
        stbass.SEQ(on_failure=RetryPolicy())  # type: ignore[arg-type]


# ======================================================================= exports


def test_result_module_exports() -> None:
    from stbass._compose import _failure, _result

    assert stbass.result.__all__ == (
        "Failure",
        "FailurePolicy",
        "FailureReport",
        "ProcessResult",
        "RetryPolicy",
    )
    assert stbass.result.FailureReport is _failure.FailureReport
    for name in ("Failure", "FailurePolicy", "ProcessResult", "RetryPolicy"):
        obj = getattr(stbass.result, name)
        assert obj is getattr(_result, name) is getattr(stbass, name)
    for name in stbass.result.__all__:
        assert getattr(stbass.result, name).__module__ == "stbass"
    assert FailureReport.__doc__


@pytest.mark.parametrize("backoff", ["exponential", "linear", "constant"])
def test_retry_policy_delays_are_capped_and_never_overflow(backoff: Any) -> None:
    policy = RetryPolicy(100_000, backoff=backoff, base_delay=2.0, max_delay=30.0)
    for attempt in (0, 10, 1023, 1024, 5_000, 99_999):
        delay = policy.delay_for(attempt)
        assert 0.0 <= delay <= 30.0
    assert RetryPolicy(5, base_delay=0.0).delay_for(10_000) == 0.0
    assert RetryPolicy(5, base_delay=1.0).delay_for(3) == 8.0  # below the cap: unchanged
