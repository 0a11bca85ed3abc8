"""A stream pipeline with bounded concurrency and back-pressure, from operators.

::

    urls --> map(fetch, max_parallel=4) --> map(parse) --> batch(5) --> store

Every arrow is a zero-buffer channel, so a stage that falls behind slows the
stages before it (back-pressure) instead of letting a queue grow. At most four
fetches are in flight, whatever the length of the stream (``max_parallel=4``;
``ordered=False`` sends each page on as soon as it is fetched). ``store``, the
sink, writes each batch with ``PAR_FOR(..., max_parallel=2)``: at most two
writes at once. The end of the URL list closes every stage in turn::

    python examples/stream_pipeline.py             # asyncio
    python examples/stream_pipeline.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import anyio

from stbass import ProcessContext
from stbass.replicator import PAR_FOR
from stbass.streams import Pipeline, batch, map, pipeline


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


def build(n_urls: int, stats: Stats, *, fetchers: int = 4, size: int = 5) -> Pipeline:
    async def fetch(url: str) -> Page:
        with stats.fetching:
            await anyio.sleep(0.01 + 0.005 * (len(url) % 4))  # an HTTP GET
        return Page(url, f"<h1>Post {url.rsplit('/', 1)[1]}</h1> lorem ipsum")

    def parse(page: Page) -> Doc:
        title = page.html.split("<h1>")[1].split("</h1>")[0]
        return Doc(page.url, title, len(page.html.split()))

    async def store(docs: list[Doc]) -> None:
        async def write(i: int, ctx: ProcessContext) -> str:
            with stats.writing:
                await anyio.sleep(0.02)  # an INSERT into the search index
            return docs[i].url

        written = await PAR_FOR(len(docs), write, max_parallel=2).run()
        stats.stored.extend(written.value)  # in index order
        stats.batches += 1

    urls = (f"https://example.org/post/{i}" for i in range(n_urls))
    return pipeline(
        urls,
        map(fetch, max_parallel=fetchers, ordered=False),
        map(parse),
        batch(size),
        sink=store,
    )


async def main(n_urls: int = 23) -> Stats:
    """Push *n_urls* through the pipeline; returns the counters."""
    stats = Stats()
    result = await build(n_urls, stats).run()
    if not result.is_ok:
        raise SystemExit(result.failures[0].summary)
    print(f"stored {len(stats.stored)} pages in {stats.batches} batches ({result.value} sink calls)")
    print(f"peak fetches in flight: {stats.fetching.peak}, peak writes: {stats.writing.peak}")
    return stats


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
