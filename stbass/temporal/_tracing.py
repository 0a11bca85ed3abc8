"""One trace across the wire: W3C trace context through Temporal headers.

Uses the Temporal SDK's own OpenTelemetry interceptor
(``temporalio.contrib.opentelemetry.TracingInterceptor``): the caller's client
puts the current trace context (the span of the process or composition that
started the call) into the workflow's headers, the workflow hands it on to each
activity, and the worker's activity runs the process under it. The context
travels in the workflow's history, so a worker that takes over after a crash
continues the same trace.

The interceptor's spans (``StartWorkflow:stbass.Run``, ``RunActivity:...``) are
emitted with the tracer stbass itself uses at that moment (so they land where
stbass's spans land); when stbass does not trace, they are non-recording and
only carry the context.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.util.types import Attributes
from temporalio.contrib.opentelemetry import TracingInterceptor

from .. import observe

_NO_OP = trace.NoOpTracer()


class _StbassTracer(trace.Tracer):
    """A tracer that resolves to stbass's active tracer on every span."""

    @staticmethod
    def _tracer() -> trace.Tracer:
        return observe.active_tracer() or _NO_OP

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        return self._tracer().start_span(
            name, context, kind, attributes, links, start_time, record_exception, set_status_on_exception
        )

    def start_as_current_span(  # the delegate's context manager, as is
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Any:
        return self._tracer().start_as_current_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        )


def tracing_interceptors() -> list[Any]:
    """The interceptors every stbass Temporal client (caller and worker) uses."""
    return [TracingInterceptor(_StbassTracer())]
