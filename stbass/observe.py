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
import functools
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, cast

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

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
            N.TRACER_NAME, __version__, schema_url=SCHEMA_URL
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
    if _hook.active is active_instrument:  # (another probe may be installed: keep it)
        _install_probe()
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

#: the OpenTelemetry semantic conventions stbass's spans follow
SCHEMA_URL = "https://opentelemetry.io/schemas/" + N.SEMCONV_VERSION

_ANONYMOUS = re.compile(r"chan-\d+")
_INDEX = re.compile(r"\[\d+\]")
_REPLICA = re.compile(r"(.*)\[(\d+)\]")


def destination_template(name: str) -> str | None:
    """The bounded-cardinality form of a channel name (``None``: the name is one).

    >>> destination_template("chan-17"), destination_template("worker[3].in"), destination_template("jobs")
    ('(anonymous)', 'worker[*].in', None)
    """
    if _ANONYMOUS.fullmatch(name):
        return N.ANONYMOUS_DESTINATION
    if "[" in name:
        template = _INDEX.sub("[*]", name)
        if template != name:
            return template
    return None


def _channel_attrs(chan: ChannelLike, operation: str) -> dict[str, Any]:
    name = chan.name
    attrs: dict[str, Any] = {
        N.CHANNEL_NAME: name,
        N.CHANNEL_TYPE: chan.type_name,
        N.MESSAGING_SYSTEM: N.MESSAGING_SYSTEM_VALUE,
        N.MESSAGING_OPERATION_NAME: operation,
        N.MESSAGING_OPERATION_TYPE: operation,
        N.MESSAGING_DESTINATION: name,
    }
    template = destination_template(name)
    if template == N.ANONYMOUS_DESTINATION:
        attrs[N.MESSAGING_DESTINATION_ANONYMOUS] = True
    elif template is not None:
        attrs[N.MESSAGING_DESTINATION_TEMPLATE] = template
    if name.endswith((".input", ".output")) and chan.type_name == "object":
        attrs[N.PLUMBING] = True  # SEQ's own stage channels, not a user message
    return attrs


class _ChanSpans:
    """Per channel, made once: span names and the attributes every span shares."""

    __slots__ = ("send_name", "recv_name", "send_attrs", "recv_attrs", "spec")

    def __init__(self, chan: ChannelLike) -> None:
        # the channel's type (a channel typed by its first value changes once)
        self.spec = getattr(chan, "_spec", None)
        destination = destination_template(chan.name) or chan.name
        self.send_name = N.SPAN_SEND_PREFIX + destination
        self.recv_name = N.SPAN_RECEIVE_PREFIX + destination
        self.send_attrs = _channel_attrs(chan, "send")
        self.recv_attrs = _channel_attrs(chan, "receive")


def _spans_of(chan: ChannelLike) -> _ChanSpans:
    cached: _ChanSpans | None = getattr(chan, "_obs", None)
    if cached is None or cached.spec is not getattr(chan, "_spec", None):
        cached = _ChanSpans(chan)
        try:
            chan._obs = cached  # type: ignore[attr-defined]
        except AttributeError:  # pragma: no cover - a channel-like without the slot
            pass
    return cached


def _outcome(exc: BaseException) -> str:
    return "closed" if isinstance(exc, ChannelClosedError) else "cancelled"


def _link_of(token: object) -> Link | None:
    if isinstance(token, _Event):
        return Link(token.get_span_context())
    get = getattr(token, "get_span_context", None)
    if get is None:
        return None
    ctx = get()
    return Link(ctx) if ctx.is_valid else None


def _current_span_generic() -> Any:
    return trace.get_current_span()


def _current_span_fast() -> Any:
    # what ``trace.get_current_span()`` does, without its three calls
    return _CONTEXT_VAR.get().get(_SPAN_KEY) or _INVALID_SPAN


try:  # the API's own context variable, when the runtime context is the default one
    from opentelemetry.context import _RUNTIME_CONTEXT
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    from opentelemetry.trace.propagation import _SPAN_KEY

    if not isinstance(_RUNTIME_CONTEXT, ContextVarsRuntimeContext):
        raise ImportError("another runtime context")
    _CONTEXT_VAR = _RUNTIME_CONTEXT._current_context
    _current_span: Callable[[], Any] = _current_span_fast
except (ImportError, AttributeError):  # pragma: no cover - another API version
    _current_span = _current_span_generic


_NON_RECORDING = trace.NonRecordingSpan
_INVALID_SPAN = trace.INVALID_SPAN
_SEND, _RECV = 0, 1
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSET = Status(StatusCode.UNSET)


class _SendToken:
    __slots__ = ("span", "t0")

    def __init__(self, span: Any, t0: float) -> None:
        self.span = span
        self.t0 = t0

    def get_span_context(self) -> Any:
        return self.span.get_span_context()


class _Event:
    """One channel event while it runs; handed to the exporter as is when it
    ends (a compact record: the ``ReadableSpan`` is built on the export thread).
    A send's event is also the token that travels with the message (the
    receive links to it)."""

    __slots__ = (
        "ins", "op", "spans", "trace_id", "span_id", "parent", "flags", "start_ns",
        "end_ns", "seq", "error", "link", "payload", "via_alt", "ctx", "buffered",
    )

    def __init__(
        self, ins: OTelInstrument, op: int, spans: _ChanSpans, trace_id: int, span_id: int,
        parent: SpanContext | None, flags: int, start_ns: int,
    ) -> None:
        self.ins = ins
        self.op = op
        self.spans = spans
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent = parent  # the enclosing span's context (None: a root span)
        self.ctx: SpanContext | None = None  # this span's context, built once when asked
        self.flags = flags
        self.start_ns = start_ns
        self.end_ns = start_ns
        self.seq: int | None = None
        self.error: str | None = None
        self.link: object = None
        self.payload: str | None = None
        self.via_alt = False
        self.buffered: int | None = None  # a buffered channel's depth after the send

    def get_span_context(self) -> SpanContext:
        ctx = self.ctx
        if ctx is None:
            flags = _SAMPLED if self.flags == 1 else TraceFlags(self.flags)
            ctx = self.ctx = SpanContext(self.trace_id, self.span_id, False, flags)
        return ctx

    def readable_span(self) -> Any:
        """The SDK ``ReadableSpan`` of this finished event."""
        return self.ins.materialise(self)


class OTelInstrument(Instrument):
    """The core's events as OpenTelemetry spans (the span model of docs/tracing.md).

    Process, composition and ALT spans are SDK spans, current while they run.
    A channel event costs a small record: when the provider's span processor
    takes compact events (``put_compact``, as ``stbass_tracing.configure()``'s
    does) the record is queued and becomes a ``ReadableSpan`` on the export
    thread; other processors get the ``ReadableSpan`` when the event ends.
    Channel spans follow their parent's sampling decision: an unsampled trace
    costs no channel span at all.
    """

    __slots__ = (
        "tracer", "_sdk", "_procs", "_sinks", "_others", "_ids", "_resource", "_scope",
        "_readable",
    )

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        # an SDK tracer: channel events become ReadableSpans without SDK spans
        self._sdk = all(
            hasattr(tracer, a) for a in ("span_processor", "id_generator", "sampler", "resource")
        )
        self._procs: object = None
        self._sinks: tuple[Callable[[Any], None], ...] = ()
        self._others: tuple[Any, ...] = ()
        # the SDK's ReadableSpan, from the module of the SDK tracer (already
        # loaded: importing here could run inside Temporal's workflow sandbox)
        module = sys.modules.get(type(tracer).__module__)
        self._readable: Any = getattr(module, "ReadableSpan", None)
        self._sdk = self._sdk and self._readable is not None
        if self._sdk:
            t: Any = tracer
            self._ids = t.id_generator
            self._resource = t.resource
            self._scope = getattr(t, "_instrumentation_scope", None)

    def _route(self) -> None:
        procs = getattr(cast(Any, self.tracer).span_processor, "_span_processors", ())
        self._procs = procs
        self._sinks = tuple(p.put_compact for p in procs if hasattr(p, "put_compact"))
        self._others = tuple(p for p in procs if not hasattr(p, "put_compact"))

    def _start(self, op: int, chan: ChannelLike, current: Any) -> _Event | None:
        ctx = current.get_span_context()
        if ctx.is_valid:
            if not ctx.trace_flags & 1:
                return None  # the parent was not sampled
            spans = _spans_of(chan)
            return _Event(
                self, op, spans, ctx.trace_id, self._ids.generate_span_id(), ctx,
                ctx.trace_flags, time.time_ns(),
            )
        # a channel used outside any span: a root span, sampled by the provider
        spans = _spans_of(chan)
        trace_id = self._ids.generate_trace_id()
        name = spans.send_name if op == _SEND else spans.recv_name
        decision = cast(Any, self.tracer).sampler.should_sample(None, trace_id, name)
        if not decision.decision.is_sampled():
            return None
        return _Event(
            self, op, spans, trace_id, self._ids.generate_span_id(), None, 1, time.time_ns()
        )

    def _end(self, ev: _Event) -> None:
        ev.end_ns = time.time_ns()
        if self._procs is not cast(Any, self.tracer).span_processor._span_processors:
            self._route()
        for put in self._sinks:
            put(ev)
        if self._others:
            span = self.materialise(ev)
            for p in self._others:
                p.on_end(span)

    def materialise(self, ev: _Event) -> Any:
        """The ``ReadableSpan`` of a finished channel event (run on the export
        thread for processors that take compact events)."""
        spans = ev.spans
        if ev.op == _SEND:
            attrs = dict(spans.send_attrs)
            name, kind = spans.send_name, SpanKind.PRODUCER
        else:
            attrs = dict(spans.recv_attrs)
            name, kind = spans.recv_name, SpanKind.CLIENT
        wait = (ev.end_ns - ev.start_ns) / 1e9
        if ev.error is None:
            attrs[N.MESSAGE_SEQ] = ev.seq
            attrs[N.MESSAGING_MESSAGE_ID] = f"{spans.send_attrs[N.CHANNEL_NAME]}#{ev.seq}"
            attrs[N.OUTCOME] = "ok"
        else:
            attrs[N.OUTCOME] = ev.error
            attrs[N.ERROR_TYPE] = ev.error
        attrs[N.WAIT_S] = wait
        if ev.via_alt:
            attrs[N.VIA_ALT] = True
        if ev.buffered is not None:
            attrs[N.CHANNEL_BUFFERED] = ev.buffered
        if ev.payload is not None:
            attrs[N.PAYLOAD] = ev.payload
        links: tuple[Link, ...] = ()
        if ev.link is not None:
            lk = _link_of(ev.link)
            if lk is not None:
                links = (lk,)
        return self._readable(
            name,
            context=ev.get_span_context(),
            parent=ev.parent,
            resource=self._resource,
            attributes=attrs,
            links=links,
            kind=kind,
            status=_UNSET,
            start_time=ev.start_ns,
            end_time=ev.end_ns,
            instrumentation_scope=self._scope,
        )

    def send_started(self, chan: ChannelLike, value: object) -> object:
        current = _current_span()
        if type(current) is _NON_RECORDING and current is not _INVALID_SPAN:
            return None  # inside an unsampled span: nothing to record
        if not self._sdk:
            return self._generic_send(chan, value)
        ev = self._start(_SEND, chan, current)
        if ev is not None and _hub.payload_limit is not None:
            ev.payload = _payload(value)
        return ev

    def send_finished(
        self, chan: ChannelLike, token: object, seq: int | None, error: BaseException | None
    ) -> None:
        if isinstance(token, _Event):
            if error is None:
                token.seq = seq
                if getattr(chan, "capacity", 0):  # buffered: the depth after this send
                    token.buffered = chan.statistics().buffered  # type: ignore[attr-defined]
            else:
                token.error = _outcome(error)
            self._end(token)
        elif isinstance(token, _SendToken):
            self._generic_send_end(chan, token, seq, error)

    def recv_started(self, chan: ChannelLike) -> object:
        current = _current_span()
        if type(current) is _NON_RECORDING and current is not _INVALID_SPAN:
            return None  # inside an unsampled span: nothing to record
        if not self._sdk:
            return (time.time_ns(), None)
        return self._start(_RECV, chan, current)

    def recv_finished(
        self,
        chan: ChannelLike,
        token: object,
        value: object,
        seq: int | None,
        link: object,
        error: BaseException | None,
    ) -> None:
        if isinstance(token, _Event):
            if error is None:
                token.seq = seq
                token.link = link
                if _hub.payload_limit is not None:
                    token.payload = _payload(value)
            else:
                token.error = _outcome(error)
            self._end(token)
        elif token is not None:
            start_ns, _ = cast("tuple[int, Any]", token)
            self._generic_recv(chan, value, seq, link, start_ns, error, via_alt=False)

    def alt_received(
        self, recorder: Recorder, chan: ChannelLike, value: object, seq: int, link: object,
        wait_s: float,
    ) -> None:
        start_ns = time.time_ns() - int(wait_s * 1e9)
        if not self._sdk:
            self._generic_recv(chan, value, seq, link, start_ns, None, via_alt=True)
            return
        current = _current_span()
        if type(current) is _NON_RECORDING and current is not _INVALID_SPAN:
            return
        ev = self._start(_RECV, chan, current)
        if ev is None:
            return
        ev.start_ns = start_ns
        ev.seq = seq
        ev.link = link
        ev.via_alt = True
        if _hub.payload_limit is not None:
            ev.payload = _payload(value)
        self._end(ev)

    # a tracer that is not the SDK's: plain API spans, as before

    def _generic_send(self, chan: ChannelLike, value: object) -> _SendToken:
        spans = _spans_of(chan)
        attrs = spans.send_attrs
        payload = _payload(value)
        if payload is not None:
            attrs = {**attrs, N.PAYLOAD: payload}
        span = self.tracer.start_span(spans.send_name, kind=SpanKind.PRODUCER, attributes=attrs)
        return _SendToken(span, time.perf_counter())

    def _generic_send_end(
        self, chan: ChannelLike, token: _SendToken, seq: int | None, error: BaseException | None
    ) -> None:
        wait = time.perf_counter() - token.t0
        if error is None:
            token.span.set_attributes({N.MESSAGE_SEQ: seq, N.OUTCOME: "ok", N.WAIT_S: wait})
            if getattr(chan, "capacity", 0):  # buffered: the depth after this send
                token.span.set_attribute(N.CHANNEL_BUFFERED, chan.statistics().buffered)  # type: ignore[attr-defined]
        else:
            outcome = _outcome(error)
            token.span.set_attributes({N.OUTCOME: outcome, N.ERROR_TYPE: outcome, N.WAIT_S: wait})
        token.span.end()

    def _generic_recv(
        self, chan: ChannelLike, value: object, seq: int | None, link: object, start_ns: int,
        error: BaseException | None, *, via_alt: bool,
    ) -> None:
        spans = _spans_of(chan)
        attrs = {**spans.recv_attrs, N.WAIT_S: (time.time_ns() - start_ns) / 1e9}
        if error is not None:
            attrs[N.OUTCOME] = attrs[N.ERROR_TYPE] = _outcome(error)
        else:
            attrs[N.MESSAGE_SEQ] = seq
            attrs[N.OUTCOME] = "ok"
        if via_alt:
            attrs[N.VIA_ALT] = True
        payload = _payload(value) if error is None else None
        if payload is not None:
            attrs[N.PAYLOAD] = payload
        lk = _link_of(link)
        self.tracer.start_span(
            spans.recv_name,
            kind=SpanKind.CLIENT,
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
        attrs = {k: v for k, v in attributes.items() if v is not None}
        reset = None
        if name.startswith(N.SPAN_PROCESS_PREFIX):
            if name.endswith("]"):
                # one span name per replicated process, not one per replica
                m = _REPLICA.fullmatch(name)
                if m is not None:
                    name = m.group(1)
                    attrs[N.REPLICA_INDEX] = int(m.group(2))
            index = _hook.CHILD_INDEX.get()
            if index is not None:
                attrs[N.CHILD_INDEX] = index
                reset = _hook.CHILD_INDEX.set(None)  # not for the processes inside
        composition = not name.startswith((N.SPAN_PROCESS_PREFIX, N.SPAN_TOOL_PREFIX))
        tag = _NEXT_SPAN_ATTRS.get()
        untag = None
        if tag is not None:
            attrs.update(tag)
            untag = _NEXT_SPAN_ATTRS.set(None)  # not for the spans inside
        try:
            with self.tracer.start_as_current_span(
                name,
                kind=kind,
                attributes=attrs,
                record_exception=False,
                set_status_on_exception=False,
            ) as s:
                try:
                    yield SpanRecorder(s, composition)
                except Exception as exc:
                    # the unit itself raises (not a child's failure): the error is here
                    s.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                    s.record_exception(exc)
                    s.set_attribute(N.ERROR_TYPE, type(exc).__qualname__)
                    raise
        finally:
            if untag is not None:
                _NEXT_SPAN_ATTRS.reset(untag)
            if reset is not None:
                _hook.CHILD_INDEX.reset(reset)


# ------------------------------------------------------- processes, compositions

#: Attributes for the next process or composition span opened in this context
#: (and not for the spans inside it), set by :func:`_tag_next_span`.
_NEXT_SPAN_ATTRS: ContextVar[Mapping[str, Any] | None] = ContextVar(
    "stbass_next_span_attrs", default=None
)


@contextlib.contextmanager
def _tag_next_span(attributes: Mapping[str, Any]) -> Iterator[None]:
    """Give *attributes* to the next process or composition span opened in
    this context while the block runs (each span, if it opens more than one in
    turn), but not to the spans inside it: how a DAG marks the span of each
    task with ``stbass.dag.task``, whether the task is a process or a
    composition whose span the DAG does not open.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    >>> from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    >>> exporter = InMemorySpanExporter()
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(SimpleSpanProcessor(exporter))
    >>> with use_tracer_provider(provider), _tag_next_span({"stbass.dag.task": "t"}):
    ...     with span("PAR", {}), span("process p", {}):
    ...         pass
    >>> [(s.name, s.attributes.get("stbass.dag.task")) for s in exporter.get_finished_spans()]
    [('process p', None), ('PAR', 't')]
    """
    token = _NEXT_SPAN_ATTRS.set(dict(attributes))
    try:
        yield
    finally:
        _NEXT_SPAN_ATTRS.reset(token)


class SpanRecorder(Recorder):
    """What a process or composition reports about its span while it runs.

    One failure, one ERROR span: a process (or tool call) that fails gets
    status ERROR and the exception event; a composition whose child failed
    only records that (``stbass.child_failed``, ``error.type``, the summary),
    since the child's span has the error.
    """

    __slots__ = ("span", "composition")

    def __init__(self, span: Any, composition: bool = False) -> None:
        self.span = span
        self.composition = composition

    @property
    def link(self) -> object:  # type: ignore[override]
        return self.span

    def failed(self, error: BaseException, summary: str | None = None) -> None:
        span = self.span
        if self.composition:
            span.set_attribute(N.CHILD_FAILED, True)
        else:
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
    ins = _hook.active() if _hook.gate() is not None else None
    if ins is None:
        yield _hook.NO_RECORDER
        return
    if isinstance(ins, OTelInstrument):
        with ins.span(name, attributes, kind=kind) as rec:
            yield rec
        return
    with ins.span(name, attributes) as rec2:
        yield rec2


def _install_probe() -> None:
    """Install :func:`active_instrument` with a gate for the core: with no
    provider injected, a C call that reads the API's provider slot (``None``
    until a provider is set, so an untraced operation never runs Python here)."""
    if _hub.override is None and _READ_SLOT:
        gate: Callable[[], object] = functools.partial(getattr, trace, "_TRACER_PROVIDER")
    else:
        gate = _hook.ALWAYS
    _hook.set_probe(active_instrument, gate=gate)


_install_probe()
