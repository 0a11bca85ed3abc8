"""A DAG of tasks where independent tasks run in parallel, composed with SEQ and PAR.

The weekly report needs five tasks::

    sales ──┐
            ├─> margin ──┐
    costs ──┘            ├─> summary
    news ────────────────┘

Tasks with no path between them may run at the same time. Two ways to turn the
graph into a composition are shown:

* ``by_levels(dag)``: a ``SEQ`` of ``PAR`` levels, built from any DAG
  (level k holds the tasks whose longest chain of dependencies has length k);
* the hand-written *series-parallel* form
  ``SEQ(PAR(SEQ(PAR(sales, costs), margin), news), summary)``, which lets
  ``margin`` start as soon as sales and costs are in, without waiting for news.

Tasks read their inputs from, and write their output to, a shared ``results``
dict; the composition guarantees a task runs only after every task it depends on
has finished::

    python examples/task_dag.py             # asyncio
    python examples/task_dag.py --backend trio
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

from stbass import PAR, SEQ, Process, ProcessContext, ProcessResult

TaskFn = Callable[[dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class Task:
    name: str
    fn: TaskFn
    after: tuple[str, ...] = ()


@dataclass
class Run:
    """What happened: each task's output and the order of start/end events."""

    results: dict[str, Any] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


# -------------------------------------------------------------- the tasks


async def sales(inputs: dict[str, Any]) -> int:
    await anyio.sleep(0.03)  # a query against the sales database
    return 120_000


async def costs(inputs: dict[str, Any]) -> int:
    await anyio.sleep(0.02)  # a call to the accounting API
    return 85_000


async def news(inputs: dict[str, Any]) -> str:
    await anyio.sleep(0.05)  # an LLM summarising the week's news
    return "a competitor cut prices by 5%"


async def margin(inputs: dict[str, Any]) -> float:
    await anyio.sleep(0.02)
    ratio: float = (inputs["sales"] - inputs["costs"]) / inputs["sales"]
    return round(ratio, 3)


async def summary(inputs: dict[str, Any]) -> str:
    await anyio.sleep(0.02)  # an LLM writing the summary
    return f"Margin {inputs['margin']:.1%}; watch out: {inputs['news']}."


DAG = [
    Task("sales", sales),
    Task("costs", costs),
    Task("news", news),
    Task("margin", margin, after=("sales", "costs")),
    Task("summary", summary, after=("margin", "news")),
]


# ----------------------------------------------- from tasks to processes


def as_process(task: Task, run: Run) -> Process:
    """The process that runs *task* on the outputs of the tasks it depends on."""

    async def body(ctx: ProcessContext) -> ProcessResult[Any]:
        missing = [d for d in task.after if d not in run.results]
        if missing:  # cannot happen when the composition respects the DAG
            raise RuntimeError(f"{task.name} started before {missing}")
        run.events.append(f"start {task.name}")
        value = await task.fn({d: run.results[d] for d in task.after})
        run.results[task.name] = value
        run.events.append(f"end {task.name}")
        return ProcessResult.ok(value)

    body.__name__ = body.__qualname__ = task.name  # so the composition's repr reads well
    return Process(body)


def by_levels(dag: list[Task], run: Run) -> SEQ:
    """SEQ(PAR(level 0), PAR(level 1), ...) for any DAG (raises on a cycle)."""
    level: dict[str, int] = {}
    pending = {t.name: t for t in dag}
    while pending:
        ready = [t for t in pending.values() if all(d in level for d in t.after)]
        if not ready:
            raise ValueError(f"the graph has a cycle through {sorted(pending)}")
        for t in ready:
            level[t.name] = 1 + max((level[d] for d in t.after), default=-1)
            del pending[t.name]
    levels = [
        PAR(*(as_process(t, run) for t in dag if level[t.name] == k))
        for k in range(max(level.values(), default=-1) + 1)
    ]
    return SEQ(*levels)


def series_parallel(run: Run) -> SEQ:
    """The same DAG written by hand, with no unnecessary waiting."""
    p = {t.name: as_process(t, run) for t in DAG}
    return SEQ(PAR(SEQ(PAR(p["sales"], p["costs"]), p["margin"]), p["news"]), p["summary"])


async def main() -> dict[str, Run]:
    """Run the DAG both ways; returns the two runs."""
    runs: dict[str, Run] = {}
    for label, build in (
        ("by levels", lambda run: by_levels(DAG, run)),
        ("series-parallel", series_parallel),
    ):
        run = Run()
        composition = build(run)
        started = anyio.current_time()
        result = await composition.run()
        elapsed = anyio.current_time() - started
        if not result.is_ok:
            raise SystemExit(result.failures[0].summary)
        print(f"{label} ({elapsed * 1000:.0f} ms): {composition!r}")
        print(f"  {run.results['summary']}")
        runs[label] = run
    return runs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
