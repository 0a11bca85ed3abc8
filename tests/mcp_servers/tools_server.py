"""A real MCP server for stbass's tests, written with the official ``mcp`` SDK.

Run it as ``python tools_server.py stdio`` (MCP over stdin/stdout) or
``python tools_server.py http|sse`` (streamable HTTP at ``/mcp`` or SSE at ``/sse``
on 127.0.0.1). The HTTP variants bind a free port themselves, start listening,
and print ``PORT <n>`` on stdout before serving, so the test that started them
knows where to connect without racing for a port.

Tools: ``add``, ``echo``, ``describe`` (structured object), ``fail`` (reports an
error), ``crash`` (raises unexpectedly), ``slow`` (sleeps; counts calls in flight)
and ``wait_idle`` (waits until no ``slow`` call is running: how a test checks
that a timed-out call was cancelled on the server too). For the shared-session
tests: ``pid`` (this server process's id), ``list_count`` (how many ``tools/list``
requests this process has answered) and ``barrier`` (answers once *parties*
``barrier`` calls are running at the same time in this process). For the trace
tests: ``text_stats``, whose body is a stbass ``PAR``; with ``STBASS_TEST_SPANS``
set, the server records its stbass spans as JSON lines in that file.
"""

from __future__ import annotations

import os
import socket
import sys
from typing import Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

class _CountingServer(MCPServer):
    list_requests = 0

    async def list_tools(self) -> Any:
        _CountingServer.list_requests += 1
        return await super().list_tools()


server: MCPServer = _CountingServer("stbass-test-tools", log_level="WARNING")


class _InFlight:
    count = 0
    idle: anyio.Event | None = None


class _Barrier:
    waiting = 0
    full: anyio.Event | None = None


class Profile(BaseModel):
    name: str
    tags: list[str]
    tag_count: int


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


@server.tool()
def describe(name: str, tags: list[str]) -> Profile:
    """A structured result: the name, its tags and how many there are."""
    return Profile(name=name, tags=tags, tag_count=len(tags))


@server.tool()
def fail(message: str) -> str:
    """Always reports a tool error carrying *message*."""
    raise ToolError(message)


@server.tool()
def crash() -> str:
    """Raises an unexpected exception inside the tool."""
    raise RuntimeError("boom")


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep for *seconds*, then answer."""
    _InFlight.count += 1
    try:
        await anyio.sleep(seconds)
        return f"slept {seconds}"
    finally:
        _InFlight.count -= 1
        if _InFlight.count == 0 and _InFlight.idle is not None:
            _InFlight.idle.set()


@server.tool()
async def wait_idle(within: float) -> bool:
    """True once no ``slow`` call is running (False if that takes over *within* s)."""
    with anyio.move_on_after(within):
        while _InFlight.count:
            _InFlight.idle = anyio.Event()
            await _InFlight.idle.wait()
        return True
    return False


@server.tool()
def pid() -> int:
    """The id of this server process."""
    return os.getpid()


@server.tool()
def list_count() -> int:
    """How many tools/list requests this server process has answered."""
    return _CountingServer.list_requests


@server.tool()
async def barrier(parties: int, within: float) -> bool:
    """True once *parties* barrier calls run at once here (False after *within* s)."""
    if _Barrier.full is None:
        _Barrier.full = anyio.Event()
    full = _Barrier.full
    _Barrier.waiting += 1
    if _Barrier.waiting >= parties:
        full.set()
        _Barrier.waiting, _Barrier.full = 0, None
    with anyio.move_on_after(within):
        await full.wait()
        return True
    if _Barrier.full is full:
        _Barrier.waiting -= 1
    return False


@server.tool()
async def text_stats(text: str) -> dict[str, int]:
    """Words and characters of *text*, counted by a stbass PAR (traced)."""
    from stbass import PAR, Process, ProcessContext  # only here: keeps start-up quick

    @Process
    async def count_chars(ctx: ProcessContext) -> int:
        await anyio.lowlevel.checkpoint()
        return len(text)

    @Process
    async def count_words(ctx: ProcessContext) -> int:
        await anyio.lowlevel.checkpoint()
        return len(text.split())

    result = await PAR(count_words, count_chars).run()
    words, chars = result.value
    return {"words": words, "chars": chars}


def _record_spans(path: str) -> None:
    """Record this server's stbass spans as JSON lines in *path*."""
    import json

    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from stbass import observe

    out = open(path, "a", buffering=1)

    class _Lines(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            for span in spans:
                assert isinstance(span, ReadableSpan) and span.context is not None
                record = {
                    "name": span.name,
                    "trace_id": f"{span.context.trace_id:032x}",
                    "span_id": f"{span.context.span_id:016x}",
                    "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                    "pid": os.getpid(),
                }
                out.write(json.dumps(record) + "\n")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Lines()))
    observe.set_tracer_provider(provider)


def _serve_http(kind: str) -> None:
    app = server.sse_app() if kind == "sse" else server.streamable_http_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    # Connections queue in the backlog until uvicorn accepts them: once the port
    # is printed, clients can connect.
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    anyio.run(uvicorn.Server(config).serve, [sock])


def main() -> None:
    if os.environ.get("STBASS_TEST_SPANS"):
        _record_spans(os.environ["STBASS_TEST_SPANS"])
    kind = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if kind == "stdio":
        server.run("stdio")
    elif kind in ("http", "sse"):
        _serve_http(kind)
    else:
        raise SystemExit(f"usage: {sys.argv[0]} stdio|http|sse")


if __name__ == "__main__":
    main()
