"""Test helpers that are not about terms: a span recorder and a sequencer."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, final

import anyio

from .. import observe
from .._compose._deadlock import Waiting as Waiting
from .._compose._deadlock import blocked as blocked


@final
class SpanRecorder:
    """The spans stbass emitted inside :func:`record_spans`.

    >>> with record_spans() as spans:           # doctest: +SKIP
    ...     await PAR(a, b).run()
    >>> spans.names()                            # doctest: +SKIP
    ['process a', 'process b', 'PAR']
    """

    def __init__(self, exporter: Any, provider: Any) -> None:
        self.exporter = exporter
        self.provider = provider

    @property
    def spans(self) -> list[Any]:
        """Finished spans (``ReadableSpan``), in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def names(self) -> list[str]:
        """The names of the finished spans, in the order they ended."""
        return [s.name for s in self.spans]

    def named(self, name: str) -> list[Any]:
        """The finished spans called *name* (e.g. ``"PAR"`` or ``"send jobs"``)."""
        return [s for s in self.spans if s.name == name]

    def children_of(self, span: Any) -> list[Any]:
        """The finished spans whose parent is *span*."""
        sid = span.context.span_id
        return [s for s in self.spans if s.parent is not None and s.parent.span_id == sid]

    def clear(self) -> None:
        """Forget the spans recorded so far."""
        self.exporter.clear()


@contextmanager
def record_spans() -> Iterator[SpanRecorder]:
    """Inject an SDK ``TracerProvider`` with an ``InMemorySpanExporter`` for the
    ``with`` block (through :func:`stbass.observe.use_tracer_provider`, never by
    touching OpenTelemetry's globals). Needs ``opentelemetry-sdk``.

    >>> with record_spans() as spans:               # doctest: +SKIP
    ...     await SEQ(step).run()
    >>> [s.name for s in spans.named("process step")]  # doctest: +SKIP
    ['process step']
    """
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        with observe.use_tracer_provider(provider):
            yield SpanRecorder(exporter, provider)
    finally:
        provider.shutdown()


@final
class Sequencer:
    """Force tasks to pass numbered points in order (like ``trio.testing.Sequencer``,
    on anyio, so it works on asyncio too).

    ``async with seq(n):`` waits until every block numbered below *n* has
    finished. Each number may be used once.

    >>> seq = Sequencer()
    >>> async def first():                 # doctest: +SKIP
    ...     async with seq(0): await ch.send(1)
    >>> async def second():                # doctest: +SKIP
    ...     async with seq(1): ch.close()
    """

    def __init__(self) -> None:
        self._done: defaultdict[int, anyio.Event] = defaultdict(anyio.Event)
        self._claimed: set[int] = set()

    @asynccontextmanager
    async def __call__(self, position: int) -> AsyncIterator[None]:
        if position in self._claimed:
            raise RuntimeError(f"Sequencer: position {position} is used twice")
        if position < 0:
            raise ValueError(f"Sequencer: position must be >= 0, got {position}")
        self._claimed.add(position)
        for earlier in range(position):
            await self._done[earlier].wait()
        try:
            yield
        finally:
            self._done[position].set()


async def wait_all_tasks_blocked() -> None:
    """Return once every other task is blocked (like
    ``anyio.wait_all_tasks_blocked``), without anyio's 0.1 s polling sleep on
    asyncio: property tests call it thousands of times.

    On trio this is ``trio.testing.wait_all_tasks_blocked``. On asyncio it yields
    with ``sleep(0)`` until no other task is runnable (the same test anyio uses:
    each task is waiting on a future that is not done).

    >>> await wait_all_tasks_blocked()   # doctest: +SKIP
    """
    import sniffio

    if sniffio.current_async_library() == "trio":
        import trio.testing

        await trio.testing.wait_all_tasks_blocked()
        return
    import asyncio  # the one backend-specific spot of stbass.testing

    this = asyncio.current_task()
    await asyncio.sleep(0)
    while True:
        for task in asyncio.all_tasks():
            if task is this:
                continue
            waiter = getattr(task, "_fut_waiter", None)
            if waiter is None or waiter.done():
                await asyncio.sleep(0)
                break
        else:
            return
