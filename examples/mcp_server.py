"""A small MCP server for examples/mcp_tools.py, written with the official ``mcp`` SDK.

``python mcp_server.py stdio`` speaks MCP over stdin/stdout (how a local tool
server is usually run); ``python mcp_server.py http`` serves streamable HTTP at
``/mcp`` on 127.0.0.1, on a free port that it prints as ``PORT <n>`` once it is
listening.
"""

from __future__ import annotations

import socket
import sys

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer

server: MCPServer = MCPServer("stbass-example-tools", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def shout(text: str) -> str:
    """The text in capitals, with an exclamation mark."""
    return text.upper() + "!"


@server.tool()
def word_count(text: str) -> dict[str, int]:
    """How many words and characters the text has."""
    return {"words": len(text.split()), "chars": len(text)}


def serve_http() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    anyio.run(uvicorn.Server(config).serve, [sock])


if __name__ == "__main__":
    if sys.argv[1:] == ["http"]:
        serve_http()
    else:
        server.run("stdio")
