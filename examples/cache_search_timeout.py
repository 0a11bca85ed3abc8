"""Answer from a cache, a slower search, or a timeout — whichever comes first.

Two lookups run at the same time: a cache (fast, but it only knows some
answers) and a search (slower, knows everything, and can be very slow).
``RACE(cache, search, deadline=timeout)`` takes the first lookup that
*succeeds* — a cache miss is a failure, so the search can still win — cancels
the other, and gives up when the deadline passes. Nothing keeps running after
the answer is known.

``ask_with_alt`` is the same race written by hand: each lookup sends its answer
on its own channel, an ``ALT`` over both channels and a ``TIMER`` commits to
exactly one, and the caller cancels the lookups that lost::

    python examples/cache_search_timeout.py             # asyncio
    python examples/cache_search_timeout.py --backend trio
    python examples/cache_search_timeout.py --alt       # the hand-written ALT version
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import anyio

from stbass import (
    ALT,
    PAR,
    RACE,
    TIMER,
    Chan,
    Guard,
    Process,
    ProcessCancelledError,
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


class CacheMissError(LookupError):
    """The cache does not know the query."""


def cache(query: str) -> Process:
    """A process that answers *query* from the cache, or fails on a miss."""

    async def cache(ctx: ProcessContext) -> str:
        await anyio.sleep(0.005)  # a local cache: a few milliseconds
        hit = CACHE.get(query)
        if hit is None:
            raise CacheMissError(query)  # a failure: the RACE waits for the search
        return hit

    return Process(cache)


def search(query: str, delay: float) -> Process:
    """A process that always finds an answer, after *delay* seconds."""

    async def web_search(ctx: ProcessContext) -> str:
        await anyio.sleep(delay)  # a remote search API
        return f"top result for {query!r}"

    return Process(web_search)


SOURCES = ("cache", "search")


async def ask(query: str, *, search_delay: float = 0.04, timeout: float = 0.5) -> Answer:
    """Race the cache and the search for one *query*, within *timeout* seconds."""
    result = await RACE(cache(query), search(query, search_delay), deadline=timeout).run()
    if result.winner is not None:
        return Answer(query, SOURCES[result.winner], result.value)
    # No lookup succeeded: the deadline cancelled what was still running.
    assert all(isinstance(f.error, (CacheMissError, ProcessCancelledError)) for f in result.failures)
    return Answer(query, "timeout", f"no answer within {timeout:.2f}s")


# ------------------------------------------------- the same race, by hand


def cache_lookup(query: str) -> Process:
    """A process that answers on its ``out`` channel if the cache has *query*."""

    async def cache(ctx: ProcessContext) -> ProcessResult[str]:
        await anyio.sleep(0.005)
        hit = CACHE.get(query)
        if hit is None:
            return ProcessResult.ok("miss")  # say nothing: the ALT waits for the others
        await ctx.send("out", hit)
        return ProcessResult.ok("hit")

    return Process(cache)


def search_lookup(query: str, delay: float) -> Process:
    """A process that sends an answer on its ``out`` channel after *delay* seconds."""

    async def web_search(ctx: ProcessContext) -> ProcessResult[str]:
        await anyio.sleep(delay)
        await ctx.send("out", f"top result for {query!r}")
        return ProcessResult.ok("found")

    return Process(web_search)


async def ask_with_alt(
    query: str, *, search_delay: float = 0.04, timeout: float = 0.5
) -> Answer:
    """Race the cache, the search and a timer for one *query*, with an ALT."""
    from_cache = Chan(str, name="cache")
    from_search = Chan(str, name="search")
    lookups = PAR(
        cache_lookup(query).with_channels(out=from_cache),
        search_lookup(query, search_delay).with_channels(out=from_search),
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


async def main(timeout: float = 0.5, *, by_hand: bool = False) -> list[Answer]:
    """Three queries: one the cache knows, one it does not, one the search is too slow for."""
    lookup = ask_with_alt if by_hand else ask
    answers = [
        await lookup("capital of France", timeout=timeout),
        await lookup("population of Lyon", timeout=timeout),
        await lookup("meaning of life", search_delay=30.0, timeout=timeout),
    ]
    for a in answers:
        print(f"{a.query!r:28} -> {a.source:7} {a.text}")
    return answers


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--alt", action="store_true", help="the hand-written ALT version")
    args = parser.parse_args()
    anyio.run(lambda: main(by_hand=args.alt), backend=args.backend)
