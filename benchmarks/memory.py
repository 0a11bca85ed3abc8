"""Memory benchmarks, each run in a fresh subprocess so that peaks do not mix.

``python -m benchmarks.memory parfor --backend trio --n 100000 --variant stbass``
runs ``PAR_FOR`` of *n* trivial processes (``--variant stbass-bounded``: with
``max_parallel=8``; ``--variant anyio``: a raw task group of *n* trivial tasks) and prints JSON: the time, the peak resident
memory added while they ran (``ru_maxrss`` delta) and the memory still held
after they finished. With ``--tracemalloc`` the peak and the retained figures
come from tracemalloc instead (exact Python allocations, slower run).

``python -m benchmarks.memory flat --backend asyncio --n 1000000`` sends *n*
messages through one stbass channel and samples the resident set size and the
number of GC-tracked objects at regular intervals.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from typing import Any

import anyio

_PAGE = os.sysconf("SC_PAGE_SIZE")

perf = time.perf_counter


def rss_bytes() -> int:
    """The current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def maxrss_bytes() -> int:
    """The peak resident set size of this process so far (Linux: kB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


async def _parfor_stbass(n: int, max_parallel: int | None = None) -> None:
    from stbass.replicator import PAR_FOR

    async def body(index: int, ctx: Any) -> int:
        return index

    result = await PAR_FOR(n, body, max_parallel=max_parallel).run()
    assert result.is_ok and len(result.results) == n


async def _parfor_stbass_bounded(n: int) -> None:
    await _parfor_stbass(n, max_parallel=8)


async def _parfor_anyio(n: int) -> None:
    out: list[int | None] = [None] * n

    async def body(index: int) -> None:
        out[index] = index

    async with anyio.create_task_group() as tg:
        for i in range(n):
            tg.start_soon(body, i)
    assert out[-1] == n - 1 if n else True


def parfor(backend: str, n: int, variant: str, use_tracemalloc: bool) -> dict[str, Any]:
    fn = {
        "stbass": _parfor_stbass,
        "stbass-bounded": _parfor_stbass_bounded,
        "anyio": _parfor_anyio,
    }[variant]
    anyio.run(fn, min(n, 1000), backend=backend)  # warm up imports and caches
    gc.collect()
    base_rss = rss_bytes()
    if use_tracemalloc:
        tracemalloc.start()
    t0 = perf()
    anyio.run(fn, n, backend=backend)
    elapsed = perf() - t0
    if use_tracemalloc:
        _, peak = tracemalloc.get_traced_memory()
        gc.collect()
        retained, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    else:
        peak = maxrss_bytes() - base_rss
        gc.collect()
        retained = rss_bytes() - base_rss
    return {
        "backend": backend,
        "variant": variant,
        "n": n,
        "seconds": elapsed,
        "peak_bytes": peak,
        "retained_bytes": retained,
        "method": "tracemalloc" if use_tracemalloc else "rss",
    }


async def _flat(n: int, samples: int, out: list[tuple[int, int, int]]) -> float:
    from stbass import Chan

    ch = Chan(int, name="flat")
    every = max(1, n // samples)

    async def produce() -> None:
        send = ch.send
        for i in range(n):
            await send(i)

    t0 = perf()
    async with anyio.create_task_group() as tg:
        tg.start_soon(produce)
        recv = ch.recv
        for i in range(n):
            await recv()
            if i % every == 0:
                out.append((i, rss_bytes(), len(gc.get_objects())))
    elapsed = perf() - t0
    out.append((n, rss_bytes(), len(gc.get_objects())))
    return elapsed


def flat(backend: str, n: int, samples: int) -> dict[str, Any]:
    out: list[tuple[int, int, int]] = []
    anyio.run(_flat, min(n, 1000), 2, [], backend=backend)  # warm up
    gc.collect()
    elapsed = anyio.run(_flat, n, samples, out, backend=backend)
    # Skip the sample taken at message 0: the first messages allocate the
    # channel's and the tasks' steady state.
    first = out[1] if len(out) > 2 else out[0]
    last = out[-1]
    return {
        "backend": backend,
        "n": n,
        "seconds": elapsed,
        "samples": [{"message": i, "rss_bytes": r, "gc_objects": g} for i, r, g in out],
        "rss_start": first[1],
        "rss_end": last[1],
        "rss_max": max(r for _, r, _ in out[1:] or out),
        "gc_objects_start": first[2],
        "gc_objects_end": last[2],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("case", choices=("parfor", "flat"))
    parser.add_argument("--backend", choices=("asyncio", "trio"), required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--variant", choices=("stbass", "stbass-bounded", "anyio"), default="stbass")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="wall")
    args = parser.parse_args(argv)
    global perf
    perf = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.case == "parfor":
        result = parfor(args.backend, args.n, args.variant, args.tracemalloc)
    else:
        result = flat(args.backend, args.n, args.samples)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
