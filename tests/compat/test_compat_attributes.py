"""stbass 0.1 compatibility: attributes 0.1 documented: ``ChanArray.count``,
``MCPServer.url`` and ``MCPServer.name``."""

from __future__ import annotations

from stbass import ChanArray
from stbass.mcp import MCPServer


def test_chan_array_count() -> None:
    array = ChanArray(int, 4, name_prefix="jobs")
    assert array.count == 4 == len(array)
    assert ChanArray(str, 0).count == 0


def test_mcp_server_url_and_name() -> None:
    server = MCPServer("http://127.0.0.1:8765/mcp", name="calc")
    assert server.url == "http://127.0.0.1:8765/mcp"  # the URL it was given
    assert server.name == "calc"
    unnamed = MCPServer("http://127.0.0.1:8765/sse")
    assert unnamed.url == "http://127.0.0.1:8765/sse"
    assert unnamed.name  # a generated name, never empty


def test_mcp_server_for_a_local_command_has_no_url() -> None:
    server = MCPServer(["python", "server.py"], name="local")
    assert server.url is None
    assert server.name == "local"
