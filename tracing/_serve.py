"""``stbass-trace serve``: a local OTLP/HTTP trace backend with a live timeline.

One process (starlette on uvicorn) that

* accepts OTLP/HTTP exports at ``POST /v1/traces``, protobuf
  (``application/x-protobuf``) or JSON (``application/json``), optionally
  gzip-compressed; answers 200 with an empty ``ExportTraceServiceResponse`` in
  the request's encoding, 400 with a reason for a body that does not parse, 413
  for one larger than ``max_body`` bytes and 415 for another content type;
* keeps every trace in a :class:`TraceStore` (one stbass trace file per trace,
  ``<trace_id>.jsonl``, in a directory), evicting the least recently updated
  traces beyond a size bound;
* serves the viewer: ``/`` lists the traces (newest first) and
  ``/trace/<32 hex>`` (Jaeger's link shape) shows one trace's timeline, both
  refreshed while spans arrive (the page polls ``/api/...`` once a second).

JSON API: ``GET /api/traces`` (the list, newest first; ``?limit=N``), ``GET /api/traces/<id>?since=N``
(the viewer's data when the trace's version is above ``N``, else 304) and
``GET /api/traces/<id>/spans.jsonl`` (the trace file, for ``view``/``export``).

>>> store = TraceStore("build/doctest-store")        # doctest: +SKIP
>>> app = create_app(store)                         # an ASGI app, e.g. for uvicorn  # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import socket
import sys
import threading
import zlib
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ._layout import layout_trace
from ._model import (
    SpanRecord,
    Trace,
    TraceFileError,
    _parse_trace_text,
    load_trace,
    spans_from_otlp_json,
    spans_from_otlp_proto,
)

__all__ = ("TraceStore", "TraceSummary", "create_app", "default_store_dir", "serve")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_BODY = 32 * 1024 * 1024
LIST_LIMIT = 500  # traces on the list page (the newest); /api/traces?limit=N for tools
TRACE_ID_RE = re.compile(r"^[0-9a-fA-F]{32}$")


def default_store_dir() -> Path:
    """Where ``serve`` keeps traces by default: ``$XDG_CACHE_HOME/stbass/traces``
    (``~/.cache/stbass/traces``; ``%LOCALAPPDATA%`` on Windows).

    >>> default_store_dir().name
    'traces'
    """
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.environ.get("LOCALAPPDATA") if sys.platform == "win32" else None
    )
    root = Path(base) if base else Path.home() / ".cache"
    return root / "stbass" / "traces"


@dataclass(slots=True)
class TraceSummary:
    """One line of the trace list: what ``/api/traces`` returns per trace.

    >>> TraceSummary("a" * 32).spans
    0
    """

    trace_id: str
    service: str = ""
    root: str = ""
    start_ns: int = 0
    end_ns: int = 0
    spans: int = 0
    failures: int = 0
    version: int = 0
    bytes: int = 0

    @property
    def duration_ns(self) -> int:
        """From the first span's start to the last span's end."""
        return max(0, self.end_ns - self.start_ns)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of ``/api/traces``."""
        out = asdict(self)
        out["duration_ns"] = self.duration_ns
        return out


def _is_failure(s: SpanRecord) -> bool:
    """A failure the list and the viewer count: a failed process, or a failed non-stbass span."""
    return s.is_error and s.category in ("process", "other")


class TraceStore:
    """Traces kept on disk, one stbass trace file per trace, with a size bound.

    :meth:`add` appends spans (grouped by trace id) to ``<directory>/<trace_id>.jsonl``;
    when the files together exceed *max_bytes*, the least recently updated traces
    are deleted (never the one just written). Thread-safe. Each trace has a
    ``version`` that grows with every batch, so a page can ask "anything new?".

    >>> import tempfile
    >>> store = TraceStore(tempfile.mkdtemp())
    >>> store.add([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10)])
    1
    >>> [(t.root, t.spans) for t in store.summaries()]
    [('PAR', 1)]
    """

    def __init__(self, directory: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes <= 0:
            raise ValueError(f"TraceStore: max_bytes must be a positive int, got {max_bytes!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._summaries: dict[str, TraceSummary] = {}
        self._roots: dict[str, int] = {}  # trace id -> start of the root span named in the summary
        self._clock = 0  # grows with every batch: versions are comparable across traces
        self._cache: dict[str, tuple[int, int, Trace]] = {}  # trace id -> version, bytes parsed, trace
        self._load_existing()

    def __repr__(self) -> str:
        return f"TraceStore({str(self.directory)!r})"

    # ---------------------------------------------------------------- reading

    def _load_existing(self) -> None:
        files = sorted(self.directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        for path in files:
            if not TRACE_ID_RE.match(path.stem):
                continue
            try:
                trace = load_trace(path)
            except TraceFileError:
                continue
            self._clock += 1
            summary = TraceSummary(path.stem.lower(), version=self._clock, bytes=path.stat().st_size)
            self._summaries[summary.trace_id] = summary
            self._update_summary(summary, trace.spans)

    def path_of(self, trace_id: str) -> Path:
        """The trace file of *trace_id* (which may not exist)."""
        return self.directory / f"{trace_id.lower()}.jsonl"

    def summaries(self) -> list[TraceSummary]:
        """Every trace, newest (latest start) first."""
        with self._lock:
            items = [TraceSummary(**asdict(s)) for s in self._summaries.values()]
        return sorted(items, key=lambda s: (s.start_ns, s.version), reverse=True)

    def summary(self, trace_id: str) -> TraceSummary | None:
        """The summary of one trace, or ``None``."""
        with self._lock:
            s = self._summaries.get(trace_id.lower())
            return TraceSummary(**asdict(s)) if s is not None else None

    def trace(self, trace_id: str) -> Trace | None:
        """The spans of one trace so far, or ``None`` when the store does not have it.

        The last trace asked for is kept parsed: when it has grown, only the new
        lines of its file are read (a page watching a growing trace asks often).
        """
        trace_id = trace_id.lower()
        with self._lock:
            summary = self._summaries.get(trace_id)
            if summary is None:
                return None
            version, size = summary.version, summary.bytes
            cached = self._cache.get(trace_id)
        if cached is not None and cached[0] == version:
            return cached[2]
        done, records = (cached[1], list(cached[2].spans)) if cached is not None and cached[1] <= size else (0, [])
        path = self.path_of(trace_id)
        try:  # outside the lock: exports keep landing (appended past `size`) while a big trace is read
            with open(path, "rb") as fh:
                fh.seek(done)
                text = fh.read(size - done).decode("utf-8")
            records.extend(_parse_trace_text(path, text))
        except (OSError, UnicodeDecodeError, TraceFileError):
            return None
        trace = Trace(records)
        with self._lock:
            if trace_id in self._summaries:
                self._cache = {trace_id: (version, size, trace)}  # one trace: the one being watched
        return trace

    # ---------------------------------------------------------------- writing

    def add(self, spans: Iterable[SpanRecord]) -> int:
        """Store *spans*; returns how many traces they touched."""
        groups: dict[str, list[SpanRecord]] = {}
        for s in spans:
            groups.setdefault(s.trace_id, []).append(s)
        with self._lock:
            for trace_id, records in groups.items():
                text = "".join(json.dumps(s.to_json(), separators=(",", ":")) + "\n" for s in records)
                data = text.encode("utf-8")
                with open(self.path_of(trace_id), "ab") as fh:
                    fh.write(data)
                self._clock += 1
                summary = self._summaries.setdefault(trace_id, TraceSummary(trace_id))
                summary.version = self._clock
                summary.bytes += len(data)
                self._update_summary(summary, records)
            self._evict(keep=set(groups))
        return len(groups)

    def _update_summary(self, summary: TraceSummary, records: list[SpanRecord]) -> None:
        first = summary.spans == 0
        for s in records:
            if first:
                summary.start_ns, summary.end_ns, first = s.start_time_ns, s.end_time_ns, False
            else:
                summary.start_ns = min(summary.start_ns, s.start_time_ns)
                summary.end_ns = max(summary.end_ns, s.end_time_ns)
            summary.spans += 1
            summary.failures += _is_failure(s)
            # the root: a span without a parent, the earliest one; until one arrives, the earliest span
            rank = s.start_time_ns - (1 << 62 if s.parent_span_id is None else 0)
            best = self._roots.get(summary.trace_id)
            if best is None or rank < best:
                self._roots[summary.trace_id] = rank
                summary.root = s.name
                service = s.resource.get("service.name")
                if service is not None:
                    summary.service = str(service)
            if not summary.service and s.resource.get("service.name") is not None:
                summary.service = str(s.resource["service.name"])

    def _evict(self, keep: set[str]) -> None:
        total = sum(s.bytes for s in self._summaries.values())
        if total <= self.max_bytes:
            return
        for summary in sorted(self._summaries.values(), key=lambda s: s.version):
            if total <= self.max_bytes:
                break
            if summary.trace_id in keep:
                continue
            total -= summary.bytes
            del self._summaries[summary.trace_id]
            self._roots.pop(summary.trace_id, None)
            self._cache.pop(summary.trace_id, None)
            try:
                self.path_of(summary.trace_id).unlink()
            except FileNotFoundError:
                pass


# -------------------------------------------------------------------- decoding


class BadRequest(ValueError):
    """An OTLP body the server refuses: ``status`` (400, 413, 415) and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _decompress(body: bytes, encoding: str, max_body: int) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(415, f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, max_body + 1)
    except zlib.error as exc:
        raise BadRequest(400, f"body is not valid {encoding}: {exc}") from None
    if len(out) > max_body:
        raise BadRequest(413, f"body is larger than {max_body} bytes once decompressed")
    if not d.eof:
        raise BadRequest(400, f"body is not valid {encoding}: truncated")
    return out


def decode_export(body: bytes, content_type: str, content_encoding: str = "", *,
                  max_body: int = DEFAULT_MAX_BODY) -> tuple[list[SpanRecord], bool]:
    """The spans of one OTLP/HTTP export body, and whether it was JSON.

    Raises :class:`BadRequest` with the HTTP status and the reason.

    >>> spans, is_json = decode_export(b'{"resourceSpans": []}', "application/json")
    >>> spans, is_json
    ([], True)
    """
    mime = content_type.split(";")[0].strip().lower()
    if mime not in ("application/x-protobuf", "application/protobuf", "application/json"):
        raise BadRequest(
            415, f"unsupported Content-Type {content_type!r}: use application/x-protobuf or application/json"
        )
    is_json = mime == "application/json"
    if len(body) > max_body:
        raise BadRequest(413, f"body is larger than {max_body} bytes")
    raw = _decompress(body, content_encoding, max_body)
    if is_json:
        try:
            doc = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest(400, "JSON body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise BadRequest(400, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        if not isinstance(doc, dict):
            raise BadRequest(400, "expected an ExportTraceServiceRequest object ({\"resourceSpans\": [...]})")
        try:
            return spans_from_otlp_json(doc), True
        except ValueError as exc:
            raise BadRequest(400, str(exc)) from None
    try:
        return spans_from_otlp_proto(raw), False
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None


# ------------------------------------------------------------------------ pages

_LIST_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="stbass-trace serve">
<title>stbass traces</title>
<style>
body {{ margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1d2330; }}
header {{ padding: 10px 14px; background: #f8f9fb; border-bottom: 1px solid #e4e7ec; }}
h1 {{ font-size: 16px; margin: 0 0 4px; }}
header p {{ margin: 0; color: #667085; }}
code {{ background: #eef2f8; padding: 0 4px; border-radius: 3px; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: 5px 14px; border-bottom: 1px solid #e4e7ec; white-space: nowrap; }}
th {{ color: #667085; font-weight: 600; }}
td.num, th.num {{ text-align: right; }}
td.bad {{ color: #d92d20; font-weight: 600; }}
tr:hover td {{ background: #f2f5fb; }}
a {{ color: #2f5fb3; }}
#empty {{ padding: 20px 14px; color: #667085; }}
</style>
</head>
<body>
<header>
<h1>stbass traces</h1>
<p>OTLP/HTTP at <code id="endpoint">{endpoint}</code> &mdash; set
<code>OTEL_EXPORTER_OTLP_ENDPOINT={base}</code>. Store: <code>{store}</code>.
<span id="count" data-value="0"></span></p>
</header>
<table id="traces">
<thead><tr><th>started</th><th>service</th><th>root span</th><th class="num">duration</th>
<th class="num">spans</th><th class="num">failures</th><th>trace id</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<p id="empty">No traces yet: run a program that exports OTLP to this server.</p>
<script>
(function () {{
  "use strict";
  function dur(ns) {{
    if (ns >= 1e9) return (ns / 1e9).toFixed(3) + " s";
    if (ns >= 1e6) return (ns / 1e6).toFixed(2) + " ms";
    if (ns >= 1e3) return (ns / 1e3).toFixed(1) + " \u00b5s";
    return ns + " ns";
  }}
  function cell(tr, text, cls) {{
    var td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; tr.appendChild(td);
    return td;
  }}
  var last = "";
  function show(list) {{
    var key = JSON.stringify(list);
    if (key === last) return;
    last = key;
    var body = document.getElementById("rows");
    body.textContent = "";
    list.forEach(function (t) {{
      var tr = document.createElement("tr");
      tr.setAttribute("data-trace", t.trace_id);
      tr.setAttribute("data-spans", String(t.spans));
      tr.setAttribute("data-failures", String(t.failures));
      cell(tr, new Date(t.start_ns / 1e6).toLocaleString());
      cell(tr, t.service);
      var a = document.createElement("a"); a.href = "trace/" + t.trace_id; a.textContent = t.root || "(no name)";
      cell(tr, "").appendChild(a);
      cell(tr, dur(t.duration_ns), "num");
      cell(tr, String(t.spans), "num");
      cell(tr, String(t.failures), t.failures ? "num bad" : "num");
      cell(tr, t.trace_id);
      body.appendChild(tr);
    }});
    document.getElementById("empty").style.display = list.length ? "none" : "";
    var count = document.getElementById("count");
    count.setAttribute("data-value", String(list.length));
    count.textContent = list.length + " trace(s)";
    document.body.setAttribute("data-ready", "true");
  }}
  function poll() {{
    fetch("api/traces?limit={limit}", {{ cache: "no-store" }}).then(function (r) {{ return r.json(); }})
      .then(show).catch(function () {{}}).then(function () {{ setTimeout(poll, {interval}); }});
  }}
  show({initial});
  setTimeout(poll, {interval});
}})();
</script>
</body>
</html>
"""


def _embed(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def create_app(store: TraceStore, *, max_body: int = DEFAULT_MAX_BODY, poll_ms: int = 1000) -> Any:
    """The ASGI application (starlette) of ``stbass-trace serve`` over *store*.

    >>> # uvicorn.run(create_app(TraceStore("traces")), host="127.0.0.1", port=4318)
    """
    import anyio.to_thread
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from ._viewer import page_data, render_html

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            raise BadRequest(413, f"body is larger than {max_body} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise BadRequest(413, f"body is larger than {max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def error(exc: BadRequest, as_json: bool) -> Response:
        if as_json:
            return JSONResponse({"code": 3, "message": exc.reason}, status_code=exc.status)
        try:
            from google.rpc.status_pb2 import Status  # type: ignore[import-untyped]

            body = Status(code=3, message=exc.reason).SerializeToString()
            return Response(body, status_code=exc.status, media_type="application/x-protobuf")
        except ImportError:  # pragma: no cover - googleapis-common-protos comes with the OTLP exporter
            return PlainTextResponse(exc.reason, status_code=exc.status)

    async def otlp_traces(request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        as_json = ctype.split(";")[0].strip().lower() == "application/json"
        try:
            body = await read_body(request)
            spans, as_json = await anyio.to_thread.run_sync(
                lambda: decode_export(body, ctype, request.headers.get("content-encoding", ""), max_body=max_body)
            )
        except BadRequest as exc:
            return error(exc, as_json)
        except ClientDisconnect:
            return Response(status_code=400)
        if spans:
            await anyio.to_thread.run_sync(store.add, spans)
        if as_json:
            return JSONResponse({})
        return Response(b"", media_type="application/x-protobuf")  # an empty ExportTraceServiceResponse

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        summaries = (await anyio.to_thread.run_sync(store.summaries))[:LIST_LIMIT]
        page = _LIST_PAGE.format(
            endpoint=html.escape(base + "/v1/traces"),
            base=html.escape(base),
            store=html.escape(str(store.directory)),
            interval=poll_ms,
            limit=LIST_LIMIT,
            initial=_embed([s.to_json() for s in summaries]),
        )
        return HTMLResponse(page)

    async def api_traces(request: Request) -> Response:
        limit = request.query_params.get("limit", "")
        summaries = await anyio.to_thread.run_sync(store.summaries)
        if limit.isdigit():
            summaries = summaries[: int(limit)]
        return JSONResponse([s.to_json() for s in summaries], headers={"cache-control": "no-store"})

    def trace_id_of(request: Request) -> str | None:
        tid = str(request.path_params["trace_id"])
        return tid.lower() if TRACE_ID_RE.match(tid) else None

    def not_found(what: str) -> Response:
        return PlainTextResponse(f"{what}: not a trace id (32 hex digits) or not in this store", status_code=404)

    payload_lock = threading.Lock()
    payloads: dict[str, tuple[int, bytes]] = {}  # the last answer per trace: every open page polls

    def trace_payload(trace_id: str) -> bytes:
        with payload_lock:  # one computation at a time; pages polling the same version share it
            summary = store.summary(trace_id)
            if summary is None:
                return b'{"version":0,"data":null}'
            cached = payloads.get(trace_id)
            if cached is not None and cached[0] == summary.version:
                return cached[1]
            trace = store.trace(trace_id)
            if trace is None:
                return b'{"version":0,"data":null}'
            data = page_data(layout_trace(trace), _title(summary))
            body = json.dumps({"version": summary.version, "data": data}, separators=(",", ":"),
                              default=str).encode()
            if len(payloads) >= 8:
                payloads.clear()
            payloads[trace_id] = (summary.version, body)
            return body

    async def trace_page(request: Request) -> Response:
        trace_id = trace_id_of(request)
        if trace_id is None:
            return not_found(str(request.path_params["trace_id"]))
        summary = store.summary(trace_id)
        trace = await anyio.to_thread.run_sync(store.trace, trace_id) if summary else None
        live = {"url": f"../api/traces/{trace_id}", "version": summary.version if summary else 0,
                "interval": poll_ms, "home": "../"}
        title = _title(summary) if summary else f"trace {trace_id} (waiting for spans)"
        page = await anyio.to_thread.run_sync(
            lambda: render_html(trace if trace is not None else Trace([]), title=title, live=live)
        )
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def api_trace(request: Request) -> Response:
        trace_id = trace_id_of(request)
        if trace_id is None:
            return not_found(str(request.path_params["trace_id"]))
        since = request.query_params.get("since", "")
        summary = store.summary(trace_id)
        if summary is None:
            return JSONResponse({"version": 0, "data": None}, headers={"cache-control": "no-store"})
        if since.isdigit() and int(since) >= summary.version:
            return Response(status_code=304, headers={"cache-control": "no-store"})
        body = await anyio.to_thread.run_sync(trace_payload, trace_id)
        return Response(body, media_type="application/json", headers={"cache-control": "no-store"})

    async def api_trace_file(request: Request) -> Response:
        trace_id = trace_id_of(request)
        path = store.path_of(trace_id) if trace_id else None
        if path is None or store.summary(trace_id or "") is None or not path.exists():
            return not_found(str(request.path_params["trace_id"]))
        data = await anyio.to_thread.run_sync(path.read_bytes)
        return Response(data, media_type="application/x-ndjson")

    routes = [
        Route("/v1/traces", otlp_traces, methods=["POST"]),
        Route("/", index),
        Route("/api/traces", api_traces),
        Route("/api/traces/{trace_id}", api_trace),
        Route("/api/traces/{trace_id}/spans.jsonl", api_trace_file),
        Route("/trace/{trace_id}", trace_page),
    ]
    # the pages and the trace data are megabytes for big traces: compress them for browsers that ask
    return Starlette(routes=routes, middleware=[Middleware(GZipMiddleware, minimum_size=4096)])


def _title(summary: TraceSummary) -> str:
    who = f"{summary.service} — " if summary.service else ""
    return f"{who}{summary.root or 'trace'} ({summary.trace_id[:8]}…)"


def serve(
    store: TraceStore,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    max_body: int = DEFAULT_MAX_BODY,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Run the server until interrupted (Ctrl+C). *ready*, if given, is called
    with the base URL once the socket listens (``port=0`` picks a free port).

    >>> # serve(TraceStore(default_store_dir()), port=4318)
    """
    import uvicorn

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    config = uvicorn.Config(
        create_app(store, max_body=max_body), log_level="warning", access_log=False, lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    if ready is not None:
        ready(f"http://{shown}:{bound}")
    # uvicorn stops on SIGINT/SIGTERM, then raises the signal again for the handler it found:
    # make that a no-op, so Ctrl+C or a `kill` is a clean stop (exit status 0), not a traceback
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _stopped)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stopped(signum: int, frame: Any) -> None:
    """Signal handler while serving: uvicorn has already shut down gracefully."""
