"""``stbass-trace serve``: OTLP/HTTP in (protobuf, JSON, gzip), the trace list and the
live trace data out, bad bodies refused with a reason, the store's size bound, and
``view``/``export`` of a stored trace.

The tests marked slow run a real server in a subprocess (``python -m stbass_tracing
serve --port 0``) on 127.0.0.1; stbass programs export to it with the SDK's own
OTLP/HTTP exporter.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sniffio
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from serve_helpers import ServerProcess, pipeline, traced_provider
from stbass import observe
from stbass_tracing import SpanRecord, load_trace
from stbass_tracing._cli import main
from stbass_tracing._serve import TraceStore, decode_export
from test_viewer import TRACE_ID, _id, decode_data, sample_trace

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "store")
    try:
        yield srv
    finally:
        assert srv.stop() == 0, srv.stderr_text()


def otlp_json(spans: list[SpanRecord]) -> dict[str, Any]:
    """An OTLP/JSON ExportTraceServiceRequest for *spans* (hex ids, integer enums)."""
    kinds = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3, "PRODUCER": 4, "CONSUMER": 5}

    def value(v: Any) -> dict[str, Any]:
        if isinstance(v, bool):
            return {"boolValue": v}
        if isinstance(v, int):
            return {"intValue": str(v)}
        if isinstance(v, float):
            return {"doubleValue": v}
        return {"stringValue": str(v)}

    def kvs(d: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"key": k, "value": value(v)} for k, v in d.items()]

    return {"resourceSpans": [{
        "resource": {"attributes": kvs({"service.name": "json-client"})},
        "scopeSpans": [{"scope": {"name": "stbass"}, "spans": [
            {"traceId": s.trace_id, "spanId": s.span_id, "parentSpanId": s.parent_span_id or "",
             "name": s.name, "kind": kinds[s.kind], "startTimeUnixNano": str(s.start_time_ns),
             "endTimeUnixNano": str(s.end_time_ns), "attributes": kvs(s.attributes),
             "events": [{"name": e.name, "timeUnixNano": str(e.time_ns), "attributes": kvs(e.attributes)}
                        for e in s.events],
             "links": [{"traceId": lk.trace_id, "spanId": lk.span_id} for lk in s.links],
             "status": {"code": {"UNSET": 0, "OK": 1, "ERROR": 2}[s.status_code],
                        "message": s.status_description or ""}}
            for s in spans]}]}]}


async def sdk_spans(n_messages: int = 3) -> Any:
    """The SDK spans of one traced stbass pipeline run (in memory)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with observe.use_tracer_provider(provider):
        await pipeline(n_messages).run()
    return exporter.get_finished_spans()


@pytest.mark.slow
async def test_a_traced_program_exports_to_serve_and_its_timeline_updates(server: ServerProcess) -> None:
    provider = traced_provider(server.url, "pipeline-test")
    tracer = provider.get_tracer("test")
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        with anyio.fail_after(120):
            with observe.use_tracer_provider(provider):
                with tracer.start_as_current_span("job") as job:
                    trace_id = format(job.get_span_context().trace_id, "032x")
                    await pipeline(3).run()
                    assert provider.force_flush()
                    listed = (await client.get("/api/traces")).json()
                    assert [t["trace_id"] for t in listed] == [trace_id]
                    first = listed[0]
                    assert first["service"] == "pipeline-test"
                    assert first["spans"] > 0 and first["failures"] == 0
                    one = (await client.get(f"/api/traces/{trace_id}")).json()
                    version = one["version"]
                    assert (await client.get(f"/api/traces/{trace_id}?since={version}")).status_code == 304

                    await pipeline(5, fail=True).run()  # the program goes on: a failure this time
            assert provider.force_flush()
            provider.shutdown()

            later = (await client.get(f"/api/traces/{trace_id}?since={version}"))
            assert later.status_code == 200
            data = decode_data(later.json()["data"])
            assert later.json()["version"] > version
            labels = [r["label"] for r in data["rows"]]
            assert labels[0] == "job"  # the user's own span is a group row above stbass's
            assert labels.count("producer") == 2 and labels.count("consumer") == 2
            assert len(data["arrows"]) == 3 + 5
            assert [data["spans"][i]["name"] for i in data["failures"]] == ["process check"]
            summary = (await client.get("/api/traces")).json()[0]
            assert summary["root"] == "job" and summary["failures"] == 1
            assert summary["spans"] == len(data["spans"])

            page = await client.get(f"/trace/{trace_id}")
            assert page.status_code == 200 and 'id="live-config"' in page.text
            assert page.headers["content-encoding"] == "gzip"  # the page is ~50 KB of script and data
            listing = await client.get("/")
            assert listing.status_code == 200 and trace_id in listing.text
            jsonl = await client.get(f"/api/traces/{trace_id}/spans.jsonl")
            assert len(jsonl.text.splitlines()) == summary["spans"]


@pytest.mark.slow
async def test_protobuf_json_and_gzip_bodies_are_stored(server: ServerProcess) -> None:
    spans = await sdk_spans()
    body = encode_spans(spans).SerializeToString()
    mine = list(sample_trace())
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        with anyio.fail_after(60):
            r = await client.post("/v1/traces", content=gzip.compress(body),
                                  headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"})
            assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
            assert r.content == b""  # an empty ExportTraceServiceResponse
            r = await client.post("/v1/traces", json=otlp_json(mine))
            assert r.status_code == 200 and r.json() == {}
            listed = {t["trace_id"]: t for t in (await client.get("/api/traces")).json()}
    sdk_trace = format(spans[0].context.trace_id, "032x")
    assert listed[sdk_trace]["spans"] == len(spans)
    assert listed[TRACE_ID]["spans"] == len(mine) and listed[TRACE_ID]["service"] == "json-client"
    assert listed[TRACE_ID]["failures"] == 1 and listed[TRACE_ID]["root"] == "PAR"
    # what JSON carried comes back the same
    stored = {s.span_id: s for s in load_trace(server.store / f"{TRACE_ID}.jsonl")}
    for s in mine:
        got = stored[s.span_id]
        assert (got.name, got.kind, got.parent_span_id, got.start_time_ns, got.end_time_ns, got.attributes,
                got.events, got.links, got.status_code) == (
            s.name, s.kind, s.parent_span_id, s.start_time_ns, s.end_time_ns, s.attributes,
            s.events, s.links, s.status_code)


@pytest.mark.slow
async def test_bad_bodies_get_an_error_with_a_reason_and_the_server_keeps_working(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "store", "--max-body-mb", "1")
    proto = {"content-type": "application/x-protobuf"}
    try:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            with anyio.fail_after(60):
                r = await client.post("/v1/traces", content=b"\xff\xff\xff not protobuf", headers=proto)
                assert r.status_code == 400
                r = await client.post("/v1/traces", content=b'{"resourceSpans": [', headers={
                    "content-type": "application/json"})
                assert r.status_code == 400 and r.json()["message"].startswith("invalid JSON")
                bad_id = otlp_json([SpanRecord("x", "zz", _id(1), None, 0, 1)])
                r = await client.post("/v1/traces", json=bad_id)
                assert r.status_code == 400 and "'traceId' must be 32 hex digits" in r.json()["message"]
                r = await client.post("/v1/traces", content=b"not gzip", headers={**proto, "content-encoding": "gzip"})
                assert r.status_code == 400 and b"gzip" in r.content
                r = await client.post("/v1/traces", content=b"x" * (1024 * 1024 + 1), headers=proto)
                assert r.status_code == 413
                bomb = gzip.compress(b"\0" * (3 * 1024 * 1024))
                r = await client.post("/v1/traces", content=bomb, headers={**proto, "content-encoding": "gzip"})
                assert r.status_code == 413
                r = await client.post("/v1/traces", content=b"{}", headers={"content-type": "text/plain"})
                assert r.status_code == 415
                assert (await client.get("/trace/not-a-trace-id")).status_code == 404
                # still up, still taking good exports
                r = await client.post("/v1/traces", json=otlp_json(list(sample_trace())))
                assert r.status_code == 200
                assert [t["trace_id"] for t in (await client.get("/api/traces")).json()] == [TRACE_ID]
    finally:
        assert srv.stop() == 0


@pytest.mark.slow
async def test_a_burst_of_concurrent_exports_is_all_stored(server: ServerProcess) -> None:
    n = 40

    def batch(k: int) -> dict[str, Any]:
        trace = format(k + 1, "032x")
        return otlp_json([SpanRecord(f"process p{k}.{j}", trace, _id(j + 1), None, j, j + 10,
                                     attributes={"stbass.process.name": f"p{k}.{j}"}) for j in range(25)])

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        statuses: list[int] = []

        async def post(k: int) -> None:
            statuses.append((await client.post("/v1/traces", json=batch(k))).status_code)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                for k in range(n):
                    tg.start_soon(post, k)
            listed = (await client.get("/api/traces")).json()
    assert statuses == [200] * n
    assert len(listed) == n and all(t["spans"] == 25 for t in listed)


@pytest.mark.slow
async def test_the_store_keeps_traces_across_restarts_and_view_and_export_read_them(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    srv = ServerProcess(store_dir)
    try:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            with anyio.fail_after(60):
                assert (await client.post("/v1/traces", json=otlp_json(list(sample_trace())))).status_code == 200
    finally:
        assert srv.stop() == 0
    srv = ServerProcess(store_dir)  # a new server finds what the last one stored
    try:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
            with anyio.fail_after(60):
                listed = (await client.get("/api/traces")).json()
    finally:
        assert srv.stop() == 0
    assert [(t["trace_id"], t["spans"]) for t in listed] == [(TRACE_ID, len(sample_trace()))]
    out = tmp_path / "stored.html"
    assert main(["view", TRACE_ID, "--store", str(store_dir), "-o", str(out)]) == 0
    assert 'id="sum-failures" data-value="1"' in out.read_text()
    perfetto = tmp_path / "stored.perfetto.json"
    assert main(["export", TRACE_ID, "--store", str(store_dir), "--format", "perfetto", "-o", str(perfetto)]) == 0
    assert json.loads(perfetto.read_text())["traceEvents"]
    assert main(["view", "f" * 32, "--store", str(store_dir)]) == 2


async def test_the_store_evicts_the_least_recently_updated_traces_beyond_its_bound(tmp_path: Path) -> None:
    def spans(k: int) -> list[SpanRecord]:
        return [SpanRecord(f"s{j}", format(k + 1, "032x"), _id(j + 1), None, k * 100 + j, k * 100 + j + 1,
                           attributes={"pad": "x" * 200}) for j in range(10)]

    one_trace = len("".join(json.dumps(s.to_json(), separators=(",", ":")) + "\n" for s in spans(0)))
    store = TraceStore(tmp_path, max_bytes=int(one_trace * 3.5))
    for k in range(3):
        store.add(spans(k))
    store.add(spans(0)[:1])  # trace 1 gets news: now trace 2 is the least recently updated
    store.add(spans(3))
    kept = {s.trace_id for s in store.summaries()}
    assert kept == {format(k, "032x") for k in (1, 3, 4)}
    assert sorted(p.stem for p in tmp_path.glob("*.jsonl")) == sorted(kept)
    assert sum(p.stat().st_size for p in tmp_path.glob("*.jsonl")) <= store.max_bytes
    with pytest.raises(ValueError, match="max_bytes must be a positive int"):
        TraceStore(tmp_path, max_bytes=0)


async def test_decode_export_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unsupported Content-Type 'text/plain'"):
        decode_export(b"", "text/plain")
    with pytest.raises(ValueError, match="'kind' must be one of"):
        decode_export(json.dumps(otlp_json(list(sample_trace()))).replace('"kind": 1', '"kind": 9').encode(),
                      "application/json")
    spans, is_json = decode_export(encode_spans(await sdk_spans()).SerializeToString(), "application/x-protobuf")
    assert not is_json and {s.name for s in spans} >= {"SEQ", "PAR", "process producer", "send numbers"}


@pytest.mark.slow
async def test_the_example_shows_its_run_in_serve(server: ServerProcess) -> None:
    backend = sniffio.current_async_library()
    example = Path(__file__).resolve().parent.parent / "examples" / "trace_to_serve.py"
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": server.url, "OTEL_SERVICE_NAME": f"orders-{backend}"}
    with anyio.fail_after(120):
        proc = await anyio.run_process([sys.executable, str(example), "--backend", backend, "--rounds", "3"],
                                       env=env, check=False)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()
    lines = out.splitlines()
    assert lines[0].startswith(f"timeline: {server.url}/trace/")
    assert lines[1:] == ["round 1: ok", "round 2: ok",
                         "round 3: [checker] ValueError: parcel weight does not match the order"]
    trace_id = lines[0].rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        listed = (await client.get("/api/traces")).json()
        assert (await client.get(f"/trace/{trace_id}")).status_code == 200
    assert [(t["trace_id"], t["service"], t["root"], t["failures"]) for t in listed] == [
        (trace_id, f"orders-{backend}", "orders", 1)]


async def test_protobufs_own_json_mapping_with_base64_ids_is_read_too() -> None:
    spans = await sdk_spans()
    text = MessageToJson(encode_spans(spans))  # ids in base64, enums as names: not OTLP/JSON, but common
    assert '"traceId"' in text and "SPAN_KIND_PRODUCER" in text
    decoded, _ = decode_export(text.encode(), "application/json; charset=utf-8")
    by_id = {s.span_id: s for s in decoded}
    for s in spans:
        got = by_id[format(s.context.span_id, "016x")]
        assert got.trace_id == format(s.context.trace_id, "032x")
        assert (got.name, got.kind, got.start_time_ns) == (s.name, s.kind.name, s.start_time)
    assert len(decoded) == len(spans)


async def test_the_store_reads_a_growing_trace_incrementally_and_exactly(tmp_path: Path) -> None:
    spans = list(sample_trace())
    store = TraceStore(tmp_path)
    store.add(spans[:5])
    first = store.trace(TRACE_ID)
    assert first is not None and len(first) == 5
    assert store.trace(TRACE_ID) is first  # same version: the same parsed trace
    store.add(spans[5:])
    grown = store.trace(TRACE_ID)
    assert grown is not None
    assert grown.spans == load_trace(tmp_path / f"{TRACE_ID}.jsonl").spans == sample_trace().spans
    assert store.trace("0" * 32) is None
