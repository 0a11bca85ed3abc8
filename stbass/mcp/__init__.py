"""MCP tools as stbass processes, over the real Model Context Protocol.

``MCPProcess`` calls one tool of an MCP server, ``MCPServer`` is a handle on a
server (streamable HTTP, SSE, or a local command over stdio), and
``MCPBackend`` runs placed tool calls for ``PLACED_PAR``. ``async with
server.connect():`` (an ``MCPConnection``) shares one session among the calls in
the block. Failures are failed ``ProcessResult`` s whose error is an
:class:`MCPCallError` subclass.

>>> from stbass.mcp import MCPServer
>>> server = MCPServer("http://127.0.0.1:8000/mcp")
>>> add = server.tool("add", arguments={"a": 1, "b": 2})

Needs the ``mcp`` extra (``pip install stbass[mcp]``).
"""

from ._client import MCPBackend as MCPBackend
from ._client import MCPCallError as MCPCallError
from ._client import MCPConnection as MCPConnection
from ._client import MCPConnectionError as MCPConnectionError
from ._client import MCPInvalidArgumentsError as MCPInvalidArgumentsError
from ._client import MCPProcess as MCPProcess
from ._client import MCPProtocolError as MCPProtocolError
from ._client import MCPServer as MCPServer
from ._client import MCPTimeoutError as MCPTimeoutError
from ._client import MCPToolError as MCPToolError
from ._client import MCPToolInfo as MCPToolInfo
from ._client import MCPUnknownToolError as MCPUnknownToolError
from .._core._util import fixup_module_metadata as _fixup_module_metadata

__all__ = (
    "MCPBackend",
    "MCPCallError",
    "MCPConnection",
    "MCPConnectionError",
    "MCPInvalidArgumentsError",
    "MCPProcess",
    "MCPProtocolError",
    "MCPServer",
    "MCPTimeoutError",
    "MCPToolError",
    "MCPToolInfo",
    "MCPUnknownToolError",
)

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
