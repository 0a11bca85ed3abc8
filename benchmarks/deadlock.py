"""Deadlock detection: what it costs when there is no deadlock, and how fast it
reports one.

``python -m benchmarks.deadlock [--quick]`` runs, on asyncio and trio, in the
same process with the variants interleaved:

* ping-pong between two processes of a ``PAR`` (``ctx.send``/``ctx.recv``, every
  operation parks): detection on vs ``detect_deadlock=False``;
* PAR spawn of trivial processes: detection on vs off;
* the time from the start of a two-process deadlock to ``DeadlockError``.

Each repeat runs detection on and off back to back, alternating which goes
first. Prints the best of the repeats (the machine is shared: the minimum is
the least noisy figure) and their ratio, the median and range of the paired
on/off ratios (each repeat's on over its off), and the detection latency.
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


def _spread(ratios: list[float]) -> str:
    ratios = sorted(ratios)
    return f"{statistics.median(ratios):.3f} (runs {ratios[0]:.3f}-{ratios[-1]:.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=11, help="pairs of on/off runs")
    args = parser.parse_args()
    rounds, n = (200, 200) if args.quick else (10_000, 5_000)
    repeats = 2 if args.quick else args.repeats
    for backend in ("asyncio", "trio"):
        on: dict[str, list[float]] = {"pingpong": [], "spawn": []}
        off: dict[str, list[float]] = {"pingpong": [], "spawn": []}
        lat: list[float] = []
        for i in range(repeats):
            # on/off alternate which goes first, so a drift in the machine's load
            # does not favour one side
            order = ((True, on), (False, off)) if i % 2 == 0 else ((False, off), (True, on))
            for case in ("pingpong", "spawn"):
                for detect, into in order:
                    if case == "pingpong":
                        into[case].append(anyio.run(pingpong, rounds, detect, backend=backend))
                    else:
                        into[case].append(anyio.run(spawn, n, detect, backend=backend))
            lat.append(anyio.run(latency, backend=backend))
        for case, size, unit in (("pingpong", rounds, "round trip"), ("spawn", n, "process")):
            a = min(on[case])
            b = min(off[case])
            paired = [x / y for x, y in zip(on[case], off[case])]
            print(
                f"{backend:8} {case:9} detection on {a / size * 1e6:7.2f} us/{unit}, "
                f"off {b / size * 1e6:7.2f} us/{unit}; on/off best {a / b:.3f}, "
                f"paired median {_spread(paired)}"
            )
        print(f"{backend:8} deadlock reported after {statistics.median(lat) * 1e3:.2f} ms "
              f"(median of {len(lat)}; max {max(lat) * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
