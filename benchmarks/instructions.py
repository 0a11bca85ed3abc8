"""Instructions per operation, counted by valgrind (callgrind): a measure that
does not move with the load of a shared machine, where CPU-time ratios swing by
10-20 % from run to run.

``python -m benchmarks.instructions [--backend asyncio|trio|both] [--only ...]``

Each case runs in its own interpreter under ``valgrind --tool=callgrind`` twice,
with *n* and *n/2* operations; the difference divided by *n/2* is the cost of
one operation without start-up, imports and the event loop's set-up. The cases
are the ones of ``benchmarks/cases.py`` that the targets compare (stbass against
anyio in the same program shape), so the ratios read like the CPU-time ones.

Needs ``valgrind`` (a Debian package); the suite does not depend on it. A run
takes a few minutes (valgrind slows Python about 50x); cases run two at a time.
Counts depend a little (up to ~3 %) on the hash seed, which moves dict layouts
and the garbage collector's timing: runs use ``PYTHONHASHSEED=0`` unless the
environment sets another.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

#: (name, case function, maker or None, n, unit)
CASES: dict[str, list[tuple[str, str, str | None, int]]] = {
    "pingpong": [
        ("stbass", "pingpong", "make_stbass", 4000),
        ("anyio", "pingpong", "make_anyio", 4000),
    ],
    "buffered": [
        ("stbass Chan(capacity=64)", "stream", "make_stbass_buffered", 4000),
        ("anyio stream(64)", "stream", "make_anyio_buffered", 4000),
    ],
    "spawn": [
        ("PAR", "spawn_par", None, 2000),
        ("anyio start_soon", "spawn_anyio", None, 2000),
    ],
}
UNITS = {"pingpong": "message", "buffered": "message", "spawn": "child"}
#: a ratio's direction: "faster" = baseline ÷ stbass, "cost" = stbass ÷ baseline
TARGETS = {
    "pingpong": ("ping-pong vs anyio stream", "faster", ">= 1.67x"),
    "buffered": ("Chan(capacity=64) vs anyio stream(64)", "faster", ">= 1.0x"),
    "spawn": ("PAR spawn vs anyio start_soon", "cost", "<= 1.2x"),
}

_RUNNER = """
import sys, anyio
from benchmarks import cases
backend, fn, maker, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
case = getattr(cases, fn)
args = (getattr(cases, maker), n) if maker != "-" else (n,)
warm = (getattr(cases, maker), 50) if maker != "-" else (50,)
anyio.run(case, *warm, backend=backend)
anyio.run(case, *args, backend=backend)
"""


@dataclass
class Count:
    section: str
    name: str
    backend: str
    per_op: float


def _instructions(backend: str, fn: str, maker: str | None, n: int) -> int:
    out = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-c",
            _RUNNER,
            backend,
            fn,
            maker or "-",
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
        # The hash seed moves dict layouts and the collector's timing: counts
        # differ by up to ~3 % between seeds, so every run uses the same one.
        env={**os.environ, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0")},
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:  # pragma: no cover - valgrind's output changed
        raise RuntimeError(f"no instruction count in valgrind's output:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def count(backend: str, section: str, name: str, fn: str, maker: str | None, n: int) -> Count:
    full = _instructions(backend, fn, maker, n)
    half = _instructions(backend, fn, maker, n // 2)
    return Count(section, name, backend, (full - half) / (n - n // 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("asyncio", "trio", "both"), default="both")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(CASES)}")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    only = [s for s in args.only.split(",") if s] or list(CASES)
    unknown = sorted(set(only) - set(CASES))
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    backends = ("asyncio", "trio") if args.backend == "both" else (args.backend,)
    jobs = [
        (backend, section, *case)
        for backend in backends
        for section in only
        for case in CASES[section]
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda job: count(*job), jobs))
    print(f"Instructions per operation (valgrind callgrind), Python {sys.version.split()[0]}")
    for backend in backends:
        print(f"\n== {backend} ==")
        for section in only:
            rows = [c for c in counts if c.backend == backend and c.section == section]
            ours, base = rows[0].per_op, rows[1].per_op
            label, direction, goal = TARGETS[section]
            ratio = base / ours if direction == "faster" else ours / base
            for c in rows:
                print(f"  {c.name:<28} {c.per_op:>10,.0f} instructions per {UNITS[section]}")
            print(f"  -> {label}: {ratio:.3f}x (goal {goal})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
