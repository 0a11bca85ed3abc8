"""Enrich a stream of user events: a lookup with bounded concurrency, a lane per
user group so each user's events stay in order, a branch per country, and a
rate-limited writer.

::

    events --> filter(valid) --> map(enrich, max_parallel=8)
           --> partition(by user, 3, map(score))          # 3 lanes, one user -> one lane
           --> partition(by country, branches={
                   "uk": branch(batch(5), sink=write_uk),  # a warehouse of its own
                   "us": branch(),                         # joins the main stream
               })
           --> rate_limit(200/s, burst=20) --> batch(10, timeout=0.05) --> write

* ``map(enrich, max_parallel=8)`` looks each event's user up in a (slow)
  profile service, eight lookups at a time, and keeps the input order;
  an event whose lookup fails is skipped and reported (``on_error="skip"``);
* ``partition(by_user, 3, map(score))`` sends every event of one user to the
  same lane, so per-user scores are computed in order while lanes run in parallel;
* ``partition(by_country, branches=...)`` sends UK events to a branch with its
  own batches and sink (the data stays in the UK), and US events on;
* ``rate_limit`` keeps the writes under the warehouse's quota, and ``batch``
  groups them (a partial batch leaves after 50 ms).

::

    python examples/stream_enrich.py             # asyncio
    python examples/stream_enrich.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import Any

import anyio

from stbass.streams import (
    PipelineResult,
    batch,
    branch,
    filter,
    map,
    partition,
    pipeline,
    rate_limit,
)

USERS = ("ada", "grace", "edsger", "barbara", "tony")


@dataclass(frozen=True)
class Event:
    seq: int
    user: str
    amount: int


@dataclass(frozen=True)
class Enriched:
    event: Event
    country: str


@dataclass(frozen=True)
class Scored:
    seq: int
    user: str
    country: str
    running_total: int


@dataclass
class Run:
    """What the outside world saw."""

    lookups_in_flight: int = 0
    peak_lookups: int = 0
    batches: list[list[Scored]] = field(default_factory=list)
    uk_batches: list[list[Scored]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


def events(n: int) -> list[Event]:
    """*n* events; every 17th has a negative amount (invalid), and user
    ``tony`` is unknown to the profile service."""
    return [Event(i, USERS[i % len(USERS)], -1 if i % 17 == 16 else i % 7 + 1) for i in range(n)]


def build(n: int, run: Run) -> Any:
    async def enrich(event: Event) -> Enriched:
        run.lookups_in_flight += 1
        run.peak_lookups = max(run.peak_lookups, run.lookups_in_flight)
        try:
            await anyio.sleep(0.002 * (1 + event.seq % 3))  # the profile service
            if event.user == "tony":
                raise LookupError(f"no profile for {event.user!r}")
            return Enriched(event, "uk" if event.user in ("ada", "tony") else "us")
        finally:
            run.lookups_in_flight -= 1

    def score(item: Enriched) -> Scored:
        # Per-user state: safe because one user's events all go through one lane, in order.
        user = item.event.user
        run.totals[user] = run.totals.get(user, 0) + item.event.amount
        return Scored(item.event.seq, user, item.country, run.totals[user])

    def write(scored: list[Scored]) -> None:
        run.batches.append(scored)

    async def write_uk(scored: list[Scored]) -> None:
        await anyio.lowlevel.checkpoint()  # the UK warehouse
        run.uk_batches.append(scored)

    return pipeline(
        events(n),
        filter(lambda e: e.amount > 0),
        map(enrich, max_parallel=8, name="enrich", on_error="skip"),
        partition(lambda item: USERS.index(item.event.user), 3, map(score, name="score")),
        partition(
            lambda scored: scored.country,
            branches={"uk": branch(batch(5), sink=write_uk), "us": branch()},
            name="by country",
        ),
        rate_limit(200, burst=20),
        batch(10, timeout=0.05),
        sink=write,
    )


async def main(n: int = 60) -> tuple[PipelineResult, Run]:
    """Push *n* events through; returns the result and what was written."""
    run = Run()
    result = await build(n, run).run()
    if not result.is_ok:
        raise SystemExit(result.failures[0].summary)
    written = [s for b in run.batches + run.uk_batches for s in b]
    uk = sum(len(b) for b in run.uk_batches)
    print(
        f"wrote {len(written)} scored events in {len(run.batches) + len(run.uk_batches)} "
        f"batches ({uk} to the UK warehouse)"
    )
    print(f"peak lookups in flight: {run.peak_lookups}")
    print(f"skipped {len(result.errors)} events, e.g. {result.errors[0].summary}")
    print(f"totals: {run.totals}")
    return result, run


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
