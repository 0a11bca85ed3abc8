"""MCP tools as processes, over the real Model Context Protocol.

Built on the official ``mcp`` Python SDK (itself written on anyio, so it runs
under asyncio and trio alike). Three public classes:

* :class:`MCPProcess` — a process that calls one tool of one MCP server;
* :class:`MCPServer` — a handle on a server (streamable HTTP, SSE, or a local
  command over stdio) that makes such processes and lists the server's tools;
* :class:`MCPBackend` — an :class:`~stbass.ExecutionBackend` that runs placed
  ``MCPProcess`` es against its server (for ``PLACED_PAR``).

Outside a :meth:`MCPServer.connect` block every call opens its own MCP session
inside an ``async with`` in the calling task, so nothing outlives the call: a
timeout or an outside cancellation tears the session (and, for stdio, the server
process) down before the call returns.

Inside ``async with server.connect():`` one session (for stdio: one server
process) is opened when the block starts and closed when it ends, by a task of
the block's own task group; every call to that server made in the block — from
the entering task or from any task started inside it (PAR children, PAR_FOR
replicas) — is sent on it, concurrently if the calls are concurrent. The open
sessions are found through a :class:`~contextvars.ContextVar` (target -> session)
that the block sets, which child tasks inherit. A call's timeout or cancellation
abandons that call only (the SDK tells the server to cancel it); the session and
the other calls go on. If the session breaks (the server process dies, the
connection is lost), the calls in flight and every later call in the block fail
with :class:`MCPConnectionError` naming the server: stbass does not reconnect.

A server that is down, slow, or answers an error gives a failed
:class:`~stbass.ProcessResult` whose error is an :class:`MCPCallError` subclass
with a message saying what happened and where.
"""

from __future__ import annotations

import errno
import math
import os
import shlex
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, TextIO, cast, final
from urllib.parse import urlsplit

import anyio
from opentelemetry.trace import SpanKind

from .. import _names as N
from .. import observe
from .._compose._placement import ExecutionBackend
from .._compose._process import Process, ProcessContext, cancel_reason, current_context
from .._compose._result import ProcessResult
from .._version import __version__

if TYPE_CHECKING:
    from anyio.abc import TaskStatus
    from mcp import Client
    from mcp.types import CallToolResult, Tool

    from .._compose._placement_value import Placement

Transport = Literal["streamable-http", "sse", "stdio"]
_TRANSPORT_ALIASES: dict[str, Transport] = {
    "streamable-http": "streamable-http",
    "streamable_http": "streamable-http",
    "http": "streamable-http",
    "sse": "sse",
    "stdio": "stdio",
}
#: span attribute: how stbass reached the server ("streamable-http" | "sse" | "stdio")
MCP_TRANSPORT_ATTR = N.MCP_TRANSPORT
_LIST_PAGE_CAP = 100


# ------------------------------------------------------------------- errors


class MCPCallError(Exception):
    """Base of every MCP failure stbass reports. ``server`` names the server (its
    URL or command), ``tool`` the tool (``None`` for listing or health checks).

    A failed :class:`MCPProcess` carries one as ``failure.error``;
    :meth:`MCPServer.call` raises it:

    >>> try:                                                  # doctest: +SKIP
    ...     await MCPServer("http://127.0.0.1:8000/mcp").call("add", {"a": 1, "b": 2})
    ... except MCPCallError as error:
    ...     print(type(error).__name__, error.server, error.tool)
    """

    def __init__(self, message: str, *, server: str, tool: str | None = None) -> None:
        super().__init__(message)
        self.server = server
        self.tool = tool


class MCPConnectionError(MCPCallError, ConnectionError):
    """The server could not be reached (connection refused, command not found,
    HTTP error status) or the connection broke during the call.

    >>> await MCPServer("http://127.0.0.1:1/mcp").call("add", {"a": 1})  # doctest: +SKIP
    Traceback (most recent call last):
      ...
    stbass.mcp.MCPConnectionError: cannot connect to MCP server http://127.0.0.1:1/mcp while calling tool 'add': connection refused
    """


class MCPTimeoutError(MCPCallError, TimeoutError):
    """The call took longer than its timeout; it was cancelled, session and all.

    >>> slow = MCPProcess("http://127.0.0.1:8000/mcp", "slow", timeout=0.5)
    >>> result = await SEQ(slow).run()                        # doctest: +SKIP
    >>> result.failures[0].summary                            # doctest: +SKIP
    "[slow] MCPTimeoutError: MCP tool 'slow' on http://127.0.0.1:8000/mcp timed out after 0.5 s (the call was cancelled)"
    """


class MCPToolError(MCPCallError):
    """The tool ran and reported an error (``isError``); ``content`` is its text.

    >>> result = await SEQ(MCPProcess(url, "fail")).run()    # doctest: +SKIP
    >>> result.failures[0].error.content                     # doctest: +SKIP
    'Error executing tool fail: disk full'
    """

    def __init__(self, message: str, *, server: str, tool: str | None = None, content: str = "") -> None:
        super().__init__(message, server=server, tool=tool)
        self.content = content


class MCPUnknownToolError(MCPCallError, LookupError):
    """The server offers no tool by that name; ``available`` lists the ones it has.

    >>> await server.call("multiply", {"a": 2, "b": 3})       # doctest: +SKIP
    Traceback (most recent call last):
      ...
    stbass.mcp.MCPUnknownToolError: MCP server http://127.0.0.1:8000/mcp has no tool 'multiply' (its tools: add, shout, word_count)
    """

    def __init__(
        self, message: str, *, server: str, tool: str | None = None, available: Sequence[str] = ()
    ) -> None:
        super().__init__(message, server=server, tool=tool)
        self.available = tuple(available)


class MCPInvalidArgumentsError(MCPCallError, ValueError):
    """The arguments do not match the tool's input schema (checked before the call,
    so the server never sees them); ``problems`` lists each mismatch.

    >>> try:                                                  # doctest: +SKIP
    ...     await server.call("add", {"a": "two"})
    ... except MCPInvalidArgumentsError as error:
    ...     print(error.problems)
    ("'b' is a required property", "a: 'two' is not of type 'integer'")
    """

    def __init__(
        self, message: str, *, server: str, tool: str | None = None, problems: Sequence[str] = ()
    ) -> None:
        super().__init__(message, server=server, tool=tool)
        self.problems = tuple(problems)


class MCPProtocolError(MCPCallError):
    """The server answered with a protocol (JSON-RPC) error or an invalid message.

    >>> await MCPServer("http://127.0.0.1:8000/nothing").call("add")  # doctest: +SKIP
    Traceback (most recent call last):
      ...
    stbass.mcp.MCPProtocolError: MCP server http://127.0.0.1:8000/nothing answered a protocol error while calling tool 'add': [-32601] Not Found
    """


# ------------------------------------------------------------------ targets


@final
@dataclass(frozen=True)
class MCPToolInfo:
    """One tool a server offers, as :meth:`MCPServer.tools` lists it.

    >>> MCPToolInfo("add", {"type": "object"}).name
    'add'
    """

    name: str
    input_schema: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    output_schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Target:
    transport: Transport
    label: str  # a URL or a command line, for messages
    url: str | None = None
    argv: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] | None = None
    cwd: str | None = None

    @property
    def address(self) -> tuple[str | None, int | None]:
        if self.url is None:
            return None, None
        parts = urlsplit(self.url)
        port = parts.port
        if port is None:
            port = 443 if parts.scheme == "https" else 80
        return parts.hostname, port


def _parse_target(
    url_or_command: object,
    transport: str | None,
    env: Mapping[str, str] | None,
    cwd: str | os.PathLike[str] | None,
    owner: str,
) -> _Target:
    chosen: Transport | None = None
    if transport is not None:
        if not isinstance(transport, str) or transport not in _TRANSPORT_ALIASES:
            raise ValueError(
                f"{owner}: transport must be one of 'streamable-http', 'sse', 'stdio', got {transport!r}"
            )
        chosen = _TRANSPORT_ALIASES[transport]
    if env is not None and not isinstance(env, Mapping):
        raise TypeError(f"{owner}: env must be a mapping of str to str, got {type(env).__name__}")
    env_items = tuple(sorted((str(k), str(v)) for k, v in env.items())) if env is not None else None
    cwd_text = os.fspath(cwd) if cwd is not None else None
    if isinstance(url_or_command, str):
        text = url_or_command.strip()
        if not text:
            raise ValueError(f"{owner}: the server URL or command is empty")
        if text.startswith(("http://", "https://")):
            if chosen == "stdio":
                raise ValueError(f"{owner}: {text!r} is a URL, it cannot use the stdio transport")
            if chosen is None:
                path = urlsplit(text).path.rstrip("/")
                chosen = "sse" if path.endswith("/sse") else "streamable-http"
            return _Target(chosen, text, url=text)
        if "://" in text.split()[0]:
            raise ValueError(f"{owner}: unsupported URL scheme in {text!r} (use http:// or https://)")
        argv: tuple[str, ...] = tuple(shlex.split(text))
    elif isinstance(url_or_command, Sequence) and not isinstance(url_or_command, (bytes, bytearray)):
        argv = tuple(url_or_command)
        if not argv:
            raise ValueError(f"{owner}: the server command is an empty list")
        for part in argv:
            if not isinstance(part, str):
                raise TypeError(
                    f"{owner}: a command list must hold str, got {type(part).__name__} {part!r}"
                )
    else:
        raise TypeError(
            f"{owner}: expected a server URL (str) or a command (str or list of str), "
            f"got {type(url_or_command).__name__}"
        )
    if chosen not in (None, "stdio"):
        raise ValueError(f"{owner}: a local command runs over stdio, not {chosen!r}")
    return _Target("stdio", shlex.join(argv), argv=argv, env=env_items, cwd=cwd_text)


def _check_timeout(owner: str, timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"{owner}: timeout must be a number of seconds, got {type(timeout).__name__}")
    if not timeout > 0:  # also rejects NaN
        raise ValueError(f"{owner}: timeout must be positive, got {timeout!r}")
    return float(timeout)


def _check_tool_name(owner: str, tool_name: object) -> str:
    if not isinstance(tool_name, str) or not tool_name:
        raise TypeError(f"{owner}: tool_name must be a non-empty str, got {tool_name!r}")
    return tool_name


def _check_arguments(owner: str, arguments: object) -> dict[str, Any] | None:
    if arguments is None:
        return None
    if not isinstance(arguments, Mapping):
        raise TypeError(
            f"{owner}: arguments must be a mapping (the tool's JSON object), "
            f"got {type(arguments).__name__}"
        )
    return dict(arguments)


# ------------------------------------------------------------------ sessions


def _errlog() -> TextIO:
    # The SDK hands errlog to the subprocess as its stderr, which needs a real
    # file descriptor; under output capture sys.stderr may have none.
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return cast(TextIO, subprocess.DEVNULL)
    return sys.stderr


@dataclass(frozen=True)
class _Refusal:
    """An HTTP error status a server answered to one of our requests."""

    status: int
    reason: str
    size: int  # bytes in the request body
    tool: str | None  # the tool the request called, if it was tools/call


class _Refusals:
    """The HTTP error statuses a server answered to our POSTs, as they come: the
    SDK reports them without the status (streamable HTTP) or not at all (SSE,
    where the call would wait for its timeout), so a call also watches this."""

    def __init__(self) -> None:
        self.items: list[_Refusal] = []
        self._added = anyio.Event()

    def add(self, refusal: _Refusal) -> None:
        self.items.append(refusal)
        self._added.set()
        self._added = anyio.Event()

    async def wait_for(self, tool: str) -> _Refusal:
        """The next refusal of a ``tools/call`` of *tool* (concurrent calls of
        the same tool in one shared session cannot be told apart)."""
        seen = len(self.items)
        while True:
            await self._added.wait()
            for refusal in self.items[seen:]:
                if refusal.tool == tool:
                    return refusal
            seen = len(self.items)


#: what the official SDK's servers accept by default (``max_request_body_size``)
_SDK_BODY_LIMIT = 4 * 1024 * 1024


def _refusal_of(response: Any) -> _Refusal:
    import json

    try:
        body: bytes = response.request.content
    except Exception:  # a streamed body: its size is unknown
        body = b""
    tool = None
    try:
        message = json.loads(body)
        if isinstance(message, dict) and message.get("method") == "tools/call":
            name = (message.get("params") or {}).get("name")
            tool = name if isinstance(name, str) else None
    except ValueError:
        pass
    return _Refusal(response.status_code, response.reason_phrase, len(body), tool)


@asynccontextmanager
async def _open_client(target: _Target, refusals: _Refusals | None = None) -> AsyncIterator[Client]:
    """An open ``mcp.Client`` for *target*; the HTTP error statuses the server
    answers (HTTP transports) are added to *refusals*."""
    import httpx2
    from mcp import Client, Implementation, StdioServerParameters

    log = refusals if refusals is not None else _Refusals()

    async def on_response(response: httpx2.Response) -> None:
        if response.status_code >= 400 and response.request.method == "POST":
            log.add(_refusal_of(response))

    def http_client(
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        # The SDK's own defaults (30 s, 300 s to read a stream), plus the hook.
        return httpx2.AsyncClient(
            headers=headers,
            timeout=timeout if timeout is not None else httpx2.Timeout(30.0, read=300.0),
            auth=auth,
            event_hooks={"response": [on_response]},
        )

    server: Any
    async with AsyncExitStack() as stack:
        if target.transport == "stdio":
            from mcp.client.stdio import stdio_client

            params = StdioServerParameters(
                command=target.argv[0],
                args=list(target.argv[1:]),
                env=dict(target.env) if target.env is not None else None,
                cwd=target.cwd,
            )
            server = stdio_client(params, errlog=_errlog())
        elif target.transport == "sse":
            from mcp.client.sse import sse_client

            server = sse_client(cast(str, target.url), httpx_client_factory=http_client)
        else:
            from mcp.client.streamable_http import streamable_http_client

            http = await stack.enter_async_context(http_client())
            server = streamable_http_client(cast(str, target.url), http_client=http)
        client = Client(
            server,
            cache=None,
            client_info=Implementation(name="stbass", version=__version__),
        )
        yield await stack.enter_async_context(client)


def _refused_status(
    refusals: Sequence[_Refusal] | None, target: _Target, tool: str | None, doing: str
) -> MCPCallError | None:
    """What the server's HTTP error status said, when the SDK hid it."""
    if not refusals:
        return None
    matching = [r for r in refusals if r.tool == tool] or list(refusals)
    r = matching[-1]
    kw: dict[str, Any] = {"server": target.label, "tool": tool}
    where = f"MCP server {target.label}"
    if r.status == 413:
        return MCPProtocolError(
            f"{where} refused the request while {doing} with HTTP 413 {r.reason}: its body "
            f"was {r.size:,} bytes, over the server's request size limit (servers built on "
            f"the official MCP SDK accept {_SDK_BODY_LIMIT:,} bytes (4 MiB) by default, their "
            f"max_request_body_size); pass large data by reference (a URL or a path) or raise "
            f"the server's limit",
            **kw,
        )
    return MCPProtocolError(
        f"{where} answered HTTP {r.status} {r.reason} while {doing} "
        f"(request body: {r.size:,} bytes)",
        **kw,
    )


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        found: list[BaseException] = []
        for inner in exc.exceptions:
            found.extend(_leaves(inner))
        return found
    return [exc]


def _chain(exc: BaseException) -> list[BaseException]:
    """*exc* and everything behind it: causes, contexts, group members, and
    exceptions wrapped as arguments (httpcore wraps the socket error that way)."""
    seen: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 64:
        current = todo.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        linked: list[object] = [current.__cause__, current.__context__, *current.args]
        if isinstance(current, BaseExceptionGroup):
            linked.extend(current.exceptions)
        todo.extend(e for e in linked if isinstance(e, BaseException))
    return seen


def _refused(exc: BaseException) -> bool:
    for link in _chain(exc):
        if isinstance(link, ConnectionRefusedError):
            return True
        if isinstance(link, OSError) and link.errno == errno.ECONNREFUSED:
            return True
    return False


def _describe(
    exc: BaseException,
    target: _Target,
    tool: str | None,
    doing: str,
    refusals: Sequence[_Refusal] | None = None,
) -> MCPCallError:
    """Turn whatever the SDK or the network raised into an :class:`MCPCallError`."""
    import httpx2
    from mcp import MCPError
    from pydantic import ValidationError

    leaves = _leaves(exc)
    for leaf in leaves:
        if isinstance(leaf, MCPCallError):
            return leaf
    leaf = leaves[0] if leaves else exc
    where = f"MCP server {target.label}"
    kw: dict[str, Any] = {"server": target.label, "tool": tool}
    if isinstance(leaf, httpx2.HTTPStatusError):
        if leaf.response.status_code == 413:
            return cast(MCPCallError, _refused_status([_refusal_of(leaf.response)], target, tool, doing))
        return MCPConnectionError(
            f"{where} answered HTTP {leaf.response.status_code} "
            f"{leaf.response.reason_phrase} while {doing}",
            **kw,
        )
    if isinstance(leaf, httpx2.ConnectError) or (
        isinstance(leaf, OSError) and target.transport != "stdio"
    ):
        reason = "connection refused" if _refused(leaf) else str(leaf) or type(leaf).__name__
        return MCPConnectionError(f"cannot connect to {where} while {doing}: {reason}", **kw)
    if isinstance(leaf, httpx2.TimeoutException):
        return MCPTimeoutError(f"{where} did not answer in time while {doing} (HTTP timeout)", **kw)
    if isinstance(leaf, httpx2.HTTPError):
        return MCPConnectionError(f"connection to {where} failed while {doing}: {leaf}", **kw)
    if isinstance(leaf, OSError):  # stdio: the command could not be started
        return MCPConnectionError(f"cannot start {where} while {doing}: {leaf}", **kw)
    if isinstance(leaf, MCPError):
        if leaf.code == -32603 and leaf.message == "Server returned an error response":
            # the SDK's stand-in for an HTTP error status: say which
            found = _refused_status(refusals, target, tool, doing)
            if found is not None:
                return found
        if leaf.code == -32000:  # CONNECTION_CLOSED
            return MCPConnectionError(
                f"{where} closed the connection while {doing}: {leaf.message}", **kw
            )
        return MCPProtocolError(
            f"{where} answered a protocol error while {doing}: [{leaf.code}] {leaf.message}", **kw
        )
    if isinstance(leaf, ValidationError):
        return MCPProtocolError(f"{where} sent an invalid message while {doing}: {leaf}", **kw)
    return MCPCallError(
        f"MCP call to {where} failed while {doing}: {type(leaf).__name__}: {leaf}", **kw
    )


async def _list_tools(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(_LIST_PAGE_CAP):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if cursor is None:
            break
    return tools


def _schema_problems(arguments: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    from jsonschema.validators import validator_for  # type: ignore[import-untyped]

    validator_cls = validator_for(schema)
    validator = validator_cls(schema)
    problems = []
    for error in sorted(validator.iter_errors(arguments), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in error.path)
        problems.append(f"{path}: {error.message}" if path else str(error.message))
    return problems


def _result_value(result: CallToolResult) -> Any:
    if result.structured_content is not None:
        return result.structured_content
    texts = [getattr(block, "text", None) for block in result.content]
    if texts and all(isinstance(t, str) for t in texts):
        return texts[0] if len(texts) == 1 else texts
    if not result.content:
        return None
    return [block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content]


def _error_text(result: CallToolResult) -> str:
    texts = [t for t in (getattr(block, "text", None) for block in result.content) if isinstance(t, str)]
    return "\n".join(texts) or "(no message)"


# ----------------------------------------------------------- shared sessions


@final
class _SharedSession:
    """One MCP session that a ``connect()`` block opens and lends to every call
    inside it. :meth:`host` runs in a task of the block's task group: it enters the
    SDK client (its transport tasks, and for stdio the server process, live inside
    that task), waits for :meth:`close`, and leaves it. Callers only send requests
    through ``client``; the SDK correlates concurrent requests by id."""

    def __init__(self, target: _Target) -> None:
        self.target = target
        self.client: Client | None = None
        self.tools: list[Tool] = []  # listed once, when the session opens
        self.connect_error: MCPCallError | None = None
        self.broken: str | None = None  # why the session can no longer be used
        self.refusals = _Refusals()  # HTTP error statuses the server answered
        self.ended = False  # the block that opened it has ended
        self._close = anyio.Event()

    async def host(
        self, timeout: float, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        target = self.target
        started = False
        # A deadline on connecting only: lifted once the session is open.
        connecting = anyio.CancelScope(deadline=anyio.current_time() + timeout)
        try:
            with connecting:
                async with _open_client(target, self.refusals) as client:
                    self.tools = await _list_tools(client)
                    self.client = client
                    connecting.deadline = math.inf
                    started = True
                    task_status.started()
                    await self._close.wait()
        except Exception as exc:  # never cancellation: that is a BaseException
            error = _describe(exc, target, None, "using the shared session" if started else "connecting")
            if started:
                self.mark_broken(str(error))
            else:
                self.connect_error = error
        finally:
            self.client = None
            if started and self.broken is None and not self._close.is_set():
                self.mark_broken(f"the session to MCP server {target.label} ended")
        if not started:
            if self.connect_error is None and connecting.cancelled_caught:
                self.connect_error = MCPTimeoutError(
                    f"MCP server {target.label} did not open a session within {timeout:g} s "
                    f"(connect() gave up)",
                    server=target.label,
                )
            task_status.started()

    def close(self) -> None:
        self.ended = True
        self._close.set()

    def mark_broken(self, reason: str) -> None:
        if self.broken is None:
            self.broken = reason

    def client_for(self, tool: str | None) -> Client:
        """The open client, or an :class:`MCPConnectionError` saying why there is none."""
        label = self.target.label
        what = f"tool {tool!r}" if tool is not None else "the tool listing"
        if self.ended:
            raise MCPConnectionError(
                f"the shared session to MCP server {label} was closed when its "
                f"`async with server.connect()` block ended; {what} was requested after that "
                f"(from a task that outlived the block)",
                server=label,
                tool=tool,
            )
        if self.broken is not None or self.client is None:
            raise MCPConnectionError(
                f"the shared session to MCP server {label} is broken, so {what} was not "
                f"requested (stbass does not reconnect inside a connect() block): "
                f"{self.broken or 'the session is closed'}",
                server=label,
                tool=tool,
            )
        return self.client


_NO_SESSIONS: Mapping[_Target, _SharedSession] = MappingProxyType({})
#: The sessions the enclosing ``connect()`` blocks opened, by target. Child tasks
#: inherit it, so calls made anywhere inside a block find the block's session.
_SHARED_SESSIONS: ContextVar[Mapping[_Target, _SharedSession]] = ContextVar(
    "stbass_mcp_shared_sessions", default=_NO_SESSIONS
)


def _shared_session(target: _Target) -> _SharedSession | None:
    return _SHARED_SESSIONS.get().get(target)


@asynccontextmanager
async def _hold_session(target: _Target, timeout: float) -> AsyncIterator[None]:
    session = _SharedSession(target)
    body_error: Exception | None = None
    async with anyio.create_task_group() as tg:
        await tg.start(session.host, timeout)
        if session.connect_error is None:
            token = _SHARED_SESSIONS.set(MappingProxyType({**_SHARED_SESSIONS.get(), target: session}))
            try:
                yield
            except Exception as exc:
                # Re-raised below, once the task group has closed, so that an error
                # in the block reaches the caller as itself, not in an ExceptionGroup.
                body_error = exc
            finally:
                session.close()
                _SHARED_SESSIONS.reset(token)
    if session.connect_error is not None:
        raise session.connect_error
    if body_error is not None:
        raise body_error


async def _call_tool(
    target: _Target, tool: str, arguments: Mapping[str, Any], timeout: float
) -> Any:
    """Call *tool* on *target*: its value, or an :class:`MCPCallError` raised."""
    host, port = target.address
    shared = _shared_session(target)
    attrs: dict[str, Any] = {
        N.GEN_AI_OPERATION_NAME: "execute_tool",
        N.GEN_AI_TOOL_NAME: tool,
        N.SERVER_ADDRESS: host,
        N.SERVER_PORT: port,
        N.MCP_TRANSPORT: target.transport,
        N.MCP_SHARED_SESSION: shared is not None,
    }
    with observe.span(N.SPAN_TOOL_PREFIX + tool, attrs, kind=SpanKind.INTERNAL) as rec:
        try:
            return await _call_tool_unspanned(target, tool, arguments, timeout, shared)
        except MCPCallError as exc:
            rec.failed(exc)
            raise
        except BaseException as exc:
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                ctx = current_context()
                rec.cancelled(cancel_reason(ctx) if ctx is not None else "outer")
            raise


async def _checked_call(
    client: Client, tools: Sequence[Tool], target: _Target, tool: str, arguments: Mapping[str, Any]
) -> CallToolResult | MCPCallError:
    """Check *tool* and *arguments* against the listing *tools*, then call it."""
    kw: dict[str, Any] = {"server": target.label, "tool": tool}
    found = next((t for t in tools if t.name == tool), None)
    if found is None:
        names = sorted(t.name for t in tools)
        return MCPUnknownToolError(
            f"MCP server {target.label} has no tool {tool!r} "
            f"(its tools: {', '.join(names) or 'none'})",
            available=names,
            **kw,
        )
    problems = _schema_problems(arguments, found.input_schema or {})
    if problems:
        return MCPInvalidArgumentsError(
            f"invalid arguments for MCP tool {tool!r} on {target.label}: " + "; ".join(problems),
            problems=problems,
            **kw,
        )
    return await client.call_tool(tool, dict(arguments))


async def _call_tool_unspanned(
    target: _Target,
    tool: str,
    arguments: Mapping[str, Any],
    timeout: float,
    shared: _SharedSession | None,
) -> Any:
    kw: dict[str, Any] = {"server": target.label, "tool": tool}
    doing = f"calling tool {tool!r}"
    outcome: CallToolResult | MCPCallError | None = None
    refusals = shared.refusals if shared is not None else _Refusals()
    refused_before = len(refusals.items)
    with anyio.move_on_after(timeout) as scope:
        try:
            if shared is None:
                async with _open_client(target, refusals) as client:
                    tools = await _list_tools(client)
                    outcome = await _unless_refused(
                        _checked_call(client, tools, target, tool, arguments), refusals, target, tool, doing
                    )
            else:
                await anyio.lowlevel.checkpoint()
                client = shared.client_for(tool)
                outcome = await _unless_refused(
                    _checked_call(client, shared.tools, target, tool, arguments), refusals, target, tool, doing
                )
        except Exception as exc:  # never cancellation: that is a BaseException
            outcome = _describe(exc, target, tool, doing, refusals.items)
            if shared is not None and isinstance(outcome, MCPConnectionError):
                shared.mark_broken(str(outcome))
    if shared is not None and target.transport == "sse" and len(refusals.items) > refused_before:
        # The SDK's SSE transport stops sending once a POST is refused.
        shared.mark_broken(f"the SSE transport stopped sending after: {outcome}")
    if scope.cancelled_caught and outcome is None:
        raise MCPTimeoutError(
            f"MCP tool {tool!r} on {target.label} timed out after {timeout:g} s "
            f"(the call was cancelled)",
            **kw,
        )
    if isinstance(outcome, MCPCallError):
        raise outcome
    if outcome is None:  # pragma: no cover - every path above sets it
        raise MCPCallError(f"MCP tool {tool!r} on {target.label} gave no result", **kw)
    if outcome.is_error:
        text = _error_text(outcome)
        raise MCPToolError(
            f"MCP tool {tool!r} on {target.label} reported an error: {text}", content=text, **kw
        )
    return _result_value(outcome)


async def _unless_refused(
    call: Awaitable[CallToolResult | MCPCallError],
    refusals: _Refusals,
    target: _Target,
    tool: str,
    doing: str,
) -> CallToolResult | MCPCallError:
    """Await *call*, unless the server refuses its HTTP request first: then the
    call is abandoned and the refusal (status, size, limit) is the outcome."""
    outcome: CallToolResult | MCPCallError | None = None
    error: Exception | None = None

    async def watch(scope: anyio.CancelScope) -> None:
        nonlocal outcome
        refusal = await refusals.wait_for(tool)
        outcome = _refused_status([refusal], target, tool, doing)
        scope.cancel()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch, tg.cancel_scope)
        try:
            outcome = await call
        except Exception as exc:  # re-raised below, as itself
            error = exc
        tg.cancel_scope.cancel()
    if error is not None and outcome is None:
        raise error
    assert outcome is not None
    return outcome


def _require_sdk() -> None:
    import importlib.util

    if importlib.util.find_spec("mcp") is None:  # pragma: no cover - the extra is missing
        raise ModuleNotFoundError(
            "stbass.mcp needs the official MCP SDK: pip install 'stbass[mcp]'", name="mcp"
        )


# ---------------------------------------------------------------- the API


class MCPServer:
    """A handle on one MCP server: a URL or a local command.

    * ``"http://host:port/mcp"`` — streamable HTTP;
    * a URL whose path ends in ``/sse`` — the (older) SSE transport;
    * ``["python", "server.py"]`` or ``"python server.py"`` — a local command,
      started per session and spoken to over stdio.

    ``transport=`` forces ``"streamable-http"`` or ``"sse"`` for URLs that do not
    follow that naming. No connection is made until something is called; each
    call opens and closes its own session, unless it runs inside
    ``async with server.connect():`` (see :meth:`connect`), which shares one.

    >>> server = MCPServer("http://127.0.0.1:8000/mcp", name="calc")
    >>> add = server.tool("add", arguments={"a": 1, "b": 2})
    >>> result = await add.execute(ProcessContext("add"))  # doctest: +SKIP
    """

    def __init__(
        self,
        url_or_command: str | Sequence[str],
        name: str | None = None,
        *,
        transport: str | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"MCPServer: name must be a non-empty str, got {name!r}")
        self._target = _parse_target(url_or_command, transport, env, cwd, "MCPServer")
        _require_sdk()
        # The URL exactly as given (the target keeps it stripped).
        self._url = url_or_command if isinstance(url_or_command, str) and self._target.url else None
        if name is None:
            host, port = self._target.address
            name = f"{host}:{port}" if host is not None else os.path.basename(self._target.argv[0])
        self.name: str = name

    @property
    def url(self) -> str | None:
        """The URL the server was given, as given; ``None`` for a local command.

        >>> MCPServer("http://127.0.0.1:8000/mcp", name="calc").url
        'http://127.0.0.1:8000/mcp'
        """
        return self._url

    @property
    def transport(self) -> Transport:
        """``"streamable-http"``, ``"sse"`` or ``"stdio"``."""
        return self._target.transport

    @property
    def target(self) -> str:
        """The URL or the command line, as failure messages show it."""
        return self._target.label

    def tool(
        self,
        name: str,
        *,
        timeout: float = 30.0,
        arguments: Mapping[str, Any] | None = None,
    ) -> MCPProcess:
        """A process calling tool *name* on this server.

        >>> MCPServer("http://127.0.0.1:8000/mcp").tool("add", timeout=5)
        MCPProcess('http://127.0.0.1:8000/mcp', 'add', timeout=5.0)
        """
        return MCPProcess(self, name, timeout=timeout, arguments=arguments)

    async def call(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        timeout: float = 30.0,
    ) -> Any:
        """Call *tool* directly and return its value (raises :class:`MCPCallError`).

        >>> await MCPServer("http://127.0.0.1:8000/mcp").call("add", {"a": 1, "b": 2})  # doctest: +SKIP
        {'result': 3}
        """
        tool = _check_tool_name("MCPServer.call", tool)
        timeout = _check_timeout("MCPServer.call", timeout)
        args = _check_arguments("MCPServer.call", arguments) or {}
        return await _call_tool(self._target, tool, args, timeout)

    def connect(self, *, timeout: float = 30.0) -> MCPConnection:
        """A scoped session shared by every call to this server inside the block.

        ``async with server.connect():`` opens one MCP session (for a stdio
        command: starts one server process) and lists the server's tools once;
        every call to the same server — the same URL or command and transport,
        through this ``MCPServer``, an :class:`MCPProcess` or an :class:`MCPBackend`
        — made in the block, by the entering task or any task started inside it,
        is sent on that session, concurrently when the calls are concurrent. The
        session is closed (the stdio process stopped) when the block exits;
        nothing outlives it. *timeout* bounds opening the session; a server that
        cannot be reached raises :class:`MCPConnectionError` (or
        :class:`MCPTimeoutError`) from the ``async with``.

        A call's own timeout or cancellation ends that call only. If the session
        breaks (the server dies, the connection is lost), the calls in flight and
        every later call in the block fail with :class:`MCPConnectionError`; there
        is no reconnection. A nested ``connect()`` for the same server reuses the
        open session.

        >>> server = MCPServer(["python", "-m", "my_tools"])
        >>> async def add_one(i: int, ctx: ProcessContext) -> Any:
        ...     return await server.call("add", {"a": i, "b": 1})
        >>> async with server.connect():                          # doctest: +SKIP
        ...     result = await PAR_FOR(100, add_one, max_parallel=8).run()
        """
        return MCPConnection._create(self, _check_timeout("MCPServer.connect", timeout))

    async def tools(self, *, timeout: float = 30.0) -> list[MCPToolInfo]:
        """The tools the server offers, with their input schemas (raises
        :class:`MCPCallError` if the server cannot be listed).

        >>> [t.name for t in await server.tools()]  # doctest: +SKIP
        ['add', 'echo']
        """
        timeout = _check_timeout("MCPServer.tools", timeout)
        target = self._target
        shared = _shared_session(target)
        listed: list[Tool] | None = None
        error: MCPCallError | None = None
        with anyio.move_on_after(timeout):
            try:
                if shared is None:
                    async with _open_client(target) as client:
                        listed = await _list_tools(client)
                else:
                    await anyio.lowlevel.checkpoint()
                    listed = await _list_tools(shared.client_for(None))
            except Exception as exc:
                error = _describe(exc, target, None, "listing tools")
                if shared is not None and isinstance(error, MCPConnectionError):
                    shared.mark_broken(str(error))
        if error is not None:
            raise error
        if listed is None:
            raise MCPTimeoutError(
                f"MCP server {target.label} did not list its tools within {timeout:g} s "
                f"(the request was cancelled)",
                server=target.label,
            )
        return [
            MCPToolInfo(
                name=t.name,
                input_schema=dict(t.input_schema or {}),
                description=t.description,
                output_schema=dict(t.output_schema) if t.output_schema is not None else None,
            )
            for t in listed
        ]

    async def health(self, *, timeout: float = 5.0) -> bool:
        """``True`` if the server answers an MCP handshake and a tool listing within
        *timeout* seconds; ``False`` otherwise (never raises for a server problem).

        >>> await MCPServer("http://127.0.0.1:1/mcp").health()  # doctest: +SKIP
        False
        """
        try:
            await self.tools(timeout=timeout)
        except MCPCallError:
            return False
        return True

    def __repr__(self) -> str:
        args = [repr(self._target.label if self._target.url else list(self._target.argv))]
        host, port = self._target.address
        default = f"{host}:{port}" if host is not None else os.path.basename(self._target.argv[0])
        if self.name != default:
            args.append(f"name={self.name!r}")
        return f"MCPServer({', '.join(args)})"


@final
class MCPConnection:
    """A shared MCP session for the duration of an ``async with`` block; made by
    :meth:`MCPServer.connect` (it has no public constructor).

    Use it once, with ``async with`` (``with`` and a second ``async with`` are
    errors). Entering it inside an open block for the same server reuses that
    block's session (``reused`` is then ``True``).

    >>> connection = MCPServer("http://127.0.0.1:8000/mcp").connect(timeout=10)
    >>> connection
    MCPServer('http://127.0.0.1:8000/mcp').connect(timeout=10.0)
    >>> async with connection:                                 # doctest: +SKIP
    ...     await connection.server.call("add", {"a": 1, "b": 2})
    """

    server: MCPServer
    timeout: float
    reused: bool
    _entered: bool
    _holder: AbstractAsyncContextManager[None] | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("MCPConnection has no public constructor; use MCPServer.connect()")

    @classmethod
    def _create(cls, server: MCPServer, timeout: float) -> MCPConnection:
        self = cls.__new__(cls)
        self.server = server
        self.timeout = timeout
        self.reused = False
        self._entered = False
        self._holder = None
        return self

    async def __aenter__(self) -> MCPConnection:
        if self._entered:
            raise RuntimeError(
                f"{self!r} was already entered; use a new server.connect() for each `async with`"
            )
        self._entered = True
        target = self.server._target
        enclosing = _shared_session(target)
        if enclosing is not None and not enclosing.ended:
            self.reused = True
            await anyio.lowlevel.checkpoint()
            return self
        holder = _hold_session(target, self.timeout)
        await holder.__aenter__()
        self._holder = holder
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        holder, self._holder = self._holder, None
        if holder is None:
            return None
        return await holder.__aexit__(exc_type, exc, tb)

    def __enter__(self) -> NoReturn:
        raise TypeError(
            "MCPServer.connect() opens a session with `async with server.connect():`, not `with`"
        )

    def __exit__(self, *exc_info: object) -> None:  # pragma: no cover - __enter__ raises
        return None

    def __repr__(self) -> str:
        return f"{self.server!r}.connect(timeout={self.timeout!r})"


class MCPProcess(Process):
    """A process that calls one MCP tool.

    Arguments come from *arguments*, or — when *arguments* is ``None`` and the
    process runs as a SEQ stage — from the value on its ``"input"`` channel (the
    previous stage's value, which must be a dict). The tool's structured content
    (or else its text) becomes the result value. *timeout* (seconds) bounds the
    whole call: connecting, listing the tool, validating the arguments against its
    input schema, and the call itself; on expiry the call is cancelled.

    >>> add = MCPProcess("http://127.0.0.1:8000/mcp", "add", arguments={"a": 2, "b": 3})
    >>> (await add.execute(ProcessContext("add"))).value  # doctest: +SKIP
    {'result': 5}
    """

    def __init__(
        self,
        server_url: str | Sequence[str] | MCPServer,
        tool_name: str,
        timeout: float = 30.0,
        arguments: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
        placement: Placement | None = None,
    ) -> None:
        tool_name = _check_tool_name("MCPProcess", tool_name)
        super().__init__(name=name if name is not None else tool_name, placement=placement)
        self.server: MCPServer = (
            server_url if isinstance(server_url, MCPServer) else MCPServer(server_url)
        )
        self.tool_name: str = tool_name
        self.timeout: float = _check_timeout("MCPProcess", timeout)
        self.arguments: dict[str, Any] | None = _check_arguments("MCPProcess", arguments)

    def with_server(self, server: MCPServer | str | Sequence[str]) -> MCPProcess:
        """A copy that calls the same tool on another server."""
        new = cast(MCPProcess, self._copy())
        new.server = server if isinstance(server, MCPServer) else MCPServer(server)
        return new

    def with_arguments(self, arguments: Mapping[str, Any] | None) -> MCPProcess:
        """A copy with other fixed arguments (``None``: read them from ``"input"``)."""
        new = cast(MCPProcess, self._copy())
        new.arguments = _check_arguments("MCPProcess.with_arguments", arguments)
        return new

    async def run(self, ctx: ProcessContext) -> ProcessResult[Any]:
        arguments = self.arguments
        if arguments is None and "input" in ctx.channels:
            received = await ctx.recv("input")
            if received is not None and not isinstance(received, Mapping):
                raise MCPInvalidArgumentsError(
                    f"invalid arguments for MCP tool {self.tool_name!r} on {self.server.target}: "
                    f"the input channel carried {type(received).__name__} {received!r}, "
                    f"not a dict of arguments",
                    server=self.server.target,
                    tool=self.tool_name,
                    problems=[f"expected a dict, got {type(received).__name__}"],
                )
            arguments = dict(received) if received is not None else None
        value = await _call_tool(self.server._target, self.tool_name, arguments or {}, self.timeout)
        return ProcessResult.ok(value)

    def __repr__(self) -> str:
        target = self.server._target
        where = repr(target.label if target.url else list(target.argv))
        text = f"MCPProcess({where}, {self.tool_name!r}, timeout={self.timeout!r}"
        if self.arguments is not None:
            text += f", arguments={self.arguments!r}"
        if self.name != self.tool_name:
            text += f", name={self.name!r}"
        text += ")"
        if self.is_optional:
            text += ".optional()"
        return text


class MCPBackend(ExecutionBackend):
    """An execution backend whose processes are tool calls on one MCP server.

    ``execute`` runs an :class:`MCPProcess` against *this* backend's server
    (placement decides where a process runs), and fails any other kind of
    process with a ``TypeError``. ``health_check`` is :meth:`MCPServer.health`.

    >>> from stbass import PLACED_PAR, BackendRegistry, Placement
    >>> registry = BackendRegistry()
    >>> registry.register("tools", MCPBackend("http://127.0.0.1:8000/mcp"))
    >>> add = MCPProcess("http://127.0.0.1:8000/mcp", "add", arguments={"a": 1, "b": 2})
    >>> await PLACED_PAR((add, Placement(endpoint="tools")), registry=registry).run()  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str | Sequence[str] | MCPServer,
        *,
        name: str | None = None,
        concurrency_limit: int | None = None,
        transport: str | None = None,
    ) -> None:
        if concurrency_limit is not None and (
            isinstance(concurrency_limit, bool)
            or not isinstance(concurrency_limit, int)
            or concurrency_limit < 1
        ):
            raise ValueError(
                f"MCPBackend: concurrency_limit must be a positive int or None, got {concurrency_limit!r}"
            )
        if isinstance(url, MCPServer):
            if transport is not None:
                raise ValueError("MCPBackend: transport cannot be given with an MCPServer")
            self.server: MCPServer = url
        else:
            self.server = MCPServer(url, transport=transport)
        self.concurrency_limit = concurrency_limit
        self._name = name if name is not None else f"mcp:{self.server.name}"

    @property
    def name(self) -> str:
        """The backend's name in spans and errors: the one given, or
        ``mcp:<server name>``.

        >>> MCPBackend("http://127.0.0.1:8000/mcp").name
        'mcp:127.0.0.1:8000'
        >>> MCPBackend("http://127.0.0.1:8000/mcp", name="tools").name
        'tools'
        """
        return self._name

    def tool(
        self, name: str, *, timeout: float = 30.0, arguments: Mapping[str, Any] | None = None
    ) -> MCPProcess:
        """A process calling tool *name* on this backend's server."""
        return self.server.tool(name, timeout=timeout, arguments=arguments)

    async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        if not isinstance(process, MCPProcess):
            await anyio.lowlevel.checkpoint()
            return ProcessResult.fail(
                TypeError(
                    f"MCPBackend {self.name!r} runs MCPProcess only; process {process.name!r} "
                    f"is a {type(process).__name__}"
                ),
                process_name=process.name,
                process_id=ctx.process_id,
                placement=ctx.placement,
                parent_process=ctx.parent,
            )
        if process.server._target != self.server._target:
            process = process.with_server(self.server)
        return await process.execute(ctx)

    async def health_check(self) -> bool:
        return await self.server.health()

    def __repr__(self) -> str:
        target = self.server._target
        return f"MCPBackend({(target.label if target.url else list(target.argv))!r})"

