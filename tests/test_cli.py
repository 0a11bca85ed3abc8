"""The ``stbass-trace`` command: view, export, run, and its error messages."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from stbass_tracing import SpanRecord, load_trace, render_html, to_jaeger
from stbass_tracing._cli import main
from test_viewer import page_data, sample_trace

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "getting_started.py"


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    path = tmp_path / "sample.jsonl"
    sample_trace().write(path)
    return path


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stbass_tracing", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ------------------------------------------------------------------ errors


def test_missing_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.jsonl"
    assert main(["view", str(missing), "-o", str(tmp_path / "x.html")]) == 2
    assert error_line(capsys) == f"stbass-trace: error: {missing}: no such file"
    assert not (tmp_path / "x.html").exists()


def test_empty_trace_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["export", str(empty), "--format", "perfetto"]) == 2
    assert error_line(capsys) == f"stbass-trace: error: {empty}: empty trace file (no spans)"


def test_corrupt_line_is_named(trace_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = trace_file.read_text().splitlines()
    lines[2] = lines[2][: len(lines[2]) // 2]  # truncated JSON on line 3
    trace_file.write_text("\n".join(lines) + "\n")
    assert main(["view", str(trace_file)]) == 2
    line = error_line(capsys)
    assert line.startswith(f"stbass-trace: error: {trace_file}:3: invalid JSON (")


def test_line_that_is_not_a_span_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    good = json.dumps(SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10).to_json())
    bad.write_text(good + "\n" + json.dumps([1, 2]) + "\n")
    assert main(["view", str(bad)]) == 2
    assert error_line(capsys) == f"stbass-trace: error: {bad}:2: expected a JSON object (one span), got list"
    bad.write_text(json.dumps({"name": "x", "trace_id": "a" * 32, "span_id": "b" * 16,
                               "start_time_ns": "soon", "end_time_ns": 5}) + "\n")
    assert main(["view", str(bad)]) == 2
    assert error_line(capsys) == f"stbass-trace: error: {bad}:1: 'start_time_ns' must be an integer, got 'soon'"


def test_directory_and_binary_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["view", str(tmp_path)]) == 2
    assert "is a directory" in error_line(capsys)
    binary = tmp_path / "trace.bin"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    assert main(["view", str(binary)]) == 2
    assert "not a text file" in error_line(capsys)


def test_errors_in_a_subprocess_have_exit_status_2_and_no_traceback(tmp_path: Path) -> None:
    proc = run_cli("view", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"stbass-trace: error: {tmp_path / 'missing.jsonl'}: no such file"
    usage = run_cli("export", str(tmp_path / "x.jsonl"), "--format", "svg")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr and "Traceback" not in usage.stderr


# ------------------------------------------------------------------ view / export


def test_view_writes_the_page(trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "page.html"
    assert main(["view", str(trace_file), "-o", str(out), "--title", "Sample"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    data = page_data(out.read_text())
    assert data["meta"]["title"] == "Sample"
    assert sum(1 for r in data["rows"] if r["kind"] == "process") == 6
    assert len(data["arrows"]) == 2


def test_view_defaults_to_the_trace_name_with_html(trace_file: Path) -> None:
    assert main(["view", str(trace_file)]) == 0
    assert trace_file.with_suffix(".html").exists()


def test_export_perfetto_and_jaeger(trace_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(trace_file), "--format", "perfetto"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert sum(1 for e in doc["traceEvents"] if e["ph"] == "X") == len(sample_trace())
    out = tmp_path / "jaeger.json"
    assert main(["export", str(trace_file), "--format", "jaeger", "-o", str(out)]) == 0
    jaeger = json.loads(out.read_text())
    assert len(jaeger["data"][0]["spans"]) == len(sample_trace())


# ------------------------------------------------------------------ run


@pytest.mark.parametrize("backend", [None, "asyncio", "trio"])
def test_run_traces_a_script_and_writes_its_page(tmp_path: Path, backend: str | None) -> None:
    out = tmp_path / "gs.html"
    args = ["run", str(EXAMPLE), "-o", str(out)]
    if backend:
        args += ["--backend", backend]
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Pipeline succeeded!" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == str(out)
    trace = load_trace(out.with_suffix(".jsonl"))
    assert {s.resource.get("service.name") for s in trace} == {"getting_started"}
    data = page_data(out.read_text())
    assert [r["label"] for r in data["rows"]][0] == "PAR (2)"
    assert len(data["arrows"]) == 1


def test_run_keeps_spans_when_the_script_configures_its_own_exporter(tmp_path: Path) -> None:
    script = tmp_path / "own.py"
    script.write_text(
        "import anyio, stbass_tracing\n"
        "from stbass import PAR, Process, ProcessResult\n"
        "@Process\n"
        "async def hello(ctx):\n"
        "    return ProcessResult.ok('hi')\n"
        "async def main():\n"
        "    await PAR(hello, hello.with_name('again')).run()\n"
        "if __name__ == '__main__':\n"
        "    with stbass_tracing.configure('memory'):\n"
        "        anyio.run(main)\n"
    )
    out = tmp_path / "own.html"
    proc = run_cli("run", str(script), "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = page_data(out.read_text())
    assert sorted(r["label"] for r in data["rows"]) == ["PAR (2)", "again", "hello"]


def test_run_a_failing_script_still_writes_the_page(tmp_path: Path) -> None:
    script = tmp_path / "fails.py"
    script.write_text(
        "import anyio\n"
        "from stbass import PAR, Process, ProcessResult\n"
        "@Process\n"
        "async def ok(ctx):\n"
        "    return ProcessResult.ok(1)\n"
        "async def main():\n"
        "    await PAR(ok).run()\n"
        "    raise SystemExit(3)\n"
    )
    out = tmp_path / "fails.html"
    proc = run_cli("run", str(script), "--backend", "trio", "-o", str(out), cwd=tmp_path)
    assert proc.returncode == 3
    assert out.exists()


def test_run_errors(tmp_path: Path) -> None:
    proc = run_cli("run", str(tmp_path / "nope.py"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"stbass-trace: error: {tmp_path / 'nope.py'}: no such script"
    script = tmp_path / "nomain.py"
    script.write_text("x = 1\n")
    proc = run_cli("run", str(script), "--backend", "trio", cwd=tmp_path)
    assert proc.returncode == 2 and "needs an 'async def main()'" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_cli("run", str(script), cwd=tmp_path)
    assert proc.returncode == 2
    assert "produced no spans" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------ other formats, serve


def test_view_and_export_read_jaeger_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jaeger = tmp_path / "jaeger.json"
    jaeger.write_text(json.dumps(to_jaeger(sample_trace()), indent=2))  # pretty-printed, as Jaeger UI saves it
    out = tmp_path / "jaeger.html"
    assert main(["view", str(jaeger), "-o", str(out)]) == 0
    data = page_data(out.read_text())
    assert [r["label"] for r in data["rows"]] == [r["label"] for r in page_data(render_html(sample_trace()))["rows"]]
    assert len(data["arrows"]) == 2 and len(data["failures"]) == 1
    capsys.readouterr()
    assert main(["export", str(jaeger), "--format", "perfetto"]) == 0
    assert json.loads(capsys.readouterr().out)["traceEvents"]


def test_view_reads_otlp_json_lines_with_non_stbass_spans(tmp_path: Path) -> None:
    # what an OpenTelemetry file exporter writes: one ExportTraceServiceRequest per line
    def request(name: str, span_id: str, parent: str, kind: int, code: int) -> dict[str, object]:
        return {"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "shop"}}]},
            "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.flask"}, "spans": [{
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": span_id, "parentSpanId": parent,
                "name": name, "kind": kind, "startTimeUnixNano": "1700000000000000000",
                "endTimeUnixNano": "1700000000250000000",
                "attributes": [{"key": "http.status_code", "value": {"intValue": "500"}}],
                "status": {"code": code, "message": "boom" if code == 2 else ""}}]}]}]}

    path = tmp_path / "otlp.jsonl"
    path.write_text(json.dumps(request("GET /checkout", "00f067aa0ba902b7", "", 2, 2)) + "\n"
                    + json.dumps(request("SELECT orders", "00f067aa0ba902b8", "00f067aa0ba902b7", 3, 0)) + "\n")
    trace = load_trace(path)
    assert [(s.name, s.kind, s.status_code, s.attributes) for s in trace] == [
        ("GET /checkout", "SERVER", "ERROR", {"http.status_code": 500}),
        ("SELECT orders", "CLIENT", "UNSET", {"http.status_code": 500}),
    ]
    out = tmp_path / "otlp.html"
    assert main(["view", str(path), "-o", str(out)]) == 0
    data = page_data(out.read_text())
    # plain lanes: one per service and nesting depth, the call nested under the request
    assert [(r["label"], r["kind"], r["depth"]) for r in data["rows"]] == [
        ("shop", "orphans", 0), ("shop › 2", "orphans", 1)]
    assert [data["spans"][i]["name"] for i in data["failures"]] == ["GET /checkout"]  # a failed plain span


def test_bad_otlp_and_jaeger_files_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "xyz", "spanId": "00f067aa0ba902b7", "name": "x"}]}]}]}) + "\n")
    assert main(["view", str(bad)]) == 2
    assert error_line(capsys) == f"stbass-trace: error: {bad}:1: 'traceId' must be 32 hex digits, got 'xyz'"
    bad.write_text(json.dumps({"data": [{"spans": [{"spanID": "1"}]}]}, indent=1))
    assert main(["view", str(bad)]) == 2
    assert error_line(capsys) == (f"stbass-trace: error: {bad}: data[0].spans[0] must be an object "
                                  "with a string 'operationName'")
    bad.write_text('{"something": "else"}\n')  # read as a stbass trace file: says what a span needs
    assert main(["view", str(bad)]) == 2
    assert error_line(capsys).endswith(":1: span is missing required key(s): name, trace_id, span_id, "
                                       "start_time_ns, end_time_ns")


def test_serve_reports_a_port_in_use_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = run_cli("serve", "--port", str(port), "--store", str(tmp_path / "store"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"stbass-trace: error: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in proc.stderr
    usage = run_cli("serve", "--max-store-mb", "0")
    assert usage.returncode == 2 and "expected a positive integer" in usage.stderr
