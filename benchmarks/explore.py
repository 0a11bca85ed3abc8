"""Schedule exploration speed: schedules per second that ``stbass.testing.explore``
runs for a program of 10 processes exchanging 100 messages (5 producers send 20
each on one shared channel, 5 consumers take 20 each), per backend.

``python -m benchmarks.explore [--quick]``; the target is at least 100
schedules/s. Also prints one plain run of the same program, for comparison.
"""

from __future__ import annotations

import argparse
import time

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few schedules (smoke test)")
    args = parser.parse_args()
    n = 10 if args.quick else 300
    for backend in ("asyncio", "trio"):
        t0 = time.perf_counter()
        for _ in range(n):
            anyio.run(exchange, backend=backend)
        plain = (time.perf_counter() - t0) / n
        t0 = time.perf_counter()
        explore(exchange, max_examples=n, backends=(backend,))
        elapsed = time.perf_counter() - t0
        print(
            f"{backend:8} explore: {n / elapsed:6.0f} schedules/s "
            f"({elapsed / n * 1e3:.2f} ms each; a plain run {plain * 1e3:.2f} ms)"
        )


if __name__ == "__main__":
    main()
