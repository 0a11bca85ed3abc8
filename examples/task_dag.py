"""A DAG of tasks where each task starts as soon as its own inputs are ready.

The weekly report needs five tasks::

    sales ──┐
            ├─> margin ──┐
    costs ──┘            ├─> summary
    news ────────────────┘

``stbass.dag.DAG`` starts ``sales``, ``costs`` and ``news`` at once, ``margin``
as soon as sales and costs are in (without waiting for the slow ``news``), and
``summary`` when margin and news are both done. Each task gets a dict of its
dependencies' values by name. The program prints the graph as Mermaid::

    python examples/task_dag.py             # asyncio
    python examples/task_dag.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import anyio

from stbass.dag import DAG, DAGResult


@dataclass
class Log:
    """The order in which tasks started and ended."""

    events: list[str] = field(default_factory=list)


def build(log: Log) -> DAG:
    """The weekly-report DAG; every task records its start and end in *log*."""

    async def sales(_: Any) -> int:
        log.events.append("start sales")
        await anyio.sleep(0.03)  # a query against the sales database
        log.events.append("end sales")
        return 120_000

    async def costs(_: Any) -> int:
        log.events.append("start costs")
        await anyio.sleep(0.02)  # a call to the accounting API
        log.events.append("end costs")
        return 85_000

    async def news(_: Any) -> str:
        log.events.append("start news")
        await anyio.sleep(0.3)  # an LLM summarising the week's news
        log.events.append("end news")
        return "a competitor cut prices by 5%"

    async def margin(inputs: dict[str, Any]) -> float:
        log.events.append("start margin")
        await anyio.sleep(0.02)
        log.events.append("end margin")
        ratio: float = (inputs["sales"] - inputs["costs"]) / inputs["sales"]
        return round(ratio, 3)

    async def summary(inputs: dict[str, Any]) -> str:
        log.events.append("start summary")
        await anyio.sleep(0.02)  # an LLM writing the summary
        log.events.append("end summary")
        return f"Margin {inputs['margin']:.1%}; watch out: {inputs['news']}."

    dag = DAG("weekly-report")
    dag.add("sales", sales).add("costs", costs).add("news", news)
    dag.add("margin", margin, after=["sales", "costs"])
    dag.add("summary", summary, after=["margin", "news"])
    return dag


async def main() -> tuple[DAGResult, Log]:
    """Run the DAG once; returns its result and the start/end log."""
    log = Log()
    dag = build(log)
    print(dag.to_mermaid())
    result = await dag.run()
    if not result.is_ok:
        raise SystemExit(next(iter(result.failures.values())).summary)
    print(" -> ".join(log.events))
    print(result.values["summary"])
    return result, log


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
