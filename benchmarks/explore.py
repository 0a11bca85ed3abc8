"""Schedule exploration speed: schedules per second that ``stbass.testing.explore``
runs for a program of 10 processes exchanging 100 messages (5 producers send 20
each on one shared channel, 5 consumers take 20 each), per backend.

``python -m benchmarks.explore [--quick] [--repeats N]``; the target is at
least 100 schedules/s. Prints the median rate over the repeats (wall clock) and
its range, the rate per second of process CPU time (what the rate would be on
an idle core), and, for comparison, a plain ``anyio.run`` of the same program;
plain runs and explore runs are interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import anyio

from stbass import PAR, Chan, Process, ProcessContext
from stbass.testing import explore

PAIRS, EACH = 5, 20


async def exchange() -> None:
    jobs = Chan(int, name="jobs")

    def producer(k: int) -> Process:
        async def body(ctx: ProcessContext) -> None:
            for i in range(EACH):
                await jobs.send(k * EACH + i)

        return Process(body, name=f"producer{k}")

    def consumer(k: int) -> Process:
        async def body(ctx: ProcessContext) -> int:
            return sum([await jobs.recv() for _ in range(EACH)])

        return Process(body, name=f"consumer{k}")

    result = await PAR(
        *(producer(k) for k in range(PAIRS)), *(consumer(k) for k in range(PAIRS))
    ).run()
    assert result.is_ok
    assert sum(result.value[PAIRS:]) == sum(range(PAIRS * EACH))


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``run()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - w0, time.process_time() - c0


def _plain(n: int, backend: str) -> None:
    for _ in range(n):
        anyio.run(exchange, backend=backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few schedules (smoke test)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each figure")
    args = parser.parse_args()
    n = 10 if args.quick else 300
    repeats = 1 if args.quick else args.repeats
    for backend in ("asyncio", "trio"):
        plain: list[tuple[float, float]] = []
        explored: list[tuple[float, float]] = []
        for _ in range(repeats):  # interleaved, so the machine's load hits both alike
            plain.append(_timed(lambda: _plain(n, backend)))
            explored.append(
                _timed(lambda: explore(exchange, max_examples=n, backends=(backend,)))
            )
        rates = sorted(n / wall for wall, _ in explored)
        cpu_rates = sorted(n / cpu for _, cpu in explored)
        print(
            f"{backend:8} explore: {statistics.median(rates):6.0f} schedules/s "
            f"(runs {rates[0]:.0f}-{rates[-1]:.0f}; per CPU second "
            f"{statistics.median(cpu_rates):.0f}); "
            f"{statistics.median(w for w, _ in explored) / n * 1e3:.2f} ms each, "
            f"a plain anyio.run of it {statistics.median(w for w, _ in plain) / n * 1e3:.2f} ms"
        )


if __name__ == "__main__":
    main()
