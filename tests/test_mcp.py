"""MCP tools as processes, against real MCP servers written with the same SDK.

A session-scoped fixture starts ``tests/mcp_servers/tools_server.py`` twice on
127.0.0.1 (streamable HTTP and SSE, each on a port it binds itself), waits until
each answers an MCP handshake, and stops them at the end. The stdio tests start
the same script per call (or per ``connect()`` block) as a local command. Nothing
is mocked.
"""

from __future__ import annotations

import functools
import json
import os
import runpy
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from stbass import (
    PAR,
    PAR_FOR,
    SEQ,
    BackendRegistry,
    FailurePolicy,
    Placement,
    Process,
    ProcessContext,
    ProcessResult,
)
from stbass import _names as N
from stbass.placement import PLACED_PAR, BackendUnavailableError
from stbass.mcp import (
    MCPBackend,
    MCPCallError,
    MCPConnection,
    MCPConnectionError,
    MCPInvalidArgumentsError,
    MCPProcess,
    MCPProtocolError,
    MCPServer,
    MCPTimeoutError,
    MCPToolError,
    MCPToolInfo,
    MCPUnknownToolError,
)

HERE = Path(__file__).resolve().parent
SERVER_SCRIPT = HERE / "mcp_servers" / "tools_server.py"
EXAMPLE = HERE.parent / "examples" / "mcp_tools.py"
CONNECT_EXAMPLE = HERE.parent / "examples" / "mcp_connect.py"
DOCS = HERE.parent / "docs" / "mcp.md"
STDIO_COMMAND = [sys.executable, str(SERVER_SCRIPT), "stdio"]


# ------------------------------------------------------------------ servers


class RunningServer:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, stderr: Any) -> None:
        self.proc = proc
        self.url = url
        self.stderr = stderr

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr.close()


def _start_server(kind: str, path: str, env: dict[str, str] | None = None) -> RunningServer:
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER_SCRIPT), kind],
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=None if env is None else {**os.environ, **env},
    )
    assert proc.stdout is not None
    line = b""
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if sel.select(timeout=60):
            line = proc.stdout.readline()
    if not line.startswith(b"PORT "):
        proc.kill()
        proc.wait()
        stderr.seek(0)
        raise RuntimeError(f"MCP test server ({kind}) did not start: {stderr.read().decode()!r}")
    server = RunningServer(proc, f"http://127.0.0.1:{int(line.split()[1])}{path}", stderr)
    # Wait until it answers a real MCP handshake.
    try:
        answers = anyio.run(functools.partial(MCPServer(server.url).health, timeout=30.0))
    except BaseException:
        server.stop()
        raise
    if not answers:
        server.stop()
        raise RuntimeError(f"MCP test server ({kind}) at {server.url} does not answer")
    return server


@pytest.fixture(scope="session")
def http_url() -> Iterator[str]:
    server = _start_server("http", "/mcp")
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def sse_url() -> Iterator[str]:
    server = _start_server("sse", "/sse")
    yield server.url
    server.stop()


@pytest.fixture
def down_url() -> str:
    """A streamable-HTTP URL on a port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mcp"


async def run_proc(proc: Process) -> ProcessResult[Any]:
    with anyio.fail_after(60):
        return await proc.execute(ProcessContext(proc.name))


def error_of(result: ProcessResult[Any]) -> BaseException:
    assert result.is_fail, f"expected a failure, got {result!r}"
    return result.failure.error


# ------------------------------------------------------------------ success


@pytest.mark.anyio
async def test_tool_result_is_its_structured_content(http_url: str) -> None:
    result = await run_proc(MCPProcess(http_url, "add", arguments={"a": 2, "b": 3}))
    assert result.is_ok
    assert result.value == {"result": 5}


@pytest.mark.anyio
async def test_structured_object_result(http_url: str) -> None:
    server = MCPServer(http_url)
    result = await run_proc(server.tool("describe", arguments={"name": "ada", "tags": ["x", "y"]}))
    assert result.value == {"name": "ada", "tags": ["x", "y"], "tag_count": 2}


@pytest.mark.anyio
async def test_tool_over_sse(sse_url: str) -> None:
    server = MCPServer(sse_url)
    assert server.transport == "sse"
    result = await run_proc(server.tool("echo", arguments={"text": "over sse"}))
    assert result.value == {"result": "over sse"}


@pytest.mark.anyio
async def test_tool_over_stdio_command_list_and_string() -> None:
    for command in (STDIO_COMMAND, " ".join(f'"{part}"' for part in STDIO_COMMAND)):
        server = MCPServer(command)
        assert server.transport == "stdio"
        result = await run_proc(server.tool("add", arguments={"a": 40, "b": 2}))
        assert result.value == {"result": 42}


@pytest.mark.anyio
async def test_server_call_returns_the_value(http_url: str) -> None:
    with anyio.fail_after(60):
        assert await MCPServer(http_url).call("add", {"a": 1, "b": 1}) == {"result": 2}


# ------------------------------------------------------------------ failures


@pytest.mark.anyio
async def test_tool_error_is_a_failed_result(http_url: str) -> None:
    result = await run_proc(MCPProcess(http_url, "fail", arguments={"message": "disk full"}))
    err = error_of(result)
    assert isinstance(err, MCPToolError)
    assert "reported an error" in str(err)
    assert "disk full" in str(err) and "disk full" in err.content
    assert http_url in str(err) and "'fail'" in str(err)
    assert result.failure.process_name == "fail"


@pytest.mark.anyio
async def test_tool_crash_over_stdio_is_a_failed_result() -> None:
    err = error_of(await run_proc(MCPServer(STDIO_COMMAND).tool("crash")))
    assert isinstance(err, MCPToolError)
    assert "Error executing tool crash" in str(err)


@pytest.mark.anyio
async def test_timeout_cancels_the_call_on_both_sides(http_url: str) -> None:
    proc = MCPProcess(http_url, "slow", timeout=0.5, arguments={"seconds": 60})
    err = error_of(await run_proc(proc))
    assert isinstance(err, MCPTimeoutError) and isinstance(err, TimeoutError)
    assert "timed out after 0.5 s" in str(err) and "cancelled" in str(err)
    assert http_url in str(err)
    # The server saw the cancellation too: no `slow` call is left running there.
    with anyio.fail_after(60):
        assert await MCPServer(http_url).call("wait_idle", {"within": 30}) == {"result": True}


@pytest.mark.anyio
async def test_timeout_over_stdio_stops_the_call() -> None:
    proc = MCPServer(STDIO_COMMAND).tool("slow", timeout=3, arguments={"seconds": 60})
    err = error_of(await run_proc(proc))
    assert isinstance(err, MCPTimeoutError)


@pytest.mark.anyio
async def test_outside_cancellation_propagates(http_url: str) -> None:
    proc = MCPProcess(http_url, "slow", timeout=60, arguments={"seconds": 60})
    outcome: list[ProcessResult[Any]] = []
    with anyio.fail_after(60):
        with anyio.move_on_after(0.5) as scope:
            outcome.append(await proc.execute(ProcessContext("slow")))
    assert scope.cancelled_caught
    assert outcome == []
    with anyio.fail_after(60):
        assert await MCPServer(http_url).call("wait_idle", {"within": 30}) == {"result": True}


@pytest.mark.anyio
async def test_server_down_is_connection_refused(down_url: str) -> None:
    err = error_of(await run_proc(MCPProcess(down_url, "add", arguments={"a": 1, "b": 2})))
    assert isinstance(err, MCPConnectionError) and isinstance(err, ConnectionError)
    assert "connection refused" in str(err)
    assert down_url in str(err)


@pytest.mark.anyio
async def test_sse_server_down_is_connection_refused(down_url: str) -> None:
    url = down_url.replace("/mcp", "/sse")
    err = error_of(await run_proc(MCPProcess(url, "add", arguments={"a": 1, "b": 2})))
    assert isinstance(err, MCPConnectionError)
    assert "connection refused" in str(err) and url in str(err)


@pytest.mark.anyio
async def test_wrong_http_path_names_the_status(http_url: str) -> None:
    url = http_url.replace("/mcp", "/nothing-here")
    err = error_of(await run_proc(MCPProcess(url, "add", arguments={"a": 1, "b": 2})))
    assert isinstance(err, MCPCallError)
    assert url in str(err) and "Not Found" in str(err)


@pytest.mark.anyio
async def test_missing_stdio_command_is_a_failed_result(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-mcp-server")
    err = error_of(await run_proc(MCPProcess([missing], "add", arguments={"a": 1, "b": 2})))
    assert isinstance(err, MCPConnectionError)
    assert "cannot start" in str(err) and missing in str(err)


@pytest.mark.anyio
async def test_stdio_command_that_exits_is_a_failed_result() -> None:
    command = [sys.executable, "-c", "import sys; sys.exit(3)"]
    err = error_of(await run_proc(MCPProcess(command, "add", timeout=20, arguments={"a": 1})))
    assert isinstance(err, MCPCallError) and not isinstance(err, MCPTimeoutError)
    assert "sys.exit(3)" in str(err)


@pytest.mark.anyio
async def test_unknown_tool_names_the_tools_that_exist(http_url: str) -> None:
    err = error_of(await run_proc(MCPProcess(http_url, "subtract", arguments={"a": 1})))
    assert isinstance(err, MCPUnknownToolError)
    assert "has no tool 'subtract'" in str(err) and http_url in str(err)
    assert "add" in err.available and "echo" in err.available
    assert "add, " in str(err)


@pytest.mark.anyio
async def test_bad_arguments_are_rejected_before_the_call(http_url: str) -> None:
    err = error_of(await run_proc(MCPProcess(http_url, "add", arguments={"a": "two"})))
    assert isinstance(err, MCPInvalidArgumentsError) and isinstance(err, ValueError)
    assert "invalid arguments for MCP tool 'add'" in str(err)
    assert "a: 'two' is not of type 'integer'" in str(err)
    assert "'b' is a required property" in str(err)
    assert len(err.problems) == 2


@pytest.mark.anyio
async def test_bad_arguments_over_stdio() -> None:
    err = error_of(await run_proc(MCPServer(STDIO_COMMAND).tool("echo", arguments={"text": 5})))
    assert isinstance(err, MCPInvalidArgumentsError)
    assert "text: 5 is not of type 'string'" in str(err)


# ------------------------------------------------------------ tools, health


@pytest.mark.anyio
async def test_tools_lists_names_and_input_schemas(http_url: str) -> None:
    with anyio.fail_after(60):
        tools = await MCPServer(http_url).tools()
    by_name = {t.name: t for t in tools}
    assert {"add", "echo", "describe", "fail", "slow"} <= set(by_name)
    add = by_name["add"]
    assert isinstance(add, MCPToolInfo)
    assert add.input_schema["required"] == ["a", "b"]
    assert add.input_schema["properties"]["a"]["type"] == "integer"
    assert add.description == "Add two integers."


@pytest.mark.anyio
async def test_tools_over_stdio() -> None:
    with anyio.fail_after(60):
        tools = await MCPServer(STDIO_COMMAND).tools()
    assert "describe" in {t.name for t in tools}


@pytest.mark.anyio
async def test_tools_of_a_down_server_raises_a_clear_error(down_url: str) -> None:
    with anyio.fail_after(60), pytest.raises(MCPConnectionError, match="connection refused"):
        await MCPServer(down_url).tools()


@pytest.mark.anyio
async def test_health(http_url: str, sse_url: str, down_url: str) -> None:
    with anyio.fail_after(60):
        assert await MCPServer(http_url).health() is True
        assert await MCPServer(sse_url).health() is True
        assert await MCPServer(STDIO_COMMAND).health() is True
        assert await MCPServer(down_url).health() is False
        assert await MCPServer([sys.executable, "-c", "pass"]).health(timeout=20) is False


# -------------------------------------------------------------- compositions


@pytest.mark.anyio
async def test_several_tools_in_one_par(http_url: str, sse_url: str) -> None:
    server = MCPServer(http_url)
    par = PAR(
        server.tool("add", arguments={"a": 1, "b": 2}),
        server.tool("echo", arguments={"text": "hi"}),
        MCPProcess(sse_url, "describe", arguments={"name": "n", "tags": []}),
        MCPServer(STDIO_COMMAND).tool("add", arguments={"a": 10, "b": 20}),
    )
    with anyio.fail_after(60):
        result = await par.run()
    assert result.is_ok, [f.summary for f in result.failures]
    assert [r.value for r in result.results] == [
        {"result": 3},
        {"result": "hi"},
        {"name": "n", "tags": [], "tag_count": 0},
        {"result": 30},
    ]


@pytest.mark.anyio
async def test_a_failing_tool_halts_its_par(http_url: str) -> None:
    server = MCPServer(http_url)
    par = PAR(
        server.tool("slow", arguments={"seconds": 60}),
        server.tool("fail", arguments={"message": "stop"}),
    )
    with anyio.fail_after(60):
        result = await par.run()
    assert not result.is_ok
    assert any(isinstance(f.error, MCPToolError) for f in result.failures)
    with anyio.fail_after(60):
        assert await server.call("wait_idle", {"within": 30}) == {"result": True}


@pytest.mark.anyio
async def test_mcp_process_as_a_seq_stage_fed_by_the_previous_stage(http_url: str) -> None:
    @Process
    async def make_args(ctx: ProcessContext) -> ProcessResult[dict[str, int]]:
        n = await ctx.recv("input")
        return ProcessResult.ok({"a": n, "b": n * 2})

    @Process
    async def unwrap(ctx: ProcessContext) -> ProcessResult[int]:
        out = await ctx.recv("input")
        return ProcessResult.ok(out["result"])

    with anyio.fail_after(60):
        result = await SEQ(make_args, MCPProcess(http_url, "add"), unwrap).run(input_value=14)
    assert result.is_ok, [f.summary for f in result.failures]
    assert result.value == 42
    assert result.results[1].value == {"result": 42}


@pytest.mark.anyio
async def test_two_mcp_stages_in_a_row(http_url: str) -> None:
    server = MCPServer(http_url)
    with anyio.fail_after(60):
        result = await SEQ(server.tool("echo"), server.tool("echo")).run(input_value={"text": "x"})
    # The second echo gets {"result": "x"}: not its schema, so it fails clearly.
    err = result.failures[0].error
    assert isinstance(err, MCPInvalidArgumentsError)
    assert "'text' is a required property" in str(err)


@pytest.mark.anyio
async def test_seq_input_that_is_not_a_dict_fails_clearly(http_url: str) -> None:
    with anyio.fail_after(60):
        result = await SEQ(MCPProcess(http_url, "echo")).run(input_value="plain text")
    err = result.failures[0].error
    assert isinstance(err, MCPInvalidArgumentsError)
    assert "carried str 'plain text'" in str(err)


@pytest.mark.anyio
async def test_fixed_arguments_win_over_the_input_channel(http_url: str) -> None:
    with anyio.fail_after(60):
        result = await SEQ(MCPProcess(http_url, "echo", arguments={"text": "fixed"})).run(
            input_value={"text": "ignored"}
        )
    assert result.value == {"result": "fixed"}


# ---------------------------------------------------------------- placement


@pytest.mark.anyio
async def test_placed_par_runs_tools_through_mcp_backends(http_url: str, sse_url: str) -> None:
    registry = BackendRegistry()
    registry.register("calc", MCPBackend(http_url))
    registry.register("text", MCPBackend(sse_url))
    # The backend's server wins: placement decides where a process runs.
    add = MCPProcess("http://127.0.0.1:9/unused", "add", arguments={"a": 5, "b": 6})
    echo = MCPProcess("http://127.0.0.1:9/unused", "echo", arguments={"text": "placed"})
    with anyio.fail_after(60):
        result = await PLACED_PAR(
            (add, Placement(endpoint="calc:1")),
            (echo, Placement(endpoint="text")),
            registry=registry,
        ).run()
    assert result.is_ok, [f.summary for f in result.failures]
    assert [r.value for r in result.results] == [{"result": 11}, {"result": "placed"}]


@pytest.mark.anyio
async def test_placed_par_on_a_down_mcp_backend_fails_clearly(http_url: str, down_url: str) -> None:
    registry = BackendRegistry()
    registry.register("down", MCPBackend(down_url))
    add = MCPProcess(http_url, "add", arguments={"a": 1, "b": 1})
    with anyio.fail_after(60):
        result = await PLACED_PAR(
            (add, Placement(endpoint="down")), registry=registry, on_failure=FailurePolicy.COLLECT
        ).run()
    (failure,) = result.failures
    assert isinstance(failure.error, BackendUnavailableError)
    assert failure.placement == Placement(endpoint="down")


@pytest.mark.anyio
async def test_mcp_backend_execute_uses_its_own_server(http_url: str, down_url: str) -> None:
    backend = MCPBackend(http_url)
    proc = MCPProcess(down_url, "add", arguments={"a": 2, "b": 2})
    with anyio.fail_after(60):
        result = await backend.execute(proc, ProcessContext("add", placement=Placement(endpoint="x")))
        assert result.value == {"result": 4}
        assert await backend.health_check() is True
        assert await MCPBackend(down_url).health_check() is False
        made = await backend.execute(backend.tool("echo", arguments={"text": "t"}), ProcessContext("echo"))
    assert made.value == {"result": "t"}


@pytest.mark.anyio
async def test_mcp_backend_failures_are_failed_results(http_url: str, down_url: str) -> None:
    @Process
    async def local(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(1)

    with anyio.fail_after(60):
        wrong = await MCPBackend(http_url).execute(local, ProcessContext("local"))
        down = await MCPBackend(down_url).execute(
            MCPProcess(http_url, "add", arguments={"a": 1, "b": 1}), ProcessContext("add")
        )
    err = error_of(wrong)
    assert isinstance(err, TypeError) and "runs MCPProcess only" in str(err)
    assert wrong.failure.process_name == "local"
    assert isinstance(error_of(down), MCPConnectionError)


# ---------------------------------------------------------------- spans


@pytest.mark.anyio
async def test_execute_tool_span(http_url: str, span_exporter: InMemorySpanExporter) -> None:
    port = int(http_url.split(":")[2].split("/")[0])
    await run_proc(MCPProcess(http_url, "add", arguments={"a": 1, "b": 2}))
    await run_proc(MCPProcess(http_url, "fail", arguments={"message": "bad"}))
    spans = span_exporter.get_finished_spans()
    tool_spans = [s for s in spans if s.name.startswith(N.SPAN_TOOL_PREFIX)]
    assert [s.name for s in tool_spans] == ["execute_tool add", "execute_tool fail"]
    ok, failed = tool_spans
    assert ok.attributes is not None
    assert ok.attributes[N.GEN_AI_TOOL_NAME] == "add"
    assert ok.attributes[N.GEN_AI_OPERATION_NAME] == "execute_tool"
    assert ok.attributes[N.SERVER_ADDRESS] == "127.0.0.1"
    assert ok.attributes[N.SERVER_PORT] == port
    assert ok.status.status_code != StatusCode.ERROR
    process_span = next(s for s in spans if s.name == "process add")
    assert ok.parent is not None and ok.parent.span_id == process_span.context.span_id
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes is not None
    assert failed.attributes[N.ERROR_TYPE] == "MCPToolError"


@pytest.mark.anyio
async def test_stdio_span_has_no_network_address(span_exporter: InMemorySpanExporter) -> None:
    await run_proc(MCPServer(STDIO_COMMAND).tool("echo", arguments={"text": "s"}))
    (tool_span,) = [s for s in span_exporter.get_finished_spans() if s.name == "execute_tool echo"]
    assert tool_span.attributes is not None
    assert N.SERVER_ADDRESS not in tool_span.attributes
    assert tool_span.attributes["stbass.mcp.transport"] == "stdio"


# ---------------------------------------------------------------- one trace across the wire


def _server_spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _ancestors(span_id: str, local: InMemorySpanExporter, remote: list[dict[str, Any]]) -> list[str]:
    parents: dict[str, str | None] = {s["span_id"]: s["parent_id"] for s in remote}
    for span in local.get_finished_spans():
        assert span.context is not None
        parents[f"{span.context.span_id:016x}"] = (
            f"{span.parent.span_id:016x}" if span.parent is not None else None
        )
    chain: list[str] = []
    current = parents.get(span_id)
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["http", "sse", "stdio"])
async def test_a_stbass_tool_server_continues_the_callers_trace(
    transport: str, tmp_path: Path, span_exporter: InMemorySpanExporter
) -> None:
    spans = tmp_path / "server-spans.jsonl"
    env = {"STBASS_TEST_SPANS": str(spans)}
    running = None
    if transport != "stdio":
        path = "/mcp" if transport == "http" else "/sse"
        running = await anyio.to_thread.run_sync(_start_server, transport, path, env)
        server = MCPServer(running.url)
    else:
        server = MCPServer(STDIO_COMMAND, env={**os.environ, **env})
    try:
        result = await run_proc(server.tool("text_stats", arguments={"text": "one trace across"}))
    finally:
        if running is not None:
            await anyio.to_thread.run_sync(running.stop)
    assert result.is_ok and result.value == {"words": 3, "chars": 16}
    (caller,) = [s for s in span_exporter.get_finished_spans() if s.name == "process text_stats"]
    assert caller.context is not None
    remote = _server_spans(spans)
    names = sorted(s["name"] for s in remote)
    assert names == ["PAR", "process count_chars", "process count_words"]
    for span in remote:
        assert span["pid"] != os.getpid()
        assert span["trace_id"] == f"{caller.context.trace_id:032x}"
        assert f"{caller.context.span_id:016x}" in _ancestors(span["span_id"], span_exporter, remote)
    # the server's PAR hangs right under the call's execute_tool span
    (tool_span,) = [s for s in span_exporter.get_finished_spans() if s.name == "execute_tool text_stats"]
    (par,) = [s for s in remote if s["name"] == "PAR"]
    assert par["parent_id"] == f"{tool_span.context.span_id:016x}"


# --------------------------------------------------- shared sessions: connect()


def live_tasks() -> int:
    """How many tasks exist now, on whichever backend runs the test."""
    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio

        def count(task: Any) -> int:
            return 1 + sum(count(t) for n in task.child_nurseries for t in n.child_tasks)

        return count(trio.lowlevel.current_root_task())
    import asyncio

    return len(asyncio.all_tasks())


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def pid_of(server: MCPServer, **kw: Any) -> int:
    value = await server.call("pid", **kw)
    assert isinstance(value["result"], int)
    return int(value["result"])


@pytest.mark.anyio
async def test_calls_inside_connect_share_one_stdio_server_process() -> None:
    server = MCPServer(STDIO_COMMAND)
    with anyio.fail_after(90):
        # Outside a block every call starts its own server process.
        assert await pid_of(server) != await pid_of(server)
        tasks_before = live_tasks()
        async with server.connect() as connection:
            assert connection.server is server and not connection.reused
            first = await pid_of(server)
            seen = [await pid_of(server) for _ in range(4)]
            # The same command given as a string, an MCPProcess and an MCPBackend
            # name the same target: they use the block's session too.
            same = MCPServer(shlex.join(STDIO_COMMAND))
            seen.append(await pid_of(same))
            seen.append((await run_proc(MCPProcess(STDIO_COMMAND, "pid"))).value["result"])
            backend_result = await MCPBackend(STDIO_COMMAND).execute(
                MCPProcess("http://127.0.0.1:9/unused", "pid"), ProcessContext("pid")
            )
            seen.append(backend_result.value["result"])
            assert seen == [first] * 7
            assert process_exists(first)
            # The tool list was fetched once, when the block opened.
            assert await server.call("list_count") == {"result": 1}
        # The block has ended: its server process is gone, and so are its tasks.
        assert not process_exists(first)
        assert live_tasks() == tasks_before
        assert await pid_of(server) != first


@pytest.mark.anyio
async def test_par_children_share_the_session_concurrently() -> None:
    server = MCPServer(STDIO_COMMAND)
    parties = 8

    async def meet(i: int, ctx: ProcessContext) -> Any:
        # True only if all `parties` calls run at once in one server process.
        return await server.call("barrier", {"parties": parties, "within": 30})

    with anyio.fail_after(90):
        async with server.connect():
            pid = await pid_of(server)
            met = await PAR_FOR(parties, meet, max_parallel=parties).run()
            pids = await PAR(*[server.tool("pid") for _ in range(5)]).run()
    assert met.is_ok, [f.summary for f in met.failures]
    assert met.value == [{"result": True}] * parties
    assert [r.value for r in pids.results] == [{"result": pid}] * 5


@pytest.mark.anyio
async def test_http_calls_inside_connect_do_not_list_tools_again(http_url: str) -> None:
    server = MCPServer(http_url)
    with anyio.fail_after(60):
        before = await server.call("list_count")
        after = await server.call("list_count")
        assert after["result"] > before["result"]  # per call: a listing each
        async with server.connect():
            before = await server.call("list_count")
            results = await PAR(*[server.tool("add", arguments={"a": i, "b": i}) for i in range(6)]).run()
            after = await server.call("list_count")
    assert [r.value for r in results.results] == [{"result": 2 * i} for i in range(6)]
    assert after == before


@pytest.mark.anyio
async def test_a_timeout_inside_connect_fails_only_that_call() -> None:
    server = MCPServer(STDIO_COMMAND)
    with anyio.fail_after(90):
        async with server.connect():
            pid = await pid_of(server)
            result = await PAR(
                server.tool("slow", arguments={"seconds": 60}, timeout=1),
                server.tool("echo", arguments={"text": "still here"}),
                on_failure=FailurePolicy.COLLECT,
            ).run()
            (failure,) = result.failures
            assert isinstance(failure.error, MCPTimeoutError)
            assert "timed out after 1 s" in str(failure.error)
            assert result.results[1].value == {"result": "still here"}
            # The server cancelled the abandoned call; the session goes on.
            assert await server.call("wait_idle", {"within": 30}) == {"result": True}
            assert await pid_of(server) == pid


@pytest.mark.anyio
async def test_cancelling_a_caller_inside_connect_cancels_only_its_call() -> None:
    server = MCPServer(STDIO_COMMAND)
    with anyio.fail_after(90):
        async with server.connect():
            pid = await pid_of(server)
            async with anyio.create_task_group() as tg:
                tg.start_soon(functools.partial(server.call, "slow", {"seconds": 60}))
                tg.start_soon(functools.partial(server.call, "slow", {"seconds": 60}))
                await anyio.wait_all_tasks_blocked()
                tg.cancel_scope.cancel()
            assert await server.call("wait_idle", {"within": 30}) == {"result": True}
            # A failing tool halts its PAR siblings: also just those calls.
            halted = await PAR(
                server.tool("slow", arguments={"seconds": 60}),
                server.tool("fail", arguments={"message": "stop"}),
            ).run()
            assert any(isinstance(f.error, MCPToolError) for f in halted.failures)
            assert await server.call("wait_idle", {"within": 30}) == {"result": True}
            assert await pid_of(server) == pid


@pytest.mark.anyio
async def test_a_stdio_server_dying_mid_block_fails_calls_with_connection_error() -> None:
    server = MCPServer(STDIO_COMMAND)
    in_flight: list[MCPConnectionError] = []

    async def slow_call() -> None:
        with pytest.raises(MCPConnectionError) as caught:
            await server.call("slow", {"seconds": 60})
        in_flight.append(caught.value)

    with anyio.fail_after(90):
        tasks_before = live_tasks()
        async with server.connect():
            pid = await pid_of(server)
            async with anyio.create_task_group() as tg:
                tg.start_soon(slow_call)
                await anyio.wait_all_tasks_blocked()
                os.kill(pid, signal.SIGKILL)
            later = await run_proc(server.tool("add", arguments={"a": 1, "b": 2}))
            with pytest.raises(MCPConnectionError) as listing:
                await server.tools()
        assert live_tasks() == tasks_before
    label = shlex.join(STDIO_COMMAND)
    (error,) = in_flight
    assert error.server == label and label in str(error) and error.tool == "slow"
    later_error = error_of(later)
    assert isinstance(later_error, MCPConnectionError)
    assert label in str(later_error) and "is broken" in str(later_error)
    assert "does not reconnect" in str(later_error)
    assert listing.value.server == label


@pytest.mark.anyio
async def test_an_http_server_dying_mid_block_fails_calls_with_connection_error() -> None:
    running = await anyio.to_thread.run_sync(_start_server, "http", "/mcp")
    server = MCPServer(running.url)
    try:
        with anyio.fail_after(90):
            async with server.connect():
                assert await server.call("add", {"a": 1, "b": 1}) == {"result": 2}
                await anyio.to_thread.run_sync(running.stop)
                first = await run_proc(server.tool("add", arguments={"a": 1, "b": 2}))
                second = await run_proc(server.tool("add", arguments={"a": 1, "b": 2}))
    finally:
        await anyio.to_thread.run_sync(running.stop)
    for result in (first, second):
        err = error_of(result)
        assert isinstance(err, MCPConnectionError), err
        assert running.url in str(err)
    # Once broken, the session stays broken: no new connection is tried.
    assert "is broken" in str(error_of(second))


@pytest.mark.anyio
async def test_nested_connect_reuses_the_open_session(http_url: str) -> None:
    outer_server = MCPServer(STDIO_COMMAND)
    with anyio.fail_after(90):
        async with outer_server.connect():
            pid = await pid_of(outer_server)
            async with MCPServer(shlex.join(STDIO_COMMAND)).connect() as inner:
                assert inner.reused
                assert await pid_of(outer_server) == pid
                # Another server in the same block gets a session of its own.
                async with MCPServer(http_url).connect() as other:
                    assert not other.reused
                    assert await MCPServer(http_url).call("echo", {"text": "x"}) == {"result": "x"}
                    assert await pid_of(outer_server) == pid
            # Leaving the inner block does not close the outer session.
            assert await pid_of(outer_server) == pid
        assert not process_exists(pid)


@pytest.mark.anyio
async def test_connect_marks_tool_spans_as_shared(
    http_url: str, span_exporter: InMemorySpanExporter
) -> None:
    server = MCPServer(http_url)
    with anyio.fail_after(60):
        await server.call("echo", {"text": "alone"})
        async with server.connect():
            await server.call("echo", {"text": "shared"})
    spans = [s for s in span_exporter.get_finished_spans() if s.name == "execute_tool echo"]
    assert [s.attributes[N.MCP_SHARED_SESSION] for s in spans if s.attributes] == [False, True]


@pytest.mark.anyio
async def test_connect_to_an_unreachable_server_raises_from_async_with(down_url: str) -> None:
    with anyio.fail_after(60):
        tasks_before = live_tasks()
        with pytest.raises(MCPConnectionError, match="connection refused") as caught:
            async with MCPServer(down_url).connect():
                pytest.fail("the block must not run")  # pragma: no cover
        assert caught.value.server == down_url and down_url in str(caught.value)
        with pytest.raises(MCPConnectionError, match="closed the connection"):
            async with MCPServer([sys.executable, "-c", "pass"]).connect(timeout=20):
                pytest.fail("the block must not run")  # pragma: no cover
        silent = MCPServer([sys.executable, "-c", "import time; time.sleep(60)"])
        with pytest.raises(MCPTimeoutError, match="did not open a session within 1 s"):
            async with silent.connect(timeout=1):
                pytest.fail("the block must not run")  # pragma: no cover
        assert live_tasks() == tasks_before


@pytest.mark.anyio
async def test_an_error_in_the_block_propagates_as_itself() -> None:
    server = MCPServer(STDIO_COMMAND)
    pids: list[int] = []
    with anyio.fail_after(90), pytest.raises(KeyError, match="mine"):
        async with server.connect():
            pids.append(await pid_of(server))
            raise KeyError("mine")
    assert not process_exists(pids[0])


@pytest.mark.anyio
async def test_a_task_that_outlives_the_block_gets_a_clear_error(http_url: str) -> None:
    server = MCPServer(http_url)
    block_over = anyio.Event()
    errors: list[MCPConnectionError] = []

    async def late_call() -> None:
        await block_over.wait()
        with pytest.raises(MCPConnectionError) as caught:
            await server.call("echo", {"text": "late"})
        errors.append(caught.value)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            async with server.connect():
                tg.start_soon(late_call)  # inherits the block's context
            block_over.set()
    (error,) = errors
    assert "block ended" in str(error) and http_url in str(error)


@pytest.mark.anyio
async def test_connect_misuse_is_a_clear_error(http_url: str) -> None:
    server = MCPServer(http_url)
    with pytest.raises(TypeError, match="async with server.connect"):
        with server.connect():
            pass  # pragma: no cover
    connection = server.connect()
    with anyio.fail_after(60):
        async with connection:
            with pytest.raises(RuntimeError, match="already entered"):
                async with connection:
                    pass  # pragma: no cover
    with pytest.raises(TypeError, match="no public constructor"):
        MCPConnection()
    with pytest.raises(ValueError, match="positive"):
        server.connect(timeout=0)
    assert repr(MCPServer("http://h:1/mcp").connect(timeout=5)) == (
        "MCPServer('http://h:1/mcp').connect(timeout=5.0)"
    )


# ----------------------------------------------------------- construction


def test_transport_is_chosen_from_the_target() -> None:
    assert MCPServer("http://127.0.0.1:8000/mcp").transport == "streamable-http"
    assert MCPServer("https://example.org/sse").transport == "sse"
    assert MCPServer("http://127.0.0.1:8000/sse/").transport == "sse"
    assert MCPServer("http://127.0.0.1:8000/events", transport="sse").transport == "sse"
    assert MCPServer(["python", "server.py"]).transport == "stdio"
    assert MCPServer("python server.py --flag").target == "python server.py --flag"
    assert MCPServer("http://127.0.0.1:8000/mcp").name == "127.0.0.1:8000"
    assert MCPServer(["/usr/bin/my-server", "-v"]).name == "my-server"


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: MCPServer(42), TypeError, "expected a server URL"),  # type: ignore[arg-type]
        (lambda: MCPServer(""), ValueError, "empty"),
        (lambda: MCPServer([]), ValueError, "empty list"),
        (lambda: MCPServer(["python", 3]), TypeError, "must hold str"),  # type: ignore[list-item]
        (lambda: MCPServer("ftp://host/x"), ValueError, "unsupported URL scheme"),
        (lambda: MCPServer("http://h/mcp", transport="carrier-pigeon"), ValueError, "transport"),
        (lambda: MCPServer("http://h/mcp", transport="stdio"), ValueError, "stdio"),
        (lambda: MCPServer(["srv"], transport="sse"), ValueError, "stdio"),
        (lambda: MCPProcess("http://h/mcp", ""), TypeError, "tool_name"),
        (lambda: MCPProcess("http://h/mcp", "t", timeout=0), ValueError, "positive"),
        (lambda: MCPProcess("http://h/mcp", "t", timeout="5"), TypeError, "seconds"),  # type: ignore[arg-type]
        (lambda: MCPProcess("http://h/mcp", "t", timeout=float("nan")), ValueError, "positive"),
        (lambda: MCPProcess("http://h/mcp", "t", arguments=[1]), TypeError, "mapping"),  # type: ignore[arg-type]
        (lambda: MCPBackend("http://h/mcp", concurrency_limit=0), ValueError, "concurrency_limit"),
    ],
)
def test_bad_construction_raises_at_once(make: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_reprs_are_short_and_valid_python() -> None:
    proc = MCPProcess("http://127.0.0.1:8000/mcp", "add", timeout=5, arguments={"a": 1})
    assert repr(proc) == "MCPProcess('http://127.0.0.1:8000/mcp', 'add', timeout=5.0, arguments={'a': 1})"
    assert repr(proc.optional()).endswith(".optional()")
    assert repr(MCPServer(["srv", "-x"])) == "MCPServer(['srv', '-x'])"
    assert repr(MCPBackend("http://h:1/mcp")) == "MCPBackend('http://h:1/mcp')"
    assert proc.name == "add" and MCPProcess("http://h/mcp", "add", name="adder").name == "adder"


def test_public_names_live_in_stbass_mcp() -> None:
    import stbass.mcp

    for name in stbass.mcp.__all__:
        assert getattr(stbass.mcp, name).__module__ == "stbass.mcp", name
    assert MCPProcess.__module__ == "stbass.mcp"


# ---------------------------------------------------------------- example


@pytest.mark.anyio
async def test_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(EXAMPLE), run_name="mcp_tools_example")
    with anyio.fail_after(90):
        await namespace["main"]()
    out = capsys.readouterr().out
    assert "add(2, 3) -> {'result': 5}" in out
    assert "tools: " in out
    assert "MCPUnknownToolError" in out


@pytest.mark.anyio
async def test_connect_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(CONNECT_EXAMPLE), run_name="mcp_connect_example")
    with anyio.fail_after(90):
        tasks_before = live_tasks()
        figures = await namespace["main"](calls=2, fan_out=12)
        assert live_tasks() == tasks_before
    assert figures.totals == list(range(12))
    assert figures.per_call_alone > 0 and figures.per_call_shared > 0
    out = capsys.readouterr().out
    assert "2 calls, a session each:" in out and "2 calls on one session:" in out
    assert "PAR_FOR of 12 calls on the same session: 66 words in all" in out


@pytest.mark.parametrize(
    ("flags", "env_backend"),
    [([], None), (["--backend", "trio"], None), ([], "trio")],
    ids=["asyncio", "trio", "trio-from-env"],
)
def test_example_runs_as_a_script(flags: list[str], env_backend: str | None) -> None:
    """``--backend trio`` as every example takes; ``STBASS_EXAMPLE_BACKEND``
    still picks the backend when ``--backend`` is not given."""
    env = dict(os.environ)
    env.pop("STBASS_EXAMPLE_BACKEND", None)
    if env_backend is not None:
        env["STBASS_EXAMPLE_BACKEND"] = env_backend
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), *flags], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert "add(2, 3) -> {'result': 5}" in proc.stdout


@pytest.mark.parametrize("example", [EXAMPLE, CONNECT_EXAMPLE], ids=["mcp_tools", "mcp_connect"])
def test_the_examples_refuse_an_unknown_backend(example: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(example), "--backend", "curio"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "invalid choice: 'curio'" in proc.stderr


@pytest.mark.parametrize("runner", ["asyncio", "trio"])
def test_docs_snippet_runs(runner: str, tmp_path: Path) -> None:
    text = DOCS.read_text()
    start = text.index("```python", text.index("## A runnable example")) + len("```python")
    source = text[start : text.index("```", start)]
    assert "anyio.run(main)" in source
    script = tmp_path / "snippet.py"
    script.write_text(source.replace("anyio.run(main)", f"anyio.run(main, backend={runner!r})"))
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=HERE.parent,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "['add', 'shout', 'word_count']",
        "{'result': 5}",
        "[{'result': 'HELLO!'}, {'words': 3, 'chars': 13}]",
    ]


# ---------------------------------------------------------------- a body over the server's limit


@pytest.mark.anyio
async def test_an_argument_over_the_http_body_limit_names_the_limit_and_status(http_url: str) -> None:
    big = "x" * (5 * 1024 * 1024)
    result = await run_proc(MCPProcess(http_url, "echo", arguments={"text": big}))
    error = error_of(result)
    assert isinstance(error, MCPProtocolError)
    message = str(error)
    assert "HTTP 413" in message
    assert "4,194,304 bytes (4 MiB)" in message
    assert "its body was 5,2" in message  # the request's own size, in bytes
    assert "tool 'echo'" in message
    # the same argument travels over stdio, which has no such limit
    over_stdio = await run_proc(MCPServer(STDIO_COMMAND).tool("echo", arguments={"text": big}))
    assert over_stdio.is_ok and over_stdio.value == {"result": big}


@pytest.mark.anyio
async def test_a_body_over_the_limit_inside_connect_is_named_too(http_url: str) -> None:
    server = MCPServer(http_url)
    async with server.connect():
        with anyio.fail_after(60):
            result = await server.tool("echo", arguments={"text": "y" * (5 * 1024 * 1024)}).execute(
                ProcessContext("echo")
            )
            small = await server.call("echo", {"text": "still fine"})
    assert "HTTP 413" in str(error_of(result))
    assert small == {"result": "still fine"}  # the session survives the refusal


@pytest.mark.anyio
async def test_an_argument_over_the_sse_body_limit_names_the_status(sse_url: str) -> None:
    result = await run_proc(MCPProcess(sse_url, "echo", arguments={"text": "z" * (5 * 1024 * 1024)}, timeout=20))
    message = str(error_of(result))
    assert "HTTP 413" in message, message


@pytest.mark.anyio
async def test_a_refused_body_breaks_a_shared_sse_session_clearly(sse_url: str) -> None:
    server = MCPServer(sse_url)
    async with server.connect():
        with anyio.fail_after(60):
            big = await server.tool("echo", arguments={"text": "w" * (5 * 1024 * 1024)}).execute(
                ProcessContext("echo")
            )
            after = await server.tool("echo", arguments={"text": "small"}).execute(ProcessContext("echo"))
    assert "HTTP 413" in str(error_of(big))
    error = error_of(after)
    assert isinstance(error, MCPConnectionError)
    assert "SSE transport stopped sending" in str(error) and "HTTP 413" in str(error)
