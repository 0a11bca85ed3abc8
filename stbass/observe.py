"""Span emission: every process and channel event as an OpenTelemetry span.

This module is the OpenTelemetry implementation of the core's instrument hook
(``stbass._core._hook.Instrument``): the core reports events, this turns them
into spans. Written against ``opentelemetry-api`` only. With no SDK configured
the API's tracer provider is a proxy and every hook costs one cheap check. Spans come
from the tracer named ``stbass``; names and attribute keys are in
``stbass._names`` (documented on the tracing page).

Tests and applications can inject a provider without touching OpenTelemetry's
globals::

    from opentelemetry.sdk.trace import TracerProvider
    with stbass.observe.use_tracer_provider(TracerProvider()):
        ...

Payloads are not recorded unless :func:`capture_payloads` turns it on.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from . import _names as N
from ._core import _hook
from ._core._chan import ChannelClosedError
from ._core._hook import ChannelLike, Instrument, Recorder
from ._version import __version__

__all__ = (
    "active_tracer",
    "capture_payloads",
    "set_tracer_provider",
    "use_tracer_provider",
)

_PROXY_TYPES: tuple[type, ...] = tuple(
    t
    for t in (
        getattr(trace, "ProxyTracerProvider", None),
        getattr(trace, "NoOpTracerProvider", None),
    )
    if isinstance(t, type)
)


class _Hub:
    __slots__ = ("override", "provider", "tracer", "instrument", "payload_limit", "redact")

    def __init__(self) -> None:
        self.override: Any = None
        self.provider: Any = None
        self.tracer: Any = None
        self.instrument: OTelInstrument | None = None
        self.payload_limit: int | None = None
        self.redact: Callable[[Any], Any] | None = None


_hub = _Hub()


# Read OpenTelemetry's global provider slot directly when this API version has one
# and no provider is to be loaded from the environment on first use.
_READ_SLOT = hasattr(trace, "_TRACER_PROVIDER") and not os.environ.get(
    "OTEL_PYTHON_TRACER_PROVIDER"
)


def active_tracer() -> trace.Tracer | None:
    """The ``stbass`` tracer, or ``None`` when no SDK listens (spans would be no-ops).

    This runs on every channel operation: with nothing configured it is two
    attribute reads.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> with use_tracer_provider(TracerProvider()):
    ...     active_tracer() is not None
    True
    """
    hub = _hub
    provider = hub.override
    if provider is None:
        if _READ_SLOT:
            # ``trace.get_tracer_provider()`` consults ``os.environ`` on every
            # call until a provider is set: read the API's provider slot instead.
            provider = trace._TRACER_PROVIDER
            if provider is None:
                return None
        else:
            provider = trace.get_tracer_provider()
    if provider is hub.provider:
        return hub.tracer  # type: ignore[no-any-return]
    hub.provider = provider
    if isinstance(provider, _PROXY_TYPES):
        hub.tracer = None
        hub.instrument = None
    else:
        hub.tracer = provider.get_tracer(
            N.TRACER_NAME, __version__, schema_url="https://opentelemetry.io/schemas/1.26.0"
        )
        hub.instrument = OTelInstrument(hub.tracer)
    return hub.tracer  # type: ignore[no-any-return]


def active_instrument() -> OTelInstrument | None:
    """The OpenTelemetry instrument when an SDK listens, else ``None`` (the
    probe the core calls on every event; installed when this module loads).
    With no SDK configured this is two attribute reads, as in :func:`active_tracer`."""
    hub = _hub
    provider = hub.override
    if provider is None:
        if _READ_SLOT:
            provider = trace._TRACER_PROVIDER
            if provider is None:
                return None
        else:
            provider = trace.get_tracer_provider()
    if provider is not hub.provider:
        active_tracer()  # a new provider: make its tracer and instrument
    return hub.instrument


def set_tracer_provider(provider: trace.TracerProvider | None) -> trace.TracerProvider | None:
    """Make stbass emit to *provider* (``None``: back to the global provider).
    Returns the provider injected before.

    For a whole application; :func:`use_tracer_provider` does the same for a block.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> provider = TracerProvider()
    >>> previous = set_tracer_provider(provider)
    >>> set_tracer_provider(previous) is provider
    True
    """
    previous = _hub.override
    _hub.override = provider
    return previous  # type: ignore[no-any-return]


@contextlib.contextmanager
def use_tracer_provider(provider: trace.TracerProvider) -> Iterator[trace.TracerProvider]:
    """Emit stbass spans to *provider* inside the ``with`` block.

    >>> import anyio
    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    >>> from stbass import PAR, Process, ProcessContext
    >>> exporter = InMemorySpanExporter()
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
    >>> @Process
    ... async def hello(ctx: ProcessContext) -> str:
    ...     return "hi"
    >>> with use_tracer_provider(provider):
    ...     result = anyio.run(PAR(hello).run)
    >>> [span.name for span in exporter.get_finished_spans()]
    ['process hello', 'PAR']
    """
    previous = set_tracer_provider(provider)
    try:
        yield provider
    finally:
        set_tracer_provider(previous)


def capture_payloads(
    enabled: bool = True,
    *,
    max_bytes: int = 256,
    redact: Callable[[Any], Any] | None = None,
) -> None:
    """Record channel payloads as the ``stbass.payload`` attribute (off by default).

    Values are passed through *redact* (if given), turned into ``repr`` text and
    truncated to *max_bytes* characters.

    >>> capture_payloads(max_bytes=64, redact=lambda v: "***" if "password" in str(v) else v)
    >>> capture_payloads(False)   # back to the default: no payloads
    """
    if max_bytes <= 0:
        raise ValueError(f"max_bytes must be positive, got {max_bytes}")
    _hub.payload_limit = max_bytes if enabled else None
    _hub.redact = redact if enabled else None


def _payload(value: Any) -> str | None:
    limit = _hub.payload_limit
    if limit is None:
        return None
    redact = _hub.redact
    if redact is not None:
        value = redact(value)
    text = repr(value)
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


# ------------------------------------------------------------------ channels


def _channel_attrs(chan: ChannelLike, operation: str) -> dict[str, Any]:
    return {
        N.CHANNEL_NAME: chan.name,
        N.CHANNEL_TYPE: chan.type_name,
        N.MESSAGING_SYSTEM: N.MESSAGING_SYSTEM_VALUE,
        N.MESSAGING_OPERATION_NAME: operation,
        N.MESSAGING_OPERATION_TYPE: "send" if operation == "send" else "receive",
        N.MESSAGING_DESTINATION: chan.name,
    }


class _ChanSpans:
    """Per channel, made once: span names and the attributes every span shares
    (the SDK copies the dict it is given, so one dict serves every span)."""

    __slots__ = ("send_name", "recv_name", "send_attrs", "recv_attrs", "type_name")

    def __init__(self, chan: ChannelLike) -> None:
        self.type_name = chan.type_name
        self.send_name = N.SPAN_SEND_PREFIX + chan.name
        self.recv_name = N.SPAN_RECV_PREFIX + chan.name
        self.send_attrs = _channel_attrs(chan, "send")
        self.recv_attrs = _channel_attrs(chan, "receive")


def _spans_of(chan: ChannelLike) -> _ChanSpans:
    cached: _ChanSpans | None = getattr(chan, "_obs", None)
    if cached is None or cached.type_name != chan.type_name:
        cached = _ChanSpans(chan)
        try:
            chan._obs = cached  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - a channel-like without the slot
            pass
    return cached


def _outcome(exc: BaseException) -> str:
    return "closed" if isinstance(exc, ChannelClosedError) else "cancelled"


def _link_of(token: object) -> Link | None:
    get = getattr(token, "get_span_context", None)
    if get is None:
        return None
    ctx = get()
    return Link(ctx) if ctx.is_valid else None


class _SendToken:
    __slots__ = ("span", "t0")

    def __init__(self, span: Any, t0: float) -> None:
        self.span = span
        self.t0 = t0

    def get_span_context(self) -> Any:
        return self.span.get_span_context()


class OTelInstrument(Instrument):
    """The core's events as OpenTelemetry spans (the span model of docs/tracing.md)."""

    __slots__ = ("tracer",)

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer

    def send_started(self, chan: ChannelLike, value: object) -> object:
        spans = _spans_of(chan)
        attrs = spans.send_attrs
        payload = _payload(value)
        if payload is not None:
            attrs = {**attrs, N.PAYLOAD: payload}
        span = self.tracer.start_span(spans.send_name, kind=SpanKind.PRODUCER, attributes=attrs)
        return _SendToken(span, time.perf_counter())

    def send_finished(
        self, chan: ChannelLike, token: object, seq: int | None, error: BaseException | None
    ) -> None:
        assert isinstance(token, _SendToken)
        wait = time.perf_counter() - token.t0
        if error is None:
            token.span.set_attributes({N.MESSAGE_SEQ: seq, N.OUTCOME: "ok", N.WAIT_S: wait})
            if getattr(chan, "capacity", 0):  # buffered: the depth after this send
                token.span.set_attribute(N.CHANNEL_BUFFERED, chan.statistics().buffered)  # type: ignore[attr-defined]
        else:
            token.span.set_attributes({N.OUTCOME: _outcome(error), N.WAIT_S: wait})
        token.span.end()

    def recv_started(self, chan: ChannelLike) -> object:
        return (time.time_ns(), time.perf_counter())

    def recv_finished(
        self,
        chan: ChannelLike,
        token: object,
        value: object,
        seq: int | None,
        link: object,
        error: BaseException | None,
    ) -> None:
        start_ns, t0 = cast("tuple[int, float]", token)
        wait = time.perf_counter() - t0
        if error is not None:
            spans = _spans_of(chan)
            attrs = {**spans.recv_attrs, N.OUTCOME: _outcome(error), N.WAIT_S: wait}
            self.tracer.start_span(
                spans.recv_name, kind=SpanKind.CONSUMER, start_time=start_ns, attributes=attrs
            ).end()
            return
        self._received(chan, value, seq, link, start_ns, wait, via_alt=False)

    def alt_received(
        self, recorder: Recorder, chan: ChannelLike, value: object, seq: int, link: object,
        wait_s: float,
    ) -> None:
        self._received(
            chan, value, seq, link, time.time_ns() - int(wait_s * 1e9), wait_s, via_alt=True
        )

    def _received(
        self,
        chan: ChannelLike,
        value: object,
        seq: int | None,
        link: object,
        start_ns: int,
        wait_s: float,
        *,
        via_alt: bool,
    ) -> None:
        """Emit a finished ``recv <channel>`` span linked to the matching send span."""
        spans = _spans_of(chan)
        attrs = {**spans.recv_attrs, N.MESSAGE_SEQ: seq, N.OUTCOME: "ok", N.WAIT_S: wait_s}
        if via_alt:
            attrs[N.VIA_ALT] = True
        payload = _payload(value)
        if payload is not None:
            attrs[N.PAYLOAD] = payload
        lk = _link_of(link)
        self.tracer.start_span(
            spans.recv_name,
            kind=SpanKind.CONSUMER,
            start_time=start_ns,
            attributes=attrs,
            links=[lk] if lk is not None else None,
        ).end()

    @contextlib.contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, Any],
        *,
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> Iterator[SpanRecorder]:
        with self.tracer.start_as_current_span(
            name,
            kind=kind,
            attributes={k: v for k, v in attributes.items() if v is not None},
            record_exception=False,
            set_status_on_exception=False,
        ) as s:
            yield SpanRecorder(s)


# ------------------------------------------------------- processes, compositions


class SpanRecorder(Recorder):
    """What a process or composition reports about its span while it runs."""

    __slots__ = ("span",)

    def __init__(self, span: Any) -> None:
        self.span = span

    @property
    def link(self) -> object:  # type: ignore[override]
        return self.span

    def failed(self, error: BaseException, summary: str | None = None) -> None:
        span = self.span
        span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        span.record_exception(error)
        span.set_attribute(N.ERROR_TYPE, type(error).__qualname__)
        if summary is not None:
            span.set_attribute(N.FAILURE_SUMMARY, summary)

    def cancelled(self, by: str) -> None:
        self.span.set_attribute(N.CANCELLED, True)
        self.span.set_attribute(N.CANCELLED_BY, by)

    def set(self, key: str, value: Any) -> None:
        if value is not None:
            self.span.set_attribute(key, value)

    def event(self, name: str, attributes: Mapping[str, Any]) -> None:
        self.span.add_event(name, dict(attributes))


@contextlib.contextmanager
def span(
    name: str, attributes: Mapping[str, Any], *, kind: SpanKind = SpanKind.INTERNAL
) -> Iterator[Recorder]:
    """A current span around a process, composition, ALT or tool call (a
    recorder that records nothing when no SDK listens)."""
    ins = _hook.active()
    if ins is None:
        yield _hook.NO_RECORDER
        return
    if isinstance(ins, OTelInstrument):
        with ins.span(name, attributes, kind=kind) as rec:
            yield rec
        return
    with ins.span(name, attributes) as rec2:
        yield rec2


_hook.set_probe(active_instrument)
