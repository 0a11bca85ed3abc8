"""Hedge a search against slow replicas: ask one, and ask another if it is slow.

A search index is served by three replicas. Most queries come back from the
first in a few milliseconds, but now and then a replica stalls (a garbage
collection, a cold cache) or is down. Rather than wait for the slow one, a
``HEDGE`` sends the same query to the next replica when the first has not
answered within ``after`` seconds, and takes whichever answers first; the ones
still working are cancelled. A replica that fails makes the hedge move on at
once. The "replicas" are local async functions with fixed latencies, so the
program needs no network::

    python examples/hedged_search.py             # asyncio
    python examples/hedged_search.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import anyio

from stbass import HEDGE, Process, ProcessContext, RACEResult

#: seconds each replica takes for a query (a missing entry: 0.01); None: it is down
LATENCY: dict[str, dict[str, float | None]] = {
    "replica-a": {"anyio": 0.01, "occam": 5.0, "trio": None},
    "replica-b": {"anyio": 0.01, "occam": 0.02, "trio": 0.03},
    "replica-c": {"anyio": 0.01, "occam": 0.02, "trio": 0.03},
}


class ReplicaDownError(ConnectionError):
    """The replica did not accept the connection."""


@dataclass(frozen=True)
class Answer:
    query: str
    replica: str
    hits: list[str]
    started: int  # how many replicas the hedge had to ask


def replica(name: str) -> Process:
    """A process that searches one replica for the query it gets on ``"input"``."""

    async def search(ctx: ProcessContext) -> list[str]:
        query = await ctx.recv("input")
        delay = LATENCY[name].get(query, 0.01)
        if delay is None:
            raise ReplicaDownError(f"{name} is down")
        await anyio.sleep(delay)
        return [f"{query}: result {i} (from {name})" for i in range(1, 3)]

    return Process(search, name=name)


def hedged_search(after: float) -> HEDGE:
    """One composition, reused for every query: the replicas in order of preference."""
    return HEDGE(*(replica(name) for name in LATENCY), after=after)


async def main(after: float = 0.05) -> list[Answer]:
    """Search three queries: a quick one, one whose first replica stalls, one whose
    first replica is down."""
    search = hedged_search(after)
    answers = []
    for query in ("anyio", "occam", "trio"):
        result: RACEResult = await search.run(query)
        winner = search.procs[result.winner].name if result.winner is not None else "-"
        answer = Answer(query, winner, result.value, result.started)
        answers.append(answer)
        print(f"{query!r:8} -> {winner} after asking {answer.started} replica(s): {answer.hits[0]}")
        for failure in result.failures:
            print(f"           ({failure.summary})")
    return answers


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--after", type=float, default=0.05, help="seconds before hedging")
    args = parser.parse_args()
    anyio.run(main, args.after, backend=args.backend)
