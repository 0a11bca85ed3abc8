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

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name), run_name=name.removesuffix(".py"))


@pytest.mark.anyio
async def test_retry_with_fallback_retries_then_falls_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    main = _load("retry_with_fallback.py")["main"]
    with anyio.fail_after(30):
        answers, report = await main(base_delay=0.001)
    assert [(a.prompt, a.model, a.attempts) for a in answers] == [
        ("hello", "big-model", 1),
        ("summarise", "big-model", 3),
        ("translate", "small-model", 4),
    ]
    assert answers[2].text == "small-model says: TRANSLATE"
    assert isinstance(report, FailureReport)
    # 1 + 3 + 3 calls to the big model and one to the small one; 2 resets, 3 timeouts
    assert (report.total, report.failed) == (8, 5)
    assert report.common_failure_types == {"TimeoutError": 3, "ConnectionError": 2}
    out = capsys.readouterr().out
    assert "falling back to small-model" in out
    assert "even with retry_process (3 attempts)" in out


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
        ("retry_with_fallback.py", "  -> small-model says: TRANSLATE (from small-model, 4 call(s))"),
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
