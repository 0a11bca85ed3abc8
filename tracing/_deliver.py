"""Delivery: every finished span reaches the exporter, or is counted.

:class:`DeliveringSpanProcessor` replaces the SDK's ``BatchSpanProcessor`` in
:func:`~stbass_tracing.configure`. The event loop only appends to a queue (a
finished SDK span, or a compact channel event from :mod:`stbass.observe`); a
worker thread turns compact events into ``ReadableSpan``\\ s and exports them in
batches, so the exporters and the OTLP wire format are the SDK's own.

* The queue is unbounded unless ``max_queue_size`` is given: with defaults no
  span is dropped. With a bound, a span that does not fit is counted in
  :attr:`Delivery.dropped`.
* A batch the exporter refuses (receiver down, timeout) is counted in
  :attr:`Delivery.failed`. Once an export has failed, shutdown does not wait
  for further retries: what is left is counted as failed and the program exits.
* :meth:`DeliveringSpanProcessor.shutdown` warns (:class:`TracingDeliveryWarning`)
  with the counts when anything was not delivered.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
import time
import warnings
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

__all__ = ("DeliveringSpanProcessor", "Delivery", "TracingDeliveryWarning")


class TracingDeliveryWarning(UserWarning):
    """Some spans were not delivered to the exporter (dropped or refused).

    Raised by :meth:`DeliveringSpanProcessor.shutdown` as a warning::

        stbass tracing: no span was delivered; 12 spans lost (0 dropped by
        max_queue_size, 12 refused by OTLPSpanExporter)
    """


@dataclasses.dataclass(frozen=True)
class Delivery:
    """What happened to the spans handed to a :class:`DeliveringSpanProcessor`.

    >>> Delivery(exported=3, dropped=1, failed=2, pending=0).lost
    3
    """

    exported: int
    dropped: int  # did not fit in a configured max_queue_size
    failed: int  # the exporter refused the batch (receiver down, timeout, ...)
    pending: int  # still queued

    @property
    def lost(self) -> int:
        """Spans that will never reach the exporter: ``dropped + failed``."""
        return self.dropped + self.failed


class DeliveringSpanProcessor(SpanProcessor):
    """Queue finished spans; a worker thread exports them in batches.

    ``max_batch=1`` exports each span at once (still off the event loop's
    thread: ``configure(batch=False)``).

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    >>> exporter = InMemorySpanExporter()
    >>> processor = DeliveringSpanProcessor(exporter)
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(processor)
    >>> provider.get_tracer("demo").start_span("work").end()
    >>> provider.shutdown()
    >>> processor.delivery()
    Delivery(exported=1, dropped=0, failed=0, pending=0)
    """

    #: at shutdown, an export still retrying after this long with nothing ever
    #: delivered means no receiver listens: stop waiting
    GIVE_UP_S = 1.5

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        max_queue_size: int | None = None,
        max_batch: int = 512,
        delay_s: float = 0.2,
        shutdown_timeout_s: float = 10.0,
    ) -> None:
        if max_queue_size is not None and max_queue_size <= 0:
            raise ValueError(f"max_queue_size must be positive or None, got {max_queue_size}")
        if max_batch <= 0:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        self.exporter = exporter
        self.max_queue_size = max_queue_size
        self.max_batch = max_batch
        self.delay_s = delay_s
        self.shutdown_timeout_s = shutdown_timeout_s
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._exporting = 0
        self._stopping = False
        self._closed = False
        self._failing = False  # the last export failed
        self._export_started = 0.0  # monotonic time the current export began
        self.exported = 0
        self.dropped = 0
        self.failed = 0
        self._thread = threading.Thread(
            target=self._run, name="stbass-tracing-export", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        return f"<DeliveringSpanProcessor {type(self.exporter).__name__} {self.delivery()}>"

    # ---------------------------------------------------------------- producers

    def on_end(self, span: ReadableSpan) -> None:
        self.put_compact(span)

    def put_compact(self, item: Any) -> None:
        """Queue a finished span, or a compact event: an object whose
        ``readable_span()`` builds the span (called on the export thread)."""
        if self._closed:
            self.dropped += 1
            return
        queue = self._queue
        n = len(queue)
        bound = self.max_queue_size
        if bound is not None and n >= bound:
            self.dropped += 1
            return
        queue.append(item)
        if n + 1 >= self.max_batch:
            self._wake.set()

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        queue = self._queue
        while True:
            if len(queue) < self.max_batch and not self._stopping:
                self._wake.wait(self.delay_s)
            self._wake.clear()
            if self._stopping and not queue:
                return
            while queue:
                self._export_some()
                if len(queue) < self.max_batch and not self._stopping:
                    break
            with self._idle:
                self._idle.notify_all()

    def _export_some(self) -> None:
        queue = self._queue
        batch: list[ReadableSpan] = []
        with self._idle:
            self._exporting += 1
        try:
            for _ in range(self.max_batch):
                try:
                    item = queue.popleft()
                except IndexError:
                    break
                build = getattr(item, "readable_span", None)
                batch.append(item if build is None else build())
            if not batch:
                return
            if self._stopping and self._failing:
                self.failed += len(batch)  # the receiver is down: do not wait again
                return
            self._export_started = time.monotonic()
            try:
                ok = self.exporter.export(batch) is SpanExportResult.SUCCESS
            except Exception:  # an exporter bug must not kill delivery
                ok = False
            if ok:
                self.exported += len(batch)
                self._failing = False
            else:
                self.failed += len(batch)
                self._failing = True
        finally:
            with self._idle:
                self._exporting -= 1

    # ----------------------------------------------------------------- control

    def delivery(self) -> Delivery:
        """The counts so far."""
        return Delivery(self.exported, self.dropped, self.failed, len(self._queue))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait until everything queued so far was exported (or failed)."""
        deadline = time.monotonic() + timeout_millis / 1000
        self._wake.set()
        with self._idle:
            while self._queue or self._exporting:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._wake.set()
                self._idle.wait(min(left, 0.05))
        return True

    def shutdown(self) -> None:
        """Export what is queued (not waiting on a receiver that is down),
        stop the worker, shut the exporter down, warn if spans were lost."""
        if self._closed:
            return
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + self.shutdown_timeout_s
        while self._thread.is_alive():
            self._thread.join(0.05)
            now = time.monotonic()
            stuck = self._exporting and now - self._export_started > self.GIVE_UP_S
            if now > deadline or self._failing or (stuck and self.exported == 0):
                break  # the receiver is down (or too slow): stop waiting for it
        # shutting the exporter down interrupts an export that is still retrying
        self.exporter.shutdown()
        self._thread.join(1.0)
        self._closed = True
        left = len(self._queue)
        self._queue.clear()
        self.failed += left
        report = self.delivery()
        if report.lost:
            what = "no span was delivered" if report.exported == 0 else (
                f"{report.exported} spans delivered"
            )
            warnings.warn(
                f"stbass tracing: {what}; {report.lost} spans lost "
                f"({report.dropped} dropped by max_queue_size, {report.failed} refused by "
                f"{type(self.exporter).__name__})",
                TracingDeliveryWarning,
                stacklevel=2,
            )
