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

from ._mcp import MCPBackend as MCPBackend
from ._mcp import MCPCallError as MCPCallError
from ._mcp import MCPConnection as MCPConnection
from ._mcp import MCPConnectionError as MCPConnectionError
from ._mcp import MCPInvalidArgumentsError as MCPInvalidArgumentsError
from ._mcp import MCPProcess as MCPProcess
from ._mcp import MCPProtocolError as MCPProtocolError
from ._mcp import MCPServer as MCPServer
from ._mcp import MCPTimeoutError as MCPTimeoutError
from ._mcp import MCPToolError as MCPToolError
from ._mcp import MCPToolInfo as MCPToolInfo
from ._mcp import MCPUnknownToolError as MCPUnknownToolError
from ._util import fixup_module_metadata as _fixup_module_metadata

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
