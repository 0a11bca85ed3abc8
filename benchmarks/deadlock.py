"""Deadlock detection: what it costs when there is no deadlock, and how fast it
reports one.

``python -m benchmarks.deadlock [--quick]`` runs, on asyncio and trio, in the
same process with the variants interleaved:

* ping-pong between two processes of a ``PAR`` (``ctx.send``/``ctx.recv``, every
  operation parks): detection on vs ``detect_deadlock=False``;
* PAR spawn of trivial processes: detection on vs off;
* the time from the start of a two-process deadlock to ``DeadlockError``.

Prints the best of the repeats (the machine is shared: the minimum is the
least noisy figure), the on/off ratio and the median detection latency.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anyio

from stbass import PAR, Chan, DeadlockError, Process, ProcessContext


def players(rounds: int) -> tuple[Process, Process]:
    async def ping(ctx: ProcessContext) -> None:
        for i in range(rounds):
            await ctx.send("a", i)
            await ctx.recv("b")

    async def pong(ctx: ProcessContext) -> None:
        for _ in range(rounds):
            await ctx.send("b", await ctx.recv("a"))

    return Process(ping), Process(pong)


async def pingpong(rounds: int, detect: bool) -> float:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    procs = [p.with_channels(a=a, b=b) for p in players(rounds)]
    t0 = time.perf_counter()
    await PAR(*procs, detect_deadlock=detect).run()
    return time.perf_counter() - t0


async def trivial(ctx: Any) -> None:
    """Does nothing."""


async def spawn(n: int, detect: bool) -> float:
    procs = [Process(trivial)] * n
    t0 = time.perf_counter()
    await PAR(*procs, detect_deadlock=detect).run()
    return time.perf_counter() - t0


@Process
async def left(ctx: ProcessContext) -> None:
    await ctx.send("a", 1)
    await ctx.recv("b")


@Process
async def right(ctx: ProcessContext) -> None:
    await ctx.send("b", 1)
    await ctx.recv("a")


async def latency() -> float:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    t0 = time.perf_counter()
    try:
        await PAR(left.with_channels(a=a, b=b), right.with_channels(a=a, b=b)).run()
    except DeadlockError:
        return time.perf_counter() - t0
    raise AssertionError("no deadlock reported")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    args = parser.parse_args()
    rounds, n, repeats = (200, 200, 2) if args.quick else (10_000, 5_000, 11)
    for backend in ("asyncio", "trio"):
        on: dict[str, list[float]] = {"pingpong": [], "spawn": []}
        off: dict[str, list[float]] = {"pingpong": [], "spawn": []}
        lat: list[float] = []
        for _ in range(repeats):
            for detect, into in ((True, on), (False, off)):
                into["pingpong"].append(anyio.run(pingpong, rounds, detect, backend=backend))
                into["spawn"].append(anyio.run(spawn, n, detect, backend=backend))
            lat.append(anyio.run(latency, backend=backend))
        for case, size, unit in (("pingpong", rounds, "round trip"), ("spawn", n, "process")):
            a = min(on[case])
            b = min(off[case])
            print(
                f"{backend:8} {case:9} detection on {a / size * 1e6:7.2f} us/{unit}, "
                f"off {b / size * 1e6:7.2f} us/{unit}, on/off {a / b:.3f}"
            )
        print(f"{backend:8} deadlock reported after {statistics.median(lat) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
