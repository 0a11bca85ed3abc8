"""Deadlock detection: what it costs when there is no deadlock, and how fast it
reports one.

``python -m benchmarks.deadlock [--quick] [--repeats N] [--clock cpu|wall]``
runs, on asyncio and trio, in the same process:

* ping-pong between two processes of a ``PAR`` (``ctx.send``/``ctx.recv``, every
  operation parks): detection on vs ``detect_deadlock=False``;
* PAR spawn of trivial processes: detection on vs off;
* what the watcher itself adds to one park (the fast path of the park and
  unpark, as the call sites run it inline, against an empty call), and
  that cost as a share of a ping-pong round trip (two parks);
* the time from the start of a two-process deadlock to ``DeadlockError``.

Each repeat runs detection on and off back to back, alternating which goes
first, so a drift in the machine's load does not favour one side. Prints the
median and range of the paired on/off ratios (each repeat's on over its off),
the ratio of the best runs, and the detection latency. ``--clock cpu`` (the
default) times the process's CPU time, which other jobs on a shared machine
disturb less than the wall clock. ``--one CASE BACKEND N on|off`` runs one case
once, for counting its instructions under valgrind, which no load disturbs::

    PYTHONHASHSEED=0 setarch -R valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python -m benchmarks.deadlock --one pingpong asyncio 1200 on
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import anyio

from stbass import PAR, Chan, DeadlockError, Process, ProcessContext
from stbass._core._park import COMMITTED, WAITING, Party

CLOCK = time.process_time


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
    t0 = CLOCK()
    await PAR(*procs, detect_deadlock=detect).run()
    return CLOCK() - t0


async def trivial(ctx: Any) -> None:
    """Does nothing."""


async def spawn(n: int, detect: bool) -> float:
    procs = [Process(trivial)] * n
    t0 = CLOCK()
    await PAR(*procs, detect_deadlock=detect).run()
    return CLOCK() - t0


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


def _fast_path(watch: Any, proc: Any, party: Any) -> None:
    """What a park and its unpark add with detection on (the code inline at the
    call sites in ``stbass/_core/_chan.py``), when another process is awake."""
    held = proc.parked
    proc.parked = party
    if held.state is WAITING or proc.witness.parked.state is WAITING:
        watch.parking(proc, party, held)
    else:
        watch = None
    if watch is not None:
        watch.unparked(proc, party)


def _nothing(watch: Any, proc: Any, party: Any) -> None:
    pass


async def park_cost(n: int) -> float:
    """Seconds the watcher adds to one park of a two-process ping-pong: the
    other process's party was committed to, as in a real one."""
    from stbass._compose._deadlock import Watcher

    watch = Watcher(0.0)
    watch.scope = anyio.CancelScope()
    me, other = ProcessContext("ping"), ProcessContext("pong")
    for ctx in (me, other):
        watch.declare(ctx)
        watch.enter(ctx)
    me.witness = other  # as the rare path leaves it: pong is awake
    parties = [Party() for _ in range(n)]
    for party in parties:  # each is committed by the other process before the next park
        party.state = COMMITTED
    best = float("inf")
    for _ in range(5):
        timings = []
        for step in (_fast_path, _nothing):
            t0 = CLOCK()
            for party in parties:
                step(watch, me, party)
            timings.append(CLOCK() - t0)
        best = min(best, (timings[0] - timings[1]) / n)
    return best


def _spread(ratios: list[float]) -> str:
    ratios = sorted(ratios)
    return f"{statistics.median(ratios):.3f} (runs {ratios[0]:.3f}-{ratios[-1]:.3f})"


def main() -> None:
    global CLOCK
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--repeats", type=int, default=15, help="pairs of on/off runs")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument(
        "--one", nargs=4, metavar=("CASE", "BACKEND", "N", "DETECT"),
        help="run one case once and print nothing, e.g. `pingpong trio 1200 on`: for "
        "counting instructions under valgrind (see docs/performance.md)",
    )
    args = parser.parse_args()
    if args.one:
        case, backend, size, detect = args.one
        if backend == "trio":  # trio's scheduler draws from its own generator: fix it
            import trio._core._run

            trio._core._run._r.seed(0)
        run = pingpong if case == "pingpong" else spawn
        anyio.run(run, int(size), detect == "on", backend=backend)
        return
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    rounds, n = (200, 200) if args.quick else (4_000, 2_000)
    repeats = 2 if args.quick else args.repeats
    for backend in ("asyncio", "trio"):
        on: dict[str, list[float]] = {"pingpong": [], "spawn": []}
        off: dict[str, list[float]] = {"pingpong": [], "spawn": []}
        lat: list[float] = []
        for i in range(repeats):
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
                f"{backend:8} {case:9} on {a / size * 1e6:6.2f} us/{unit}, "
                f"off {b / size * 1e6:6.2f}; on/off paired median {_spread(paired)}, "
                f"best/best {a / b:.3f}"
            )
        per_park = anyio.run(park_cost, 20_000 if args.quick else 200_000, backend=backend)
        trip = min(off["pingpong"]) / rounds  # the fastest: the largest share
        print(
            f"{backend:8} the watcher adds {per_park * 1e6:.2f} us to a park: "
            f"{2 * per_park / trip * 100:.1f} % of a ping-pong round trip "
            f"({trip * 1e6:.2f} us, two parks)"
        )
        print(f"{backend:8} deadlock reported after {statistics.median(lat) * 1e3:.2f} ms "
              f"(median of {len(lat)}; max {max(lat) * 1e3:.2f} ms)")


if __name__ == "__main__":
    main()
