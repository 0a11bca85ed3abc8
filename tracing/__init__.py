"""stbass_tracing: what comes after stbass's spans.

SDK set-up (:func:`configure`, exporters ``otlp``/``console``/``memory``/``file``),
the trace model and trace files (:func:`load_trace`, :class:`Trace`), exports
for Jaeger UI and Perfetto (:func:`to_jaeger`, :func:`to_perfetto`), and the
self-contained HTML viewer (:func:`render_html`, :func:`write_html`), also
reachable as the ``stbass-trace`` command.

>>> import stbass_tracing
>>> with stbass_tracing.configure("memory", set_global=False) as handle:
...     pass  # run a stbass program here
>>> page = stbass_tracing.render_html(handle.trace())
"""

from ._config import TracingHandle as TracingHandle
from ._config import configure as configure
from ._config import current as current
from ._config import shutdown as shutdown
from ._deliver import DeliveringSpanProcessor as DeliveringSpanProcessor
from ._deliver import Delivery as Delivery
from ._deliver import TracingDeliveryWarning as TracingDeliveryWarning
from ._export import to_jaeger as to_jaeger
from ._export import to_perfetto as to_perfetto
from ._file import FileSpanExporter as FileSpanExporter
from ._layout import Layout as Layout
from ._layout import Row as Row
from ._layout import layout_trace as layout_trace
from ._model import EventRecord as EventRecord
from ._model import LinkRecord as LinkRecord
from ._model import Message as Message
from ._model import SpanRecord as SpanRecord
from ._model import Trace as Trace
from ._model import TraceFileError as TraceFileError
from ._model import load_trace as load_trace
from ._model import spans_from_jaeger_json as spans_from_jaeger_json
from ._model import spans_from_otlp_json as spans_from_otlp_json
from ._model import spans_from_otlp_proto as spans_from_otlp_proto
from ._model import trace_from_spans as trace_from_spans
from ._viewer import render_html as render_html
from ._viewer import write_html as write_html

__all__ = (
    "DeliveringSpanProcessor",
    "Delivery",
    "EventRecord",
    "FileSpanExporter",
    "Layout",
    "LinkRecord",
    "Message",
    "Row",
    "SpanRecord",
    "Trace",
    "TraceFileError",
    "TracingDeliveryWarning",
    "TracingHandle",
    "configure",
    "current",
    "layout_trace",
    "load_trace",
    "render_html",
    "shutdown",
    "spans_from_jaeger_json",
    "spans_from_otlp_json",
    "spans_from_otlp_proto",
    "to_jaeger",
    "to_perfetto",
    "trace_from_spans",
    "write_html",
)
