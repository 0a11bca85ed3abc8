"""The README's demo: runs on asyncio and trio and writes one HTML trace per backend."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stbass_tracing import layout_trace, load_trace
from test_viewer import page_data

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo.py"


def test_demo_writes_a_trace_and_a_page_per_backend(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(DEMO), "--out-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    trace_ids = set()
    for backend in ("asyncio", "trio"):
        page = tmp_path / f"demo-{backend}.html"
        assert f"HTML trace: {page}" in proc.stdout
        trace = load_trace(tmp_path / f"demo-{backend}.jsonl")
        assert len(trace.trace_ids) == 1  # one run, one trace
        trace_ids |= set(trace.trace_ids)
        assert {s.resource["service.name"] for s in trace} == {f"stbass-demo-{backend}"}
        names = {s.name for s in trace}
        # fan-out, pipeline, ALT with a timeout, one failure
        assert {"process dispatcher", "process researcher0", "process synthesizer"} <= names
        assert {"process extract", "process transform", "process load"} <= names
        alts = [s for s in trace if s.category == "alt"]
        assert any(e.name == "timer.expired" for s in alts for e in s.events)
        assert any(s.attributes.get("stbass.alt.chosen_name") == "cache" for s in alts)
        assert [s.name for s in trace.failures] == ["process flaky_api"]
        patient = trace.named("process patient")[0]
        assert patient.attributes["stbass.cancelled.by"] == "halt"
        assert len(trace.messages) >= 6
        data = page_data(page.read_text())
        assert len(data["rows"]) == len(layout_trace(trace).rows)
        assert len(data["arrows"]) == len(trace.messages)
        assert "http://" not in page.read_text()
    assert len(trace_ids) == 2  # the two runs are separate traces
