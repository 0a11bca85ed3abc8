"""The ``file`` exporter: finished spans as JSON lines (the viewer's input).

The line format is documented in :mod:`stbass_tracing._model` and on the
tracing page of the docs.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import IO

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from ._model import SpanRecord

__all__ = ("FileSpanExporter",)


class FileSpanExporter(SpanExporter):
    """Append every exported span to *path* as one JSON line.

    The file is truncated when the exporter is created unless ``append=True``.

    >>> # provider.add_span_processor(SimpleSpanProcessor(FileSpanExporter("trace.jsonl")))
    """

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False) -> None:
        self.path = os.fspath(path)
        parent = os.path.dirname(self.path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        self._lock = threading.Lock()
        self._fh: IO[str] | None = open(self.path, "a" if append else "w", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(
            json.dumps(SpanRecord.from_readable(s).to_json(), separators=(",", ":")) + "\n"
            for s in spans
        )
        with self._lock:
            if self._fh is None:
                return SpanExportResult.FAILURE
            self._fh.write(lines)
            self._fh.flush()
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def __repr__(self) -> str:
        return f"FileSpanExporter({self.path!r})"

