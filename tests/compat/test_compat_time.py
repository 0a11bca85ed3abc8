"""stbass 0.1 compatibility: time values are ``datetime.timedelta``s, as in 0.1:
``Failure.elapsed``, ``TimerExpired.elapsed``, ``TIMER.elapsed`` and
``DEADLINE.remaining``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio
import pytest

from stbass import (
    ALT,
    DEADLINE,
    TIMER,
    Failure,
    Guard,
    Process,
    ProcessContext,
    TimerExpired,
)
from testing_backends import TIMER_BACKENDS

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_failure_elapsed_is_a_timedelta() -> None:
    failure = Failure(
        TimeoutError("slow"),
        process_name="fetch",
        started_at=T0,
        failed_at=T0 + timedelta(seconds=3),
    )
    assert failure.elapsed == timedelta(seconds=3)
    assert failure.elapsed.total_seconds() == 3.0  # the 0.1 way to get seconds
    assert Failure(ValueError("x")).elapsed is None  # start unknown


def test_timer_expired_built_with_a_timedelta_formats() -> None:
    expired = TimerExpired(
        started_at=1.0, deadline=3.0, elapsed=timedelta(seconds=2), timer_name="llm"
    )
    assert expired.elapsed == timedelta(seconds=2)
    assert str(expired) == "timer 'llm' expired after 2.000s"
    assert "timedelta" in repr(expired)


def test_timer_elapsed_and_deadline_remaining_are_timedeltas() -> None:
    timer = TIMER(30.0, name="t")
    assert isinstance(timer.elapsed, timedelta)
    assert timedelta(0) <= timer.elapsed < timedelta(seconds=30)
    assert isinstance(timer.remaining, timedelta)
    later = DEADLINE(datetime.now(timezone.utc) + timedelta(minutes=10))
    assert timedelta(minutes=9) < later.remaining <= timedelta(minutes=10)
    past = DEADLINE(datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert past.remaining == timedelta(0)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
async def test_an_alt_timer_fires_with_a_timedelta_elapsed() -> None:
    with anyio.fail_after(10):
        got = await ALT(Guard(TIMER(0.05, name="nap")))
    assert isinstance(got, TimerExpired)
    assert isinstance(got.elapsed, timedelta)
    assert got.elapsed >= timedelta(0)
    assert got.timer_name == "nap"


@pytest.mark.anyio
async def test_a_failed_process_reports_a_timedelta_elapsed() -> None:
    @Process
    async def fails(ctx: ProcessContext) -> None:
        await anyio.lowlevel.checkpoint()
        raise ValueError("boom")

    result = await fails.execute(ProcessContext("fails"))
    assert isinstance(result.failure.elapsed, timedelta)
    assert result.failure.elapsed >= timedelta(0)
