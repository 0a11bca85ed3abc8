"""The failure-handling examples run on both backends and report what they should."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from stbass.failure import FailureAggregator, FailureReport

from testing_backends import TIMER_BACKENDS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name), run_name=name.removesuffix(".py"))


class TestRetryWithFallback:
    # Its waits are all timers: on trio's virtual clock the hung call and the
    # budget cost nothing; on asyncio the budget is far above the retries' backoff.
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    @pytest.mark.anyio
    async def test_retries_then_falls_back(self, capsys: pytest.CaptureFixture[str]) -> None:
        main = _load("retry_with_fallback.py")["main"]
        with anyio.fail_after(30):
            answers, report = await main(base_delay=0.001, budget=0.5)
        assert [(a.prompt, a.model, a.attempts) for a in answers] == [
            ("hello", "big-model", 1),
            ("summarise", "big-model", 3),  # two resets, retried: no fallback
            ("translate", "small-model", 4),  # 3 timeouts, then the fallback at once
            ("outline", "small-model", 2),  # the big model hangs: the fallback after 0.5 s
        ]
        assert answers[2].text == "small-model says: TRANSLATE"
        assert answers[3].text == "small-model says: OUTLINE"
        assert isinstance(report, FailureReport)
        # 1 + 3 + 3 calls to the big model and two to the small one (the hung call
        # was cancelled, not failed); 2 resets, 3 timeouts
        assert (report.total, report.failed) == (9, 5)
        assert report.common_failure_types == {"TimeoutError": 3, "ConnectionError": 2}
        out = capsys.readouterr().out
        assert "falling back to small-model" in out
        assert "big-model did not answer within 0.5s; also asking small-model" in out
        assert "even with retry_process (3 attempts)" in out

    @pytest.mark.anyio
    async def test_the_fallback_is_not_asked_when_the_primary_answers(self) -> None:
        ns = _load("retry_with_fallback.py")
        primary, fallback = ns["FakeModel"]("big"), ns["FakeModel"]("small")
        report = FailureReport("calls")
        policy = ns["RetryPolicy"](max_attempts=3, base_delay=0.001)
        flow = ns["ask_with_fallback"]("hi", primary, fallback, policy, report, 3600.0)
        with anyio.fail_after(30):
            result = await flow.run()
        assert result.value == "big says: HI" and result.winner == 0 and result.started == 1
        assert fallback.calls == {}
        assert result.results[1].failure.error.reason == "lost"  # never started

    @pytest.mark.anyio
    async def test_the_hung_primary_is_cancelled_when_the_fallback_answers(self) -> None:
        ns = _load("retry_with_fallback.py")
        primary = ns["FakeModel"]("big", hangs=frozenset({"hi"}))
        fallback = ns["FakeModel"]("small")
        policy = ns["RetryPolicy"](max_attempts=3, base_delay=0.001)
        flow = ns["ask_with_fallback"]("hi", primary, fallback, policy, FailureReport(), 0.2)
        with anyio.fail_after(30):
            result = await flow.run()
        assert result.value == "small says: HI" and result.winner == 1
        assert result.cancelled == [0] and result.results[0].failure.error.reason == "lost"


@pytest.mark.anyio
async def test_batch_report_counts_failures_per_batch(capsys: pytest.CaptureFixture[str]) -> None:
    main = _load("batch_report.py")["main"]
    with anyio.fail_after(30):
        aggregator = await main()
    assert isinstance(aggregator, FailureAggregator)
    assert [(r.name, r.total, r.failed) for r in aggregator.reports] == [
        ("batch 1", 8, 3),
        ("batch 2", 8, 1),
        ("batch 3", 8, 2),
    ]
    assert aggregator.worst_process_counts(3) == [("upload", 4), ("parse", 2)]
    assert aggregator.worst_processes(3) == ["upload", "parse"]
    first = aggregator.reports[0].pattern_analysis()
    assert [(r.process_name, r.count) for r in first.repeat_timeouts] == [("upload", 2)]
    out = capsys.readouterr().out
    assert "3 reports: 6 of 24 failed (25.0%)" in out
    assert "worst processes: [('upload', 4), ('parse', 2)]" in out


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("retry_with_fallback.py", "  -> small-model says: OUTLINE (from small-model, 2 call(s))"),
        ("batch_report.py", "3 reports: 6 of 24 failed (25.0%)"),
    ],
)
def test_examples_run_from_the_command_line(backend: str, script: str, expected: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--backend", backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert expected in proc.stdout.splitlines()
    assert proc.stderr == ""
