"""A report workflow that fails, then resumes from its state file.

::

    sales ──┐
            ├─> margin ──┐
    costs ──┘            ├─> summary ──> email
    news ────────────────┘

The first run records every finished task's value in a JSON state file. The
mail server is down, so ``email`` fails (after two attempts: it has a retry
policy) and the run stops. The second run, with the same state file, skips the
five tasks that already succeeded and runs only ``email``::

    python examples/dag_report.py             # asyncio
    python examples/dag_report.py --backend trio
    python examples/dag_report.py --state /tmp/report.json
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from stbass import RetryPolicy
from stbass.dag import DAG, DAGResult


@dataclass
class World:
    """The outside world the tasks talk to: which calls were made, and whether
    the mail server is up."""

    mail_server_up: bool = False
    calls: list[str] = field(default_factory=list)
    outbox: list[str] = field(default_factory=list)


def build(world: World) -> DAG:
    """The report DAG; each task records its call in *world*."""

    async def sales(_: Any) -> int:
        world.calls.append("sales")
        await anyio.sleep(0.02)  # a query against the sales database
        return 120_000

    async def costs(_: Any) -> int:
        world.calls.append("costs")
        await anyio.sleep(0.01)  # a call to the accounting API
        return 85_000

    async def news(_: Any) -> str:
        world.calls.append("news")
        await anyio.sleep(0.03)  # an LLM summarising the week's news
        return "a competitor cut prices by 5%"

    def margin(inputs: dict[str, Any]) -> float:
        world.calls.append("margin")
        ratio: float = (inputs["sales"] - inputs["costs"]) / inputs["sales"]
        return round(ratio, 3)

    async def summary(inputs: dict[str, Any]) -> str:
        world.calls.append("summary")
        await anyio.sleep(0.01)  # an LLM writing the summary
        return f"Margin {inputs['margin']:.1%}; watch out: {inputs['news']}."

    async def email(inputs: dict[str, Any]) -> str:
        world.calls.append("email")
        await anyio.sleep(0.005)
        if not world.mail_server_up:
            raise ConnectionError("mail server unreachable")
        world.outbox.append(inputs["summary"])
        return "sent to the board"

    dag = DAG("report")
    dag.add("sales", sales).add("costs", costs).add("news", news)
    dag.add("margin", margin, after=["sales", "costs"])
    dag.add("summary", summary, after=["margin", "news"])
    dag.add("email", email, after=["summary"], retry=RetryPolicy(2, "constant", base_delay=0.01))
    return dag


def show(label: str, dag: DAG, result: DAGResult, *, draw: bool = False) -> None:
    print(f"== {label}: {'ok' if result.is_ok else 'failed'} (run {result.run_id[:8]})")
    if result.resumed:
        print(f"   from the state file: {', '.join(result.resumed)}")
    for name, failure in result.failures.items():
        print(f"   {name} failed: {failure.summary}")
    if result.skipped:
        print(f"   skipped: {', '.join(result.skipped)}")
    if draw:
        print(dag.to_mermaid(result))


async def main(state: Path | None = None) -> dict[str, Any]:
    """Fail once, then resume; returns both results and the world."""
    with tempfile.TemporaryDirectory() as tmp:
        path = state if state is not None else Path(tmp) / "report.json"
        world = World()
        dag = build(world)
        first = await dag.run(state=path)
        show("first run (mail server down)", dag, first)
        first_calls = list(world.calls)

        world.mail_server_up = True
        world.calls.clear()
        second = await dag.run(state=path)
        show("second run (resumed)", dag, second, draw=True)
        print(f"   ran this time: {', '.join(world.calls)}")
        print(f"   outbox: {world.outbox}")
        return {"first": first, "second": second, "first_calls": first_calls, "world": world}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--state", type=Path, help="where to keep the state file")
    args = parser.parse_args()
    if args.state is not None:
        args.state.unlink(missing_ok=True)  # start from scratch
    anyio.run(main, args.state, backend=args.backend)
