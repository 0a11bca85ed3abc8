"""OTLP on the wire, no mocks: a real OTLP/HTTP receiver on 127.0.0.1 and the real exporter.

The receiver decodes each request with the official ``opentelemetry-proto``
messages; the program is the getting-started example, run with
``stbass_tracing.configure("otlp", endpoint=...)``.
"""

from __future__ import annotations

import gzip
import http.server
import runpy
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan

import stbass_tracing

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "getting_started.py"


class _Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.content_types: list[str] = []


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.server.requests.append(request)
        self.server.paths.append(self.path)
        self.server.content_types.append(self.headers.get("Content-Type", ""))
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.mark.anyio
async def test_spans_arrive_over_otlp_http_with_names_kinds_parents_and_links(
    receiver: _Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        monkeypatch.delenv(var, raising=False)
    port = receiver.server_address[1]
    namespace = runpy.run_path(str(EXAMPLE), run_name="getting_started")
    handle = stbass_tracing.configure(
        "otlp", endpoint=f"http://127.0.0.1:{port}", service_name="wire-test", set_global=False
    )
    try:
        with anyio.fail_after(10):
            await namespace["main"]()
    finally:
        handle.shutdown()  # flushes the batch processor: everything is on the wire now

    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    assert all(ct == "application/x-protobuf" for ct in receiver.content_types)
    spans: dict[str, Any] = {}
    services = set()
    scopes = set()
    for request in receiver.requests:
        for rs in request.resource_spans:
            for attr in rs.resource.attributes:
                if attr.key == "service.name":
                    services.add(attr.value.string_value)
            for ss in rs.scope_spans:
                scopes.add(ss.scope.name)
                for span in ss.spans:
                    spans[span.name] = span
    assert services == {"wire-test"}
    assert scopes == {"stbass"}
    assert set(spans) == {"PAR", "process producer", "process consumer", "send data_chan", "receive data_chan"}

    par, producer, consumer = spans["PAR"], spans["process producer"], spans["process consumer"]
    send, recv = spans["send data_chan"], spans["receive data_chan"]
    assert len({s.trace_id for s in spans.values()}) == 1
    assert par.parent_span_id == b""
    assert producer.parent_span_id == par.span_id
    assert consumer.parent_span_id == par.span_id
    assert send.parent_span_id == producer.span_id
    assert recv.parent_span_id == consumer.span_id
    assert par.kind == PbSpan.SPAN_KIND_INTERNAL
    assert producer.kind == PbSpan.SPAN_KIND_INTERNAL
    assert send.kind == PbSpan.SPAN_KIND_PRODUCER
    assert recv.kind == PbSpan.SPAN_KIND_CLIENT
    assert [(lk.trace_id, lk.span_id) for lk in recv.links] == [(send.trace_id, send.span_id)]
    attrs = {a.key: a.value for a in recv.attributes}
    assert attrs["stbass.channel.name"].string_value == "data_chan"
    assert attrs["messaging.operation.type"].string_value == "receive"


def test_trace_to_jaeger_example_sends_over_otlp_and_writes_the_upload_file(
    receiver: _Receiver, tmp_path: Path
) -> None:
    import json
    import os
    import subprocess
    import sys

    example = EXAMPLE.parent / "trace_to_jaeger.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    port = receiver.server_address[1]
    proc = subprocess.run(
        [sys.executable, str(example), "--endpoint", f"http://127.0.0.1:{port}", "--backend", "trio"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert proc.returncode == 0, proc.stderr
    names = {s.name for r in receiver.requests for rs in r.resource_spans for ss in rs.scope_spans
             for s in ss.spans}
    assert names == {"PAR", "process producer", "process consumer", "send data_chan", "receive data_chan"}
    out = tmp_path / "jaeger.json"
    proc = subprocess.run([sys.executable, str(example), "--jaeger-json", str(out)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert {s["operationName"] for s in doc["data"][0]["spans"]} == names


def test_trace_to_jaeger_example_says_nothing_was_delivered_without_a_collector() -> None:
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    example = EXAMPLE.parent / "trace_to_jaeger.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    proc = subprocess.run(
        [sys.executable, str(example), "--endpoint", f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60, env=env,
    )
    assert proc.returncode == 1
    assert "no span was delivered" in proc.stdout
    assert "spans lost" in proc.stderr  # the shutdown warning, with the count


# ------------------------------------------------------------------ delivery


def _names(receiver: _Receiver) -> list[str]:
    return [s.name for r in receiver.requests for rs in r.resource_spans for ss in rs.scope_spans
            for s in ss.spans]


async def _pingpong(messages: int) -> None:
    from stbass import PAR, Chan, Process, ProcessContext, ProcessResult

    ping, pong = Chan(int, name="ping"), Chan(int, name="pong")

    @Process
    async def pinger(ctx: ProcessContext) -> ProcessResult[int]:
        for i in range(messages):
            await ctx.send("ping", i)
            await ctx.recv("pong")
        return ProcessResult.ok(messages)

    @Process
    async def ponger(ctx: ProcessContext) -> ProcessResult[int]:
        for _ in range(messages):
            await ctx.send("pong", await ctx.recv("ping"))
        return ProcessResult.ok(messages)

    result = await PAR(
        pinger.with_channels(ping=ping, pong=pong), ponger.with_channels(ping=ping, pong=pong)
    ).run()
    assert result.is_ok


@pytest.mark.slow
@pytest.mark.anyio
async def test_configure_defaults_deliver_every_span_of_a_10000_message_pingpong(
    receiver: _Receiver,
) -> None:
    port = receiver.server_address[1]
    handle = stbass_tracing.configure("otlp", endpoint=f"http://127.0.0.1:{port}", set_global=False)
    try:
        with anyio.fail_after(120):
            await _pingpong(10_000)
    finally:
        handle.shutdown()
    names = _names(receiver)
    # 10,000 pings and 10,000 pongs, each a send and a receive span
    assert names.count("send ping") == names.count("send pong") == 10_000
    assert names.count("receive ping") == names.count("receive pong") == 10_000
    assert names.count("process pinger") == names.count("process ponger") == names.count("PAR") == 1
    delivery = handle.delivery()
    assert delivery.exported == len(names) == 40_003
    assert delivery.lost == 0


@pytest.mark.anyio
async def test_a_configured_bound_drops_spans_counts_them_and_warns(receiver: _Receiver) -> None:
    port = receiver.server_address[1]
    handle = stbass_tracing.configure(
        "otlp", endpoint=f"http://127.0.0.1:{port}", set_global=False, max_queue_size=5
    )
    with anyio.fail_after(30):
        await _pingpong(200)  # 803 spans into a queue of 5, faster than the exporter wakes
    with pytest.warns(stbass_tracing.TracingDeliveryWarning, match="dropped by max_queue_size"):
        handle.shutdown()
    delivery = handle.delivery()
    assert delivery.dropped > 0
    assert delivery.exported + delivery.dropped == 803 == len(_names(receiver)) + delivery.dropped
    assert handle.dropped == delivery.dropped


@pytest.mark.anyio
async def test_no_receiver_listening_shutdown_is_prompt_and_counts_every_span_as_lost() -> None:
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for batch in (True, False):
        handle = stbass_tracing.configure(
            "otlp", endpoint=f"http://127.0.0.1:{port}", set_global=False, batch=batch
        )
        with anyio.fail_after(30):
            await _pingpong(10)  # 43 spans; with batch=False each export is on the worker
        t0 = time.monotonic()
        with pytest.warns(stbass_tracing.TracingDeliveryWarning, match="no span was delivered"):
            handle.shutdown()
        assert time.monotonic() - t0 < 6  # not ~7.5 s of retries per batch
        delivery = handle.delivery()
        assert delivery.exported == 0 and delivery.lost == 43 and delivery.pending == 0


@pytest.mark.anyio
async def test_batch_false_with_an_unreachable_endpoint_never_blocks_the_event_loop() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    handle = stbass_tracing.configure(
        "otlp", endpoint=f"http://127.0.0.1:{port}", set_global=False, batch=False
    )
    try:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await anyio.sleep(0.01)
                ticks += 1

        async with anyio.create_task_group() as tg:
            tg.start_soon(ticker)
            # the loop keeps turning while the spans' exports fail on the worker thread
            with anyio.fail_after(5):
                await _pingpong(20)
                while ticks < 20:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
    finally:
        with pytest.warns(stbass_tracing.TracingDeliveryWarning):
            handle.shutdown()


# ---------------------------------------------------------------------- gRPC


@pytest.mark.anyio
async def test_spans_arrive_over_otlp_grpc_at_a_real_grpc_server() -> None:
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    received: list[ExportTraceServiceRequest] = []

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> ExportTraceServiceResponse:  # noqa: N802
            received.append(request)
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        namespace = runpy.run_path(str(EXAMPLE), run_name="getting_started")
        handle = stbass_tracing.configure(
            "otlp", protocol="grpc", endpoint=f"http://127.0.0.1:{port}",
            service_name="grpc-test", set_global=False,
        )
        try:
            with anyio.fail_after(10):
                await namespace["main"]()
        finally:
            handle.shutdown()
    finally:
        server.stop(None)
    spans = {s.name: s for r in received for rs in r.resource_spans for ss in rs.scope_spans
             for s in ss.spans}
    assert set(spans) == {"PAR", "process producer", "process consumer", "send data_chan", "receive data_chan"}
    send, recv = spans["send data_chan"], spans["receive data_chan"]
    assert send.kind == PbSpan.SPAN_KIND_PRODUCER and recv.kind == PbSpan.SPAN_KIND_CLIENT
    assert send.parent_span_id == spans["process producer"].span_id
    assert [(lk.trace_id, lk.span_id) for lk in recv.links] == [(send.trace_id, send.span_id)]
    assert handle.delivery().exported == 5
