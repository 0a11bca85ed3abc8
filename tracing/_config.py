"""``configure()``: one call that sets up an OpenTelemetry SDK for stbass.

The provider is installed twice: as OpenTelemetry's global provider (when none
was set before, so other instrumented libraries join the same trace) and as
stbass's own provider through :func:`stbass.observe.set_tracer_provider`, which
works even when some other code already claimed the global one.

Environment variables honoured:

* ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES`` (the resource);
* ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
  ``..._PROTOCOL``, ``..._HEADERS``, ``..._TIMEOUT``, ``..._INSECURE`` (read by the
  OTLP exporters themselves when no ``endpoint`` argument is given);
* ``STBASS_TRACE_EXPORTER``: the exporter when ``configure()`` is called without one;
* ``STBASS_TRACE_FILE``: every span is *also* written to this JSON-lines file
  (``stbass-trace run`` sets it, so a script that configures its own exporter
  still produces the page).
"""

from __future__ import annotations

import os
import threading
import urllib.parse
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import observe

from ._deliver import DeliveringSpanProcessor, Delivery
from ._file import FileSpanExporter
from ._model import Trace, load_trace, trace_from_spans

__all__ = ("TracingHandle", "configure", "shutdown")

ExporterName = Literal["otlp", "console", "memory", "file"]
EXPORTERS: tuple[str, ...] = ("otlp", "console", "memory", "file")
PROTOCOLS: tuple[str, ...] = ("http/protobuf", "grpc")

DEFAULT_OTLP_HTTP_ENDPOINT = "http://127.0.0.1:4318/v1/traces"
DEFAULT_OTLP_GRPC_ENDPOINT = "http://127.0.0.1:4317"
DEFAULT_SERVICE_NAME = "stbass"
ENV_TRACE_FILE = "STBASS_TRACE_FILE"
ENV_TRACE_EXPORTER = "STBASS_TRACE_EXPORTER"

_lock = threading.Lock()
_current: TracingHandle | None = None
_opened_files: set[str] = set()


class TracingHandle:
    """What :func:`configure` set up: the provider, its exporter, and how to flush.

    Use it as a context manager, or call :meth:`shutdown` (which flushes)::

        with stbass_tracing.configure("file", path="trace.jsonl") as handle:
            anyio.run(main)
        trace = handle.trace()
    """

    def __init__(
        self,
        provider: TracerProvider,
        exporter: SpanExporter,
        *,
        name: str,
        path: str | None,
        installed: bool,
        previous_override: Any,
    ) -> None:
        self.provider = provider
        self.exporter = exporter
        self.exporter_name = name
        self.path = path
        self._installed = installed
        self._previous_override = previous_override
        self._closed = False
        self._delivering: list[DeliveringSpanProcessor] = []

    def __repr__(self) -> str:
        state = "shut down" if self._closed else "active"
        return f"<TracingHandle exporter={self.exporter_name!r} path={self.path!r} {state}>"

    @property
    def is_shutdown(self) -> bool:
        """``True`` once :meth:`shutdown` ran."""
        return self._closed

    def delivery(self) -> Delivery:
        """How many spans were exported, dropped (a ``max_queue_size`` bound) or
        refused by the exporter (receiver down), summed over this handle's
        delivering processors. Exact after :meth:`shutdown` or :meth:`force_flush`."""
        exported = dropped = failed = pending = 0
        for p in self._delivering:
            d = p.delivery()
            exported += d.exported
            dropped += d.dropped
            failed += d.failed
            pending += d.pending
        return Delivery(exported, dropped, failed, pending)

    @property
    def dropped(self) -> int:
        """Spans that will never reach the exporter (dropped or refused)."""
        return self.delivery().lost

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export every finished span now."""
        return bool(self.provider.force_flush(timeout_millis))

    def spans(self) -> list[ReadableSpan]:
        """The finished spans kept by the ``memory`` exporter."""
        if not isinstance(self.exporter, InMemorySpanExporter):
            raise TypeError(f"spans() needs the 'memory' exporter, this handle uses {self.exporter_name!r}")
        return list(self.exporter.get_finished_spans())

    def trace(self) -> Trace:
        """The spans so far as a :class:`~stbass_tracing.Trace` (``memory`` or ``file``)."""
        if isinstance(self.exporter, InMemorySpanExporter):
            return trace_from_spans(self.exporter.get_finished_spans())
        if self.path is not None:
            if not self._closed:
                self.force_flush()
            return load_trace(self.path)
        raise TypeError(f"trace() needs the 'memory' or 'file' exporter, not {self.exporter_name!r}")

    def shutdown(self) -> None:
        """Flush and stop the exporters; stbass stops emitting to this provider.

        Idempotent. OpenTelemetry's global provider cannot be replaced once set,
        so a global installation stays (as a shut-down provider).
        """
        global _current
        if self._closed:
            return
        self._closed = True
        if self._installed:
            replaced = observe.set_tracer_provider(self._previous_override)
            if replaced is not self.provider:
                # someone injected another provider meanwhile: leave theirs in place
                observe.set_tracer_provider(replaced)
        self.provider.shutdown()
        with _lock:
            if _current is self:
                _current = None

    def __enter__(self) -> TracingHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def _resource(service_name: str | None, attributes: Mapping[str, Any] | None) -> Resource:
    attrs: dict[str, Any] = dict(attributes or {})
    if service_name is not None:
        attrs[SERVICE_NAME] = service_name
    elif not os.environ.get("OTEL_SERVICE_NAME") and SERVICE_NAME not in attrs:
        if "service.name=" not in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
            attrs[SERVICE_NAME] = DEFAULT_SERVICE_NAME
    return Resource.create(attrs)


def _protocol(protocol: str | None) -> str:
    chosen = (
        protocol
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    )
    if chosen not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, got {chosen!r}")
    return chosen


def _otlp_exporter(
    endpoint: str | None, protocol: str | None, headers: Mapping[str, str] | None, timeout: float | None
) -> SpanExporter:
    proto = _protocol(protocol)
    env_endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if proto == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        grpc_url = endpoint or (None if env_endpoint else DEFAULT_OTLP_GRPC_ENDPOINT)
        insecure = None
        if grpc_url is not None:
            insecure = urllib.parse.urlparse(grpc_url).scheme != "https"
        return GrpcExporter(
            endpoint=grpc_url, insecure=insecure, headers=dict(headers) if headers else None, timeout=timeout
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    if endpoint is not None:
        parsed = urllib.parse.urlparse(endpoint)
        if parsed.path in ("", "/"):
            endpoint = endpoint.rstrip("/") + "/v1/traces"
        url: str | None = endpoint
    else:
        url = None if env_endpoint else DEFAULT_OTLP_HTTP_ENDPOINT
    return HttpExporter(endpoint=url, headers=dict(headers) if headers else None, timeout=timeout)


def _delivering(
    exporter: SpanExporter, batch: bool, max_queue_size: int | None
) -> DeliveringSpanProcessor:
    """Batches on a worker thread; ``batch=False`` exports each span at once,
    still off the caller's thread (an unreachable receiver never blocks it)."""
    if batch:
        return DeliveringSpanProcessor(exporter, max_queue_size=max_queue_size)
    return DeliveringSpanProcessor(
        exporter, max_queue_size=max_queue_size, max_batch=1, delay_s=0.05
    )


def _file_processor(
    exporter: SpanExporter, batch: bool, max_queue_size: int | None = None
) -> SpanProcessor:
    if batch:
        return DeliveringSpanProcessor(exporter, max_queue_size=max_queue_size)
    return SimpleSpanProcessor(exporter)


def _open_file_exporter(path: str) -> FileSpanExporter:
    """Truncate a file the first time this process writes it, append afterwards."""
    key = os.path.abspath(path)
    append = key in _opened_files
    _opened_files.add(key)
    return FileSpanExporter(path, append=append)


def configure(
    exporter: ExporterName | None = None,
    *,
    path: str | os.PathLike[str] | None = None,
    endpoint: str | None = None,
    protocol: Literal["http/protobuf", "grpc"] | None = None,
    service_name: str | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    batch: bool | None = None,
    max_queue_size: int | None = None,
    set_global: bool = True,
    install: bool = True,
) -> TracingHandle:
    """Set up an SDK ``TracerProvider`` that exports stbass's spans.

    *exporter* is ``"otlp"`` (Jaeger or any OTLP receiver; defaults reach a local
    Jaeger at ``127.0.0.1:4318`` over HTTP/protobuf or ``127.0.0.1:4317`` with
    ``protocol="grpc"``, and the standard ``OTEL_EXPORTER_OTLP_*`` variables are
    honoured), ``"console"``, ``"memory"`` (for tests: ``handle.spans()``) or
    ``"file"`` (JSON lines at *path*, read by the viewer). Without *exporter*,
    ``STBASS_TRACE_EXPORTER`` or ``"otlp"``.

    Spans are exported in batches on a worker thread; the queue is unbounded
    unless *max_queue_size* is given, so no span is dropped by default. Spans
    dropped by that bound or refused by the receiver are counted
    (:meth:`TracingHandle.delivery`) and reported in a
    :class:`~stbass_tracing.TracingDeliveryWarning` at shutdown; with no
    receiver listening, shutdown gives up after about a second and a half.
    ``batch=False`` exports each span as it ends, still on the worker thread.

    ``set_global`` also makes it OpenTelemetry's global provider (only if none is
    set yet); ``install`` makes stbass emit to it. A previous ``configure()`` is
    shut down first. Returns a :class:`TracingHandle`; leaving its ``with`` block
    or calling :func:`shutdown` flushes.

    >>> import stbass_tracing
    >>> with stbass_tracing.configure("memory", set_global=False) as handle:
    ...     pass   # run your program here
    >>> handle.spans()
    []
    """
    global _current
    name = exporter or os.environ.get(ENV_TRACE_EXPORTER) or "otlp"
    if name not in EXPORTERS:
        raise ValueError(f"exporter must be one of {', '.join(EXPORTERS)}, got {name!r}")
    if name == "file" and path is None:
        raise ValueError("the 'file' exporter needs path=... (where to write the JSON lines)")
    if name != "file" and path is not None:
        raise ValueError(f"path= is only for the 'file' exporter, not {name!r}")
    if name != "otlp" and (endpoint is not None or protocol is not None):
        raise ValueError(f"endpoint=/protocol= are only for the 'otlp' exporter, not {name!r}")
    if name == "otlp":
        _protocol(protocol)  # validate before anything is built
    if max_queue_size is not None and max_queue_size <= 0:
        raise ValueError(f"max_queue_size must be positive or None, got {max_queue_size}")

    with _lock:
        previous = _current
    if previous is not None:
        previous.shutdown()

    provider = TracerProvider(resource=_resource(service_name, resource_attributes))
    file_path = os.fspath(path) if path is not None else None
    span_exporter: SpanExporter
    if name == "otlp":
        span_exporter = _otlp_exporter(endpoint, protocol, headers, timeout)
        provider.add_span_processor(_delivering(span_exporter, batch is not False, max_queue_size))
    elif name == "console":
        span_exporter = ConsoleSpanExporter()
        provider.add_span_processor(
            _delivering(span_exporter, True, max_queue_size) if batch else SimpleSpanProcessor(span_exporter)
        )
    elif name == "memory":
        span_exporter = InMemorySpanExporter()
        provider.add_span_processor(
            _delivering(span_exporter, True, max_queue_size) if batch else SimpleSpanProcessor(span_exporter)
        )
    else:
        assert file_path is not None
        span_exporter = _open_file_exporter(file_path)
        provider.add_span_processor(_file_processor(span_exporter, batch is not False, max_queue_size))

    tee = os.environ.get(ENV_TRACE_FILE)
    if tee and (file_path is None or os.path.abspath(tee) != os.path.abspath(file_path)):
        provider.add_span_processor(_file_processor(_open_file_exporter(tee), batch is not False))

    if set_global and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    previous_override = observe.set_tracer_provider(provider) if install else None
    if install and previous is not None and previous_override is previous.provider:
        previous_override = None
    handle = TracingHandle(
        provider,
        span_exporter,
        name=name,
        path=file_path,
        installed=install,
        previous_override=previous_override,
    )
    handle._delivering = [
        p
        for p in getattr(provider._active_span_processor, "_span_processors", ())
        if isinstance(p, DeliveringSpanProcessor)
    ]
    with _lock:
        _current = handle
    return handle


def current() -> TracingHandle | None:
    """The handle of the last :func:`configure` that is not shut down yet.

    >>> import stbass_tracing
    >>> with stbass_tracing.configure("memory", set_global=False) as handle:
    ...     stbass_tracing.current() is handle
    True
    """
    return _current


def shutdown() -> None:
    """Flush and shut down what the last :func:`configure` set up (no-op if nothing).

    >>> import stbass_tracing
    >>> stbass_tracing.shutdown()
    """
    with _lock:
        handle = _current
    if handle is not None:
        handle.shutdown()
