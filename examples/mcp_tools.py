"""MCP tools as stbass processes: list, call, run in PAR and SEQ, fail clearly.

Starts examples/mcp_server.py twice — once as a streamable-HTTP server on a free
local port, once per call as a local command over stdio — and stops it at the
end. Run with ``python examples/mcp_tools.py`` (asyncio) or with
``--backend trio`` to run the same program on trio
(``STBASS_EXAMPLE_BACKEND=trio`` does the same when ``--backend`` is not given).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.text import TextReceiveStream

from stbass import PAR, SEQ, Process, ProcessContext, ProcessResult
from stbass.mcp import MCPServer

SERVER_SCRIPT = Path(__file__).resolve().parent / "mcp_server.py"


@asynccontextmanager
async def http_server() -> AsyncIterator[str]:
    """Start mcp_server.py over streamable HTTP; yield its URL; stop it after."""
    async with await anyio.open_process(
        [sys.executable, str(SERVER_SCRIPT), "http"], stderr=None
    ) as proc:
        try:
            assert proc.stdout is not None
            line = ""
            with anyio.fail_after(60):
                async for chunk in TextReceiveStream(proc.stdout):
                    line += chunk
                    if "\n" in line:
                        break
            port = int(line.split()[1])
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            with anyio.CancelScope(shield=True):
                await proc.wait()


@Process
async def make_numbers(ctx: ProcessContext) -> ProcessResult[dict[str, int]]:
    n = await ctx.recv("input")
    return ProcessResult.ok({"a": n, "b": n + 1})


@Process
async def announce(ctx: ProcessContext) -> ProcessResult[dict[str, str]]:
    total = await ctx.recv("input")
    return ProcessResult.ok({"text": f"the total is {total['result']}"})


async def main() -> None:
    local = MCPServer([sys.executable, str(SERVER_SCRIPT)], name="local-stdio")
    async with http_server() as url:
        server = MCPServer(url, name="example")
        print("tools:", ", ".join(t.name for t in await server.tools()))

        add = server.tool("add", arguments={"a": 2, "b": 3})
        result = await add.execute(ProcessContext("add"))
        print("add(2, 3) ->", result.value)

        # Several tools at once, on two servers (one over HTTP, one over stdio).
        par = await PAR(
            server.tool("shout", arguments={"text": "hello"}),
            local.tool("word_count", arguments={"text": "one two three"}),
        ).run()
        print("PAR ->", [r.value for r in par.results])

        # A pipeline: each stage's value is the next stage's arguments.
        seq = await SEQ(make_numbers, server.tool("add"), announce, server.tool("shout")).run(20)
        print("SEQ ->", seq.value)

        # Failures are results, with a message that says what and where.
        bad: list[Any] = [
            await server.tool("multiply", arguments={"a": 1}).execute(ProcessContext("multiply")),
            await server.tool("add", arguments={"a": "two"}).execute(ProcessContext("add")),
        ]
        for outcome in bad:
            print("failed:", outcome.failure.summary)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default=os.environ.get("STBASS_EXAMPLE_BACKEND", "asyncio"),
    )
    anyio.run(main, backend=parser.parse_args().backend)
