"""One MCP session for many tool calls: ``async with server.connect():``.

Starts examples/mcp_server.py as a local command over stdio. Without
``connect()`` every call starts its own server process (about a second each for a
Python server); inside ``async with server.connect():`` the calls — sequential or
from the replicas of a ``PAR_FOR`` — share one process, which is stopped when the
block ends. Prints the time per call both ways. Run with
``python examples/mcp_connect.py`` (asyncio) or with ``--backend trio`` to run
the same program on trio (``STBASS_EXAMPLE_BACKEND=trio`` does the same when
``--backend`` is not given).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from stbass import PAR_FOR, ProcessContext
from stbass.mcp import MCPServer

SERVER_SCRIPT = Path(__file__).resolve().parent / "mcp_server.py"


@dataclass
class Figures:
    """What main() measured: seconds per sequential call, and the PAR_FOR values."""

    per_call_alone: float
    per_call_shared: float
    totals: list[Any]


async def sequential(server: MCPServer, calls: int) -> float:
    """Seconds per call for *calls* sequential ``add`` calls."""
    start = time.perf_counter()
    for i in range(calls):
        assert await server.call("add", {"a": i, "b": 1}) == {"result": i + 1}
    return (time.perf_counter() - start) / calls


async def main(calls: int = 20, fan_out: int = 100) -> Figures:
    server = MCPServer([sys.executable, str(SERVER_SCRIPT)], name="local-stdio")

    # Outside connect(): one session, one server process, per call.
    alone = await sequential(server, calls)
    print(f"{calls} calls, a session each:     {alone * 1000:8.1f} ms per call")

    async with server.connect():
        # Every call to `server` in this block, from any task, uses one session.
        shared = await sequential(server, calls)
        print(f"{calls} calls on one session:      {shared * 1000:8.1f} ms per call")

        async def count_words(i: int, ctx: ProcessContext) -> Any:
            return await server.call("word_count", {"text": "word " * i})

        result = await PAR_FOR(fan_out, count_words, max_parallel=8).run()
        totals = [value["words"] for value in result.value]
        print(f"PAR_FOR of {fan_out} calls on the same session: {sum(totals)} words in all")
    # The block has ended: the server process is stopped, no task is left.
    return Figures(alone, shared, totals)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        default=os.environ.get("STBASS_EXAMPLE_BACKEND", "asyncio"),
    )
    anyio.run(main, backend=parser.parse_args().backend)
