"""A stream pipeline with bounded concurrency and back-pressure.

::

    read --urls--> fetch x4 --pages--> parse --docs--> store (batches, 2 writes at a time)

Every stage is a process and every arrow a zero-buffer channel, so a stage
that falls behind slows down the stages before it (back-pressure) instead of
letting a queue grow. Concurrency is bounded in two ways:

* ``fetch`` is a *farm*: ``PAR_FOR(4, fetcher)`` starts four identical workers
  that all read from ``urls``; at most four fetches are in flight, whatever the
  length of the stream;
* ``store`` groups documents into batches and writes each batch with
  ``PAR_FOR(len(batch), write, max_parallel=2)``: at most two writes at once,
  results in index order.

The stream ends from its head: ``read`` closes ``urls``; each stage's
``async for`` then ends and the stage closes its own output channel::

    python examples/stream_pipeline.py             # asyncio
    python examples/stream_pipeline.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import anyio

from stbass import PAR, Chan, Process, ProcessContext, ProcessResult
from stbass.replicator import PAR_FOR


@dataclass(frozen=True)
class Page:
    url: str
    html: str


@dataclass(frozen=True)
class Doc:
    url: str
    title: str
    words: int


@dataclass
class Gauge:
    """Counts calls in flight and remembers the peak."""

    now: int = 0
    peak: int = 0

    def __enter__(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        self.now -= 1


@dataclass
class Stats:
    fetching: Gauge = field(default_factory=Gauge)
    writing: Gauge = field(default_factory=Gauge)
    stored: list[str] = field(default_factory=list)
    batches: int = 0


def pipeline(n_urls: int, stats: Stats, *, fetchers: int = 4, batch: int = 5) -> PAR:
    urls = Chan(str, name="urls")
    pages = Chan(Page, name="pages")
    docs = Chan(Doc, name="docs")

    @Process
    async def read(ctx: ProcessContext) -> int:
        for i in range(n_urls):
            await urls.send(f"https://example.org/post/{i}")  # waits for a free fetcher
        urls.close()  # end of stream
        return n_urls

    async def fetcher(index: int, ctx: ProcessContext) -> ProcessResult[int]:
        fetched = 0
        async for url in urls:  # the workers share the channel: each URL goes to one of them
            with stats.fetching:
                await anyio.sleep(0.01 + 0.005 * (len(url) % 4))  # an HTTP GET
            await pages.send(Page(url, f"<h1>Post {url.rsplit('/', 1)[1]}</h1> lorem ipsum"))
            fetched += 1
        return ProcessResult.ok(fetched)

    @Process
    async def fetch(ctx: ProcessContext) -> ProcessResult[list[int]]:
        farm = await PAR_FOR(fetchers, fetcher, name="fetcher").run()
        pages.close()  # every fetcher has finished: no more pages
        return ProcessResult.ok(farm.value) if farm.is_ok else ProcessResult.fail(farm.failures[0])

    @Process
    async def parse(ctx: ProcessContext) -> int:
        parsed = 0
        async for page in pages:
            title = page.html.split("<h1>")[1].split("</h1>")[0]
            await docs.send(Doc(page.url, title, len(page.html.split())))
            parsed += 1
        docs.close()
        return parsed

    async def write_batch(items: list[Doc]) -> None:
        async def write(i: int, ctx: ProcessContext) -> str:
            with stats.writing:
                await anyio.sleep(0.02)  # an INSERT into the search index
            return items[i].url

        written = await PAR_FOR(len(items), write, max_parallel=2).run()
        stats.stored.extend(written.value)  # in index order
        stats.batches += 1

    @Process
    async def store(ctx: ProcessContext) -> int:
        pending: list[Doc] = []
        async for doc in docs:
            pending.append(doc)
            if len(pending) == batch:
                await write_batch(pending)
                pending = []
        if pending:
            await write_batch(pending)
        return len(stats.stored)

    return PAR(read, fetch, parse, store)


async def main(n_urls: int = 23) -> Stats:
    """Push *n_urls* through the pipeline; returns the counters."""
    stats = Stats()
    result = await pipeline(n_urls, stats).run()
    if not result.is_ok:
        raise SystemExit(result.failures[0].summary)
    read, per_fetcher, parsed, stored = result.value
    print(f"read {read}, fetched {sum(per_fetcher)} (per fetcher: {per_fetcher}), parsed {parsed}")
    print(f"stored {stored} in {stats.batches} batches")
    print(f"peak fetches in flight: {stats.fetching.peak}, peak writes: {stats.writing.peak}")
    return stats


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
