"""``stbass_tracing.configure()``, the trace-file format and its reader, the exports."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import stbass_tracing
from stbass import _names as N
from stbass import PAR, Chan, FailurePolicy, Process, ProcessContext, ProcessResult, observe
from stbass_tracing import (
    SpanRecord,
    Trace,
    TraceFileError,
    configure,
    load_trace,
    to_jaeger,
    to_perfetto,
    trace_from_spans,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "getting_started.py"


async def run_getting_started() -> None:
    namespace = runpy.run_path(str(EXAMPLE), run_name="getting_started")
    with anyio.fail_after(10):
        await namespace["main"]()


async def run_with_failure() -> None:
    ch = Chan(int, name="numbers")

    @Process
    async def producer(ctx: ProcessContext) -> ProcessResult[None]:
        await ch.send(1)
        return ProcessResult.ok()

    @Process
    async def consumer(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(await ch.recv())

    @Process
    async def broken(ctx: ProcessContext) -> ProcessResult[None]:
        raise KeyError("missing")

    with anyio.fail_after(10):
        await PAR(producer, consumer, broken, on_failure=FailurePolicy.COLLECT).run()


@pytest.fixture(autouse=True)
def _no_leftover_configuration() -> Any:
    yield
    stbass_tracing.shutdown()


# ------------------------------------------------------------------ configure


@pytest.mark.anyio
async def test_memory_exporter_collects_spans_and_shutdown_uninstalls(capsys: pytest.CaptureFixture[str]) -> None:
    before = observe.set_tracer_provider(None)
    observe.set_tracer_provider(before)
    with configure("memory", set_global=False, service_name="unit-test") as handle:
        assert stbass_tracing.current() is handle
        await run_getting_started()
        names = sorted(s.name for s in handle.spans())
        assert names == ["PAR", "process consumer", "process producer", "receive data_chan", "send data_chan"]
        trace = handle.trace()
        assert {s.resource.get("service.name") for s in trace} == {"unit-test"}
    assert handle.is_shutdown
    assert stbass_tracing.current() is None
    current = observe.set_tracer_provider(before)
    assert current is before  # the injection was undone


@pytest.mark.anyio
async def test_file_exporter_round_trips_to_the_same_model_as_memory(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    memory = InMemorySpanExporter()
    with configure("file", path=path, set_global=False, batch=False) as handle:
        handle.provider.add_span_processor(SimpleSpanProcessor(memory))
        await run_with_failure()
    from_file = load_trace(path)
    from_memory = trace_from_spans(memory.get_finished_spans())
    assert len(from_file) == len(from_memory) == 6
    assert sorted(from_file.spans, key=lambda s: s.span_id) == sorted(
        from_memory.spans, key=lambda s: s.span_id
    )
    lines = path.read_text().splitlines()
    assert len(lines) == 6
    first = json.loads(lines[0])
    for key in ("name", "kind", "trace_id", "span_id", "parent_span_id", "start_time_ns", "end_time_ns",
                "attributes", "events", "links", "status", "resource", "scope"):
        assert key in first
    assert len(first["trace_id"]) == 32 and len(first["span_id"]) == 16
    broken = [s for s in from_file if s.name == "process broken"][0]
    assert broken.status_code == "ERROR"
    assert any(e.name == "exception" for e in broken.events)


@pytest.mark.anyio
async def test_env_trace_file_tees_every_span(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tee = tmp_path / "tee.jsonl"
    monkeypatch.setenv("STBASS_TRACE_FILE", str(tee))
    with configure("memory", set_global=False) as handle:
        await run_getting_started()
    assert len(load_trace(tee)) == len(handle.spans()) == 5


def test_console_exporter_is_accepted() -> None:
    with configure("console", set_global=False) as handle:
        assert handle.exporter_name == "console"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"exporter": "zipkin"}, "exporter must be one of"),
        ({"exporter": "file"}, "needs path="),
        ({"exporter": "memory", "path": "x.jsonl"}, "only for the 'file' exporter"),
        ({"exporter": "console", "endpoint": "http://127.0.0.1:1"}, "only for the 'otlp' exporter"),
        ({"exporter": "otlp", "protocol": "http/json"}, "protocol must be one of"),
    ],
)
def test_bad_configure_arguments_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        configure(set_global=False, **kwargs)


def test_otlp_defaults_reach_a_local_jaeger(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME"):
        monkeypatch.delenv(var, raising=False)
    with configure("otlp", set_global=False) as handle:
        assert handle.exporter._endpoint == "http://127.0.0.1:4318/v1/traces"  # type: ignore[attr-defined]
        assert handle.provider.resource.attributes["service.name"] == "stbass"
    with configure("otlp", protocol="grpc", set_global=False) as handle:
        assert type(handle.exporter).__module__.endswith("grpc.trace_exporter")
        assert handle.exporter._endpoint == "127.0.0.1:4317"  # type: ignore[attr-defined]


def test_otlp_honours_the_standard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:14318")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    with configure("otlp", set_global=False) as handle:
        assert handle.exporter._endpoint == "http://127.0.0.1:14318/v1/traces"  # type: ignore[attr-defined]
        assert handle.provider.resource.attributes["service.name"] == "from-env"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with configure("otlp", set_global=False) as handle:
        assert type(handle.exporter).__module__.endswith("grpc.trace_exporter")
    with configure("otlp", endpoint="http://127.0.0.1:9999", protocol="http/protobuf",
                   service_name="explicit", set_global=False) as handle:
        assert handle.exporter._endpoint == "http://127.0.0.1:9999/v1/traces"  # type: ignore[attr-defined]
        assert handle.provider.resource.attributes["service.name"] == "explicit"


def test_a_second_configure_shuts_the_first_down() -> None:
    first = configure("memory", set_global=False)
    second = configure("memory", set_global=False)
    assert first.is_shutdown and not second.is_shutdown
    stbass_tracing.shutdown()
    assert second.is_shutdown


def test_set_global_installs_opentelemetrys_provider_only_when_none_is_set() -> None:
    from opentelemetry import trace

    existing = trace.get_tracer_provider()
    if not isinstance(existing, trace.ProxyTracerProvider):
        with configure("memory") as handle:
            assert trace.get_tracer_provider() is existing  # never replaced
            assert observe.active_tracer() is not None  # stbass still emits to ours
            assert handle.provider is not existing
    else:
        # do not install a global provider in the shared test process: check the guard instead
        with configure("memory", set_global=False):
            assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


# ------------------------------------------------------------------ trace model


def test_load_trace_reports_missing_empty_and_corrupt_files(tmp_path: Path) -> None:
    with pytest.raises(TraceFileError, match="no such file"):
        load_trace(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(TraceFileError, match="empty trace file"):
        load_trace(empty)
    good = SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10).to_json()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(good) + "\n" + '{"name": "x", \n')
    with pytest.raises(TraceFileError) as info:
        load_trace(bad)
    assert info.value.line == 2 and "invalid JSON" in info.value.reason
    missing = tmp_path / "missing.jsonl"
    missing.write_text(json.dumps({"name": "x", "trace_id": "a" * 32}) + "\n")
    with pytest.raises(TraceFileError, match=r":1: span is missing required key\(s\): span_id"):
        load_trace(missing)
    badid = tmp_path / "badid.jsonl"
    badid.write_text(json.dumps({**good, "span_id": "zz"}) + "\n")
    with pytest.raises(TraceFileError, match="'span_id' must be 16 hex digits"):
        load_trace(badid)


def test_trace_relations() -> None:
    t = "c" * 32
    root = SpanRecord("PAR", t, "0" * 15 + "1", None, 0, 100, attributes={"stbass.composition": "PAR"})
    p = SpanRecord("process a", t, "0" * 15 + "2", root.span_id, 10, 90, attributes={"stbass.process.name": "a"})
    send = SpanRecord("send c", t, "0" * 15 + "3", p.span_id, 20, 30, kind="PRODUCER")
    from stbass_tracing import LinkRecord

    recv = SpanRecord("recv c", t, "0" * 15 + "4", p.span_id, 25, 30, kind="CONSUMER",
                      links=(LinkRecord(t, send.span_id),))
    trace = Trace([recv, send, p, root])
    assert [s.name for s in trace.roots] == ["PAR"]
    assert trace.wall_time_ns == 100
    assert [m.channel for m in trace.messages] == ["c"]
    assert trace.parent(p) is root


# ------------------------------------------------------------------ exports


@pytest.mark.anyio
async def test_jaeger_export_has_the_upload_format(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with observe.use_tracer_provider(provider):
        await run_with_failure()
    trace = trace_from_spans(exporter.get_finished_spans())
    doc = to_jaeger(trace)
    assert len(doc["data"]) == 1
    entry = doc["data"][0]
    assert set(entry) >= {"traceID", "spans", "processes"}
    assert len(entry["spans"]) == len(trace)
    by_name = {s["operationName"]: s for s in entry["spans"]}
    par = by_name["PAR"]
    child = by_name["process producer"]
    assert child["references"][0] == {"refType": "CHILD_OF", "traceID": par["traceID"], "spanID": par["spanID"]}
    recv = by_name["receive numbers"]
    assert {"refType": "FOLLOWS_FROM", "traceID": recv["traceID"],
            "spanID": by_name["send numbers"]["spanID"]} in recv["references"]
    assert isinstance(child["startTime"], int) and isinstance(child["duration"], int)
    assert child["processID"] in entry["processes"]
    broken_tags = {t["key"]: t["value"] for t in by_name["process broken"]["tags"]}
    assert broken_tags["error"] is True and broken_tags["otel.status_code"] == "ERROR"
    assert any(f["value"] == "exception" for log in by_name["process broken"]["logs"] for f in log["fields"])
    json.dumps(doc)  # serialisable


@pytest.mark.anyio
async def test_perfetto_export_has_one_track_per_lane_and_a_flow_per_message() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with observe.use_tracer_provider(provider):
        await run_with_failure()
    trace = trace_from_spans(exporter.get_finished_spans())
    events = to_perfetto(trace)["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) == len(trace)
    names = {e["args"]["name"].strip() for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {"PAR (3)", "producer", "consumer", "broken"}
    starts = [e for e in events if e["ph"] == "s"]
    finishes = [e for e in events if e["ph"] == "f"]
    assert len(starts) == len(finishes) == 1
    tid_of = {e["name"]: e["tid"] for e in complete if e["cat"] in ("send", "recv")}
    assert starts[0]["tid"] == tid_of["send numbers"] and finishes[0]["tid"] == tid_of["receive numbers"]
    assert starts[0]["id"] == finishes[0]["id"]


def _stage(suffix: str) -> Process:
    async def body(ctx: ProcessContext) -> ProcessResult[str]:
        value = await ctx.recv("input")
        await ctx.send("output", value + suffix)
        return ProcessResult.ok("ignored: the output channel wins")

    return Process(body, name=f"stage{suffix}")


@pytest.mark.anyio
async def test_perfetto_slices_nest_strictly_on_every_track_for_a_seq_that_passes_values() -> None:
    from stbass import SEQ

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with observe.use_tracer_provider(provider):
        with anyio.fail_after(10):
            result = await PAR(SEQ(_stage("a"), _stage("b"), _stage("c")), run_with_failure_proc()).run()
    assert result.is_ok or result.failures
    trace = trace_from_spans(exporter.get_finished_spans())
    # the hidden plumbing channels of SEQ are marked, so viewers can leave them out
    plumbing = [s for s in trace if s.attributes.get(N.CHANNEL_NAME, "").endswith((".input", ".output"))]
    assert plumbing and all(s.attributes.get(N.PLUMBING) is True for s in plumbing)
    events = to_perfetto(trace)["traceEvents"]
    complete = [e for e in events if e["ph"] == "X"]
    assert len(complete) == len(trace)  # every span is a slice
    by_track: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for e in complete:
        by_track.setdefault((e["pid"], e["tid"]), []).append(e)
    for slices in by_track.values():
        slices.sort(key=lambda e: (e["ts"], -e["dur"]))
        open_ends: list[float] = []
        for e in slices:
            end = e["ts"] + e["dur"]
            while open_ends and open_ends[-1] <= e["ts"]:
                open_ends.pop()
            # inside the enclosing slice, or after it: never across its end
            assert not open_ends or end <= open_ends[-1], f"{e['name']} overlaps its track partly"
            open_ends.append(end)
    # every flow arrow starts and ends on a track that has the slice it points at
    tracks_of = {e["args"]["span_id"]: (e["pid"], e["tid"]) for e in complete}
    flows = [e for e in events if e["ph"] in ("s", "f")]
    assert flows
    assert all((e["pid"], e["tid"]) in set(tracks_of.values()) for e in flows)


def run_with_failure_proc() -> Process:
    @Process
    async def steady(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(1)

    return steady
