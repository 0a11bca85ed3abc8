"""A program written for stbass 0.1, running unchanged on 0.2.

Everything here is a 0.1 idiom: a ``lambda`` replicator factory, ``async with
SEQ() as s``, ``Failure.elapsed`` as a ``timedelta``, ``FailureReport`` counts
and its ``pattern_analysis()`` dict, ``FailureAggregator.worst_processes(n)``
as process names, and ``asyncio.run(main())``. Nothing in it is asyncio-specific,
so it runs on trio too::

    python examples/from_0_1.py                  # asyncio.run(main()), as in 0.1
    python examples/from_0_1.py --backend trio
"""

from __future__ import annotations

import argparse
import asyncio

import anyio

from stbass import (
    PAR_FOR,
    SEQ,
    FailurePolicy,
    Process,
    ProcessContext,
    ProcessResult,
)
from stbass.failure import FailureAggregator
from stbass.result import FailureReport

ITEMS = ["alpha", "beta", "", "delta", ""]


async def worker(i: int, item: str, ctx: ProcessContext) -> ProcessResult:
    """Summarise one item; an empty item times out (as a slow model call would)."""
    await anyio.sleep(0)
    if not item:
        raise TimeoutError(f"item {i} took too long")
    return ProcessResult.ok(item.upper())


@Process
async def load(ctx: ProcessContext) -> ProcessResult:
    await anyio.sleep(0)
    return ProcessResult.ok(len(ITEMS))


async def main() -> None:
    # 0.1: the factory is a lambda that passes more arguments to the worker.
    fanout = PAR_FOR(
        count=len(ITEMS),
        factory=lambda i, ctx: worker(i, ITEMS[i], ctx),
        on_failure=FailurePolicy.COLLECT,
    )
    result = await fanout.run()
    print("values:", result.value)
    again = await fanout.run()  # a replicator is a value: run it again

    # 0.1: build a SEQ in an ``async with`` block; it runs when the block ends.
    async with SEQ() as pipeline:
        pipeline.add(load)
    assert pipeline.result is not None
    print("loaded:", pipeline.result.value)

    report = FailureReport("fan-out")
    for r in result.results + again.results:
        report.add(r)
    print(f"{report.failed} of {report.total_processes} failed")
    print("types:", report.common_failure_types)  # {'TimeoutError': 4}
    patterns = report.pattern_analysis()  # the 0.1 dict
    print("repeat timeouts:", patterns["repeat_timeouts"])
    for failure in report.failures:
        elapsed = failure.elapsed  # a datetime.timedelta
        seconds = elapsed.total_seconds() if elapsed is not None else 0.0
        print(f"  {failure.summary} (after {seconds:.3f}s, id {failure.process_id[:8]})")
    for advice in report.recommendations():
        print("advice:", advice)

    aggregator = FailureAggregator()
    aggregator.add_report(report)
    print("worst processes:", aggregator.worst_processes(2))  # names, as in 0.1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    if args.backend == "asyncio":
        asyncio.run(main())  # exactly as a 0.1 program ends
    else:
        anyio.run(main, backend="trio")
