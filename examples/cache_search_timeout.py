"""Answer from a cache, a slower search, or a timeout — whichever comes first.

Two lookups run at the same time, each behind its own channel: a cache (fast,
but it only knows some answers) and a search (slower, knows everything, and can
be very slow). An ``ALT`` waits on both channels and on a ``TIMER`` and commits
to exactly one of them; the lookups that lost are then cancelled, so nothing
keeps running after the answer is known::

    python examples/cache_search_timeout.py             # asyncio
    python examples/cache_search_timeout.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import anyio

from stbass import (
    ALT,
    PAR,
    TIMER,
    Chan,
    Guard,
    Process,
    ProcessContext,
    ProcessResult,
    TimerExpired,
)

#: What the cache knows. Everything else needs a search.
CACHE = {"capital of France": "Paris", "boiling point of water": "100 °C at sea level"}


@dataclass(frozen=True)
class Answer:
    query: str
    source: str  # "cache", "search" or "timeout"
    text: str


def cache_lookup(query: str) -> Process:
    """A process that answers on its ``out`` channel if the cache has *query*."""

    async def cache(ctx: ProcessContext) -> ProcessResult[str]:
        await anyio.sleep(0.005)  # a local cache: a few milliseconds
        hit = CACHE.get(query)
        if hit is None:
            return ProcessResult.ok("miss")  # say nothing: the ALT waits for the others
        await ctx.send("out", hit)
        return ProcessResult.ok("hit")

    return Process(cache)


def search(query: str, delay: float) -> Process:
    """A process that always finds an answer, after *delay* seconds."""

    async def web_search(ctx: ProcessContext) -> ProcessResult[str]:
        await anyio.sleep(delay)  # a remote search API
        await ctx.send("out", f"top result for {query!r}")
        return ProcessResult.ok("found")

    return Process(web_search)


async def ask(query: str, *, search_delay: float = 0.04, timeout: float = 0.5) -> Answer:
    """Race the cache, the search and a timer for one *query*."""
    from_cache = Chan(str, name="cache")
    from_search = Chan(str, name="search")
    lookups = PAR(
        cache_lookup(query).with_channels(out=from_cache),
        search(query, search_delay).with_channels(out=from_search),
    )

    def timed_out(expired: TimerExpired) -> Answer:
        return Answer(query, "timeout", f"no answer within {expired.deadline - expired.started_at:.2f}s")

    async with anyio.create_task_group() as tg:
        tg.start_soon(lookups.run)
        answer: Answer = await ALT(
            Guard(from_cache, handler=lambda text: Answer(query, "cache", text)),
            Guard(from_search, handler=lambda text: Answer(query, "search", text)),
            Guard(TIMER(timeout, name="answer-timeout"), handler=timed_out),
        )
        # The ALT took exactly one value. Whoever lost is still working (or
        # waiting to send): cancel them. Cancelling from outside a PAR is how
        # you stop it; nothing it started outlives this block.
        tg.cancel_scope.cancel()
    return answer


async def main(timeout: float = 0.5) -> list[Answer]:
    """Three queries: one the cache knows, one it does not, one the search is too slow for."""
    answers = [
        await ask("capital of France", timeout=timeout),
        await ask("population of Lyon", timeout=timeout),
        await ask("meaning of life", search_delay=30.0, timeout=timeout),
    ]
    for a in answers:
        print(f"{a.query!r:28} -> {a.source:7} {a.text}")
    return answers


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
