"""The trace model: finished spans as plain, JSON-friendly records.

Everything downstream of the SDK (the trace file, the viewer, the Jaeger and
Perfetto exports) works on :class:`Trace`, a list of :class:`SpanRecord`. A
record comes from an SDK ``ReadableSpan`` (:meth:`SpanRecord.from_readable`) or
from one line of a trace file (:meth:`SpanRecord.from_json`), and
:meth:`SpanRecord.to_json` is the line the file exporter writes.

The trace file format (``*.jsonl``) is one JSON object per line, one span per
object::

    {"name": "send data_chan", "kind": "PRODUCER",
     "trace_id": "<32 hex>", "span_id": "<16 hex>", "parent_span_id": "<16 hex>" | null,
     "start_time_ns": 1700000000000000000, "end_time_ns": 1700000000000100000,
     "attributes": {"stbass.channel.name": "data_chan", ...},
     "events": [{"name": "exception", "time_ns": ..., "attributes": {...}}],
     "links": [{"trace_id": "<32 hex>", "span_id": "<16 hex>", "attributes": {}}],
     "status": {"code": "UNSET" | "OK" | "ERROR", "description": null | "..."},
     "resource": {"service.name": "my-app", ...},
     "scope": {"name": "stbass", "version": "0.2.0.dev0"}}

``name``, ``trace_id``, ``span_id``, ``start_time_ns`` and ``end_time_ns`` are
required; every other key may be missing (empty / ``null`` / ``INTERNAL`` /
``UNSET``). Blank lines are ignored. Several traces may share one file.

:func:`load_trace` also reads two files other OpenTelemetry tools write: OTLP
JSON (``{"resourceSpans": [...]}``, one export request per line as the SDK's and
the Collector's file exporters write it, or one document) and Jaeger JSON
(``{"data": [{"traceID", "spans", "processes"}]}``, what Jaeger UI downloads and
:func:`~stbass_tracing.to_jaeger` writes). :func:`spans_from_otlp_json`,
:func:`spans_from_otlp_proto` and :func:`spans_from_jaeger_json` convert one
such document; ``stbass-trace serve`` uses the OTLP ones for what it receives.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stbass import _names as N

__all__ = (
    "EventRecord",
    "LinkRecord",
    "Message",
    "SpanRecord",
    "Trace",
    "TraceFileError",
    "load_trace",
    "spans_from_jaeger_json",
    "spans_from_otlp_json",
    "spans_from_otlp_proto",
    "trace_from_spans",
)

_KINDS = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_STATUS = ("UNSET", "OK", "ERROR")


class TraceFileError(ValueError):
    """A trace file that cannot be read: missing, empty, or a bad line.

    ``path`` is the file, ``line`` the 1-based line number (``None`` when the
    problem is the whole file) and ``reason`` what was wrong.

    >>> str(TraceFileError("t.jsonl", 3, "invalid JSON"))
    't.jsonl:3: invalid JSON'
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, reason: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.reason = reason
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {reason}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _attrs(mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    if not mapping:
        return {}
    return {str(k): _jsonable(v) for k, v in mapping.items()}


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A span event (``exception``, ``timer.expired``, ...).

    >>> EventRecord("timer.expired", 5, {"stbass.timer.name": "t"}).name
    'timer.expired'
    """

    name: str
    time_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkRecord:
    """A span link: for a ``recv`` span, the ``send`` span it matched.

    >>> LinkRecord("0" * 32, "1" * 16).span_id
    '1111111111111111'
    """

    trace_id: str
    span_id: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One finished span, as the trace file stores it.

    >>> s = SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10)
    >>> s.duration_ns
    10
    """

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_time_ns: int
    end_time_ns: int
    kind: str = "INTERNAL"
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()
    links: tuple[LinkRecord, ...] = ()
    status_code: str = "UNSET"
    status_description: str | None = None
    resource: dict[str, Any] = field(default_factory=dict)
    scope_name: str | None = None
    scope_version: str | None = None

    # ----------------------------------------------------------- properties

    @property
    def duration_ns(self) -> int:
        """``end_time_ns - start_time_ns`` (never negative)."""
        return max(0, self.end_time_ns - self.start_time_ns)

    @property
    def is_error(self) -> bool:
        """Status ERROR."""
        return self.status_code == "ERROR"

    @property
    def is_cancelled(self) -> bool:
        """Marked ``stbass.cancelled=true`` by the core."""
        return self.attributes.get(N.CANCELLED) is True

    @property
    def category(self) -> str:
        """``composition``, ``process``, ``send``, ``recv``, ``alt`` or ``other``."""
        name = self.name
        if N.COMPOSITION in self.attributes or name in N.COMPOSITIONS:
            return "composition"
        if name.startswith(N.SPAN_PROCESS_PREFIX) and (
            N.PROCESS_NAME in self.attributes or self.scope_name in (None, N.TRACER_NAME)
        ):
            return "process"
        if name in N.ALT_SPANS:
            return "alt"
        if name.startswith(N.SPAN_SEND_PREFIX) and self.kind == "PRODUCER":
            return "send"
        if name.startswith(N.SPAN_RECV_PREFIX) and self.kind == "CONSUMER":
            return "recv"
        if self.attributes.get(N.MESSAGING_SYSTEM) == N.MESSAGING_SYSTEM_VALUE:
            # stbass's messaging spans however the conventions of the day name them
            op = self.attributes.get(N.MESSAGING_OPERATION_TYPE)
            if op in ("send", "publish", "create"):
                return "send"
            if op in ("receive", "process"):
                return "recv"
        return "other"

    @property
    def is_plumbing(self) -> bool:
        """A send/recv on SEQ's own stage channels (``<stage>.input``/``.output``), not a user message."""
        a = self.attributes
        if a.get("stbass.channel.internal") is True or a.get("stbass.plumbing") is True:
            return True
        channel = a.get(N.CHANNEL_NAME)
        return (
            isinstance(channel, str)
            and channel.endswith((".input", ".output"))
            and a.get(N.CHANNEL_TYPE) == "object"
            and self.category in ("send", "recv")
        )

    # ------------------------------------------------------------- converting

    @classmethod
    def from_readable(cls, span: Any) -> SpanRecord:
        """Convert an SDK ``ReadableSpan`` (e.g. from ``InMemorySpanExporter``)."""
        ctx = span.get_span_context() if hasattr(span, "get_span_context") else span.context
        parent = span.parent
        status = span.status
        scope = getattr(span, "instrumentation_scope", None)
        resource = getattr(span, "resource", None)
        start = span.start_time or 0
        end = span.end_time or start
        return cls(
            name=span.name,
            trace_id=format(ctx.trace_id, "032x"),
            span_id=format(ctx.span_id, "016x"),
            parent_span_id=format(parent.span_id, "016x") if parent is not None else None,
            start_time_ns=int(start),
            end_time_ns=int(end),
            kind=span.kind.name if span.kind is not None else "INTERNAL",
            attributes=_attrs(span.attributes),
            events=tuple(
                EventRecord(e.name, int(e.timestamp or 0), _attrs(e.attributes)) for e in span.events
            ),
            links=tuple(
                LinkRecord(
                    format(link.context.trace_id, "032x"),
                    format(link.context.span_id, "016x"),
                    _attrs(link.attributes),
                )
                for link in span.links
            ),
            status_code=status.status_code.name if status is not None else "UNSET",
            status_description=status.description if status is not None else None,
            resource=_attrs(resource.attributes) if resource is not None else {},
            scope_name=scope.name if scope is not None else None,
            scope_version=scope.version if scope is not None else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one trace-file line."""
        return {
            "name": self.name,
            "kind": self.kind,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "start_time_ns": self.start_time_ns,
            "end_time_ns": self.end_time_ns,
            "attributes": self.attributes,
            "events": [
                {"name": e.name, "time_ns": e.time_ns, "attributes": e.attributes} for e in self.events
            ],
            "links": [
                {"trace_id": lk.trace_id, "span_id": lk.span_id, "attributes": lk.attributes}
                for lk in self.links
            ],
            "status": {"code": self.status_code, "description": self.status_description},
            "resource": self.resource,
            "scope": {"name": self.scope_name, "version": self.scope_version},
        }

    @classmethod
    def from_json(cls, obj: Any) -> SpanRecord:
        """Parse one trace-file object; raises ``ValueError`` saying what is wrong."""
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object (one span), got {type(obj).__name__}")
        missing = [k for k in ("name", "trace_id", "span_id", "start_time_ns", "end_time_ns") if k not in obj]
        if missing:
            raise ValueError(f"span is missing required key(s): {', '.join(missing)}")
        name = _expect(obj, "name", str)
        trace_id = _hex_id(obj, "trace_id", 32)
        span_id = _hex_id(obj, "span_id", 16)
        parent = obj.get("parent_span_id")
        if parent is not None:
            parent = _hex_id(obj, "parent_span_id", 16)
        start = _expect(obj, "start_time_ns", int)
        end = _expect(obj, "end_time_ns", int)
        kind = obj.get("kind") or "INTERNAL"
        if kind not in _KINDS:
            raise ValueError(f"'kind' must be one of {', '.join(_KINDS)}, got {kind!r}")
        attributes = _mapping(obj, "attributes")
        status = obj.get("status") or {}
        if not isinstance(status, dict):
            raise ValueError("'status' must be an object")
        code = status.get("code") or "UNSET"
        if code not in _STATUS:
            raise ValueError(f"'status.code' must be one of {', '.join(_STATUS)}, got {code!r}")
        events = []
        for i, ev in enumerate(_list(obj, "events")):
            if not isinstance(ev, dict) or not isinstance(ev.get("name"), str):
                raise ValueError(f"events[{i}] must be an object with a string 'name'")
            events.append(
                EventRecord(ev["name"], int(ev.get("time_ns") or start), _mapping(ev, "attributes"))
            )
        links = []
        for i, lk in enumerate(_list(obj, "links")):
            if not isinstance(lk, dict):
                raise ValueError(f"links[{i}] must be an object")
            links.append(
                LinkRecord(_hex_id(lk, "trace_id", 32), _hex_id(lk, "span_id", 16), _mapping(lk, "attributes"))
            )
        scope = obj.get("scope") or {}
        return cls(
            name=name,
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            start_time_ns=start,
            end_time_ns=end,
            kind=kind,
            attributes=attributes,
            events=tuple(events),
            links=tuple(links),
            status_code=code,
            status_description=status.get("description"),
            resource=_mapping(obj, "resource"),
            scope_name=scope.get("name") if isinstance(scope, dict) else None,
            scope_version=scope.get("version") if isinstance(scope, dict) else None,
        )


def _expect(obj: dict[str, Any], key: str, typ: type) -> Any:
    value = obj[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise ValueError(f"'{key}' must be {'an integer' if typ is int else 'a string'}, got {value!r}")
    return value


def _hex_id(obj: dict[str, Any], key: str, width: int) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or len(value) != width:
        raise ValueError(f"'{key}' must be {width} hex digits, got {value!r}")
    try:
        int(value, 16)
    except ValueError:
        raise ValueError(f"'{key}' must be {width} hex digits, got {value!r}") from None
    return value.lower()


def _mapping(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"'{key}' must be an object")
    return value


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{key}' must be a list")
    return value


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message: a ``send`` span and the ``recv`` span linked to it.

    >>> # for m in trace.messages: print(m.channel, m.send.span_id, m.recv.span_id)
    """

    send: SpanRecord
    recv: SpanRecord

    @property
    def channel(self) -> str:
        """The channel name."""
        return str(self.recv.attributes.get(N.CHANNEL_NAME, self.recv.name[len(N.SPAN_RECV_PREFIX):]))


class Trace:
    """The spans of one or more traces, with the relations the viewer needs.

    >>> t = Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10)])
    >>> len(t), t.wall_time_ns
    (1, 10)
    """

    def __init__(self, spans: Iterable[SpanRecord]) -> None:
        self.spans: list[SpanRecord] = sorted(spans, key=lambda s: (s.start_time_ns, s.end_time_ns))
        self.by_id: dict[str, SpanRecord] = {s.span_id: s for s in self.spans}
        self.children: dict[str | None, list[SpanRecord]] = {}
        for s in self.spans:
            parent = s.parent_span_id if s.parent_span_id in self.by_id else None
            self.children.setdefault(parent, []).append(s)

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[SpanRecord]:
        return iter(self.spans)

    def __repr__(self) -> str:
        return f"<Trace spans={len(self.spans)} traces={len(self.trace_ids)}>"

    @property
    def trace_ids(self) -> list[str]:
        """Distinct trace ids, in order of first appearance."""
        return list(dict.fromkeys(s.trace_id for s in self.spans))

    @property
    def roots(self) -> list[SpanRecord]:
        """Spans whose parent is not in this trace."""
        return list(self.children.get(None, []))

    def parent(self, span: SpanRecord) -> SpanRecord | None:
        """The parent span, when it is in this trace."""
        return self.by_id.get(span.parent_span_id) if span.parent_span_id else None

    def named(self, name: str) -> list[SpanRecord]:
        """Every span called *name*."""
        return [s for s in self.spans if s.name == name]

    @property
    def processes(self) -> list[SpanRecord]:
        """The ``process <name>`` spans."""
        return [s for s in self.spans if s.category == "process"]

    @property
    def failures(self) -> list[SpanRecord]:
        """Process spans with status ERROR (failed processes)."""
        return [s for s in self.spans if s.category == "process" and s.is_error]

    @property
    def messages(self) -> list[Message]:
        """Each ``recv`` span paired with the ``send`` span it links to."""
        out = []
        for s in self.spans:
            if s.category != "recv":
                continue
            for link in s.links:
                sender = self.by_id.get(link.span_id)
                if sender is not None and sender.category == "send":
                    out.append(Message(sender, s))
                    break
        return out

    @property
    def start_ns(self) -> int:
        """Earliest start time (0 for an empty trace)."""
        return min((s.start_time_ns for s in self.spans), default=0)

    @property
    def end_ns(self) -> int:
        """Latest end time (0 for an empty trace)."""
        return max((s.end_time_ns for s in self.spans), default=0)

    @property
    def wall_time_ns(self) -> int:
        """From the first start to the last end."""
        return self.end_ns - self.start_ns

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write this trace as a trace file (JSON lines)."""
        with open(path, "w", encoding="utf-8") as fh:
            for s in self.spans:
                fh.write(json.dumps(s.to_json(), separators=(",", ":")) + "\n")


def trace_from_spans(spans: Iterable[Any]) -> Trace:
    """A :class:`Trace` from SDK spans (``ReadableSpan``) or :class:`SpanRecord` objects.

    >>> # exporter = InMemorySpanExporter(); ...; trace_from_spans(exporter.get_finished_spans())
    """
    return Trace(s if isinstance(s, SpanRecord) else SpanRecord.from_readable(s) for s in spans)


def load_trace(path: str | os.PathLike[str]) -> Trace:
    """Read a trace file: stbass JSON lines, OTLP JSON or Jaeger JSON.

    The format is recognised from the content (see the module docstring).
    Raises :class:`TraceFileError` naming the line and what was wrong when the
    file is missing, empty, or has a line that is not a span.

    >>> # trace = load_trace("build/trace.jsonl"); print(len(trace.processes))
    """
    try:
        fh = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise TraceFileError(path, None, "no such file") from None
    except IsADirectoryError:
        raise TraceFileError(path, None, "is a directory, not a trace file") from None
    except OSError as exc:
        raise TraceFileError(path, None, f"cannot open: {exc.strerror or exc}") from None
    with fh:
        try:
            text = fh.read()
        except UnicodeDecodeError as exc:
            raise TraceFileError(path, None, f"not a text file ({exc.reason})") from None
    records = _parse_trace_text(path, text)
    if not records:
        raise TraceFileError(path, None, "empty trace file (no spans)")
    return Trace(records)


def _parse_trace_text(path: str | os.PathLike[str], text: str) -> list[SpanRecord]:
    lines = text.splitlines()
    first_no, first = next(((n, ln.strip()) for n, ln in enumerate(lines, 1) if ln.strip()), (0, ""))
    if not first:
        return []
    try:
        head: Any = json.loads(first)
    except json.JSONDecodeError:
        head = None
    if head is None and first.startswith(("{", "[")):  # maybe one pretty-printed document
        try:
            head = json.loads(text)
        except json.JSONDecodeError:
            head = None
        else:
            return _parse_document(path, None, head)
    if isinstance(head, dict) and ("resourceSpans" in head or "data" in head) and "span_id" not in head:
        if first_no and sum(1 for ln in lines if ln.strip()) == 1:
            return _parse_document(path, first_no, head)
        records: list[SpanRecord] = []
        for lineno, line in enumerate(lines, start=1):  # OTLP JSON lines: one request per line
            if line.strip():
                records.extend(_parse_document(path, lineno, _json_line(path, lineno, line)))
        return records
    records = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(SpanRecord.from_json(_json_line(path, lineno, line)))
        except ValueError as exc:
            if isinstance(exc, TraceFileError):
                raise
            raise TraceFileError(path, lineno, str(exc)) from None
    return records


def _json_line(path: str | os.PathLike[str], lineno: int, line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise TraceFileError(path, lineno, f"invalid JSON ({exc.msg} at column {exc.colno})") from None


def _parse_document(path: str | os.PathLike[str], lineno: int | None, doc: Any) -> list[SpanRecord]:
    try:
        if isinstance(doc, dict) and "resourceSpans" in doc:
            return spans_from_otlp_json(doc)
        if isinstance(doc, dict) and "data" in doc:
            return spans_from_jaeger_json(doc)
    except ValueError as exc:
        raise TraceFileError(path, lineno, str(exc)) from None
    raise TraceFileError(
        path, lineno, "not a trace: expected stbass JSON lines, OTLP JSON ('resourceSpans') or Jaeger JSON ('data')"
    )


# --------------------------------------------------------------------------- OTLP

_OTLP_KINDS = {0: "INTERNAL", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_OTLP_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def _enum(value: Any, table: dict[int, str], prefix: str, what: str) -> str:
    if value is None:
        return table[0]
    if isinstance(value, int) and not isinstance(value, bool) and value in table:
        return table[value]
    if isinstance(value, str):  # protobuf's JSON mapping also allows the enum names
        name = value.removeprefix(prefix)
        if name in table.values():
            return name
        if name == "UNSPECIFIED":
            return table[0]
    raise ValueError(f"'{what}' must be one of {sorted(table)}, got {value!r}")


def _otlp_id(value: Any, width: int, what: str, *, optional: bool = False) -> str | None:
    """A hex id from OTLP JSON (hex per the OTLP spec; base64 accepted, as protobuf's own mapping writes)."""
    if value in (None, "") and optional:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if len(text) == width:
            try:
                int(text, 16)
                if int(text, 16) == 0 and optional:
                    return None
                return text
            except ValueError:
                pass
        try:
            raw = base64.b64decode(value, validate=True)
        except ValueError:
            raw = b""
        if len(raw) * 2 == width:
            return raw.hex()
    raise ValueError(f"'{what}' must be {width} hex digits, got {value!r}")


def _nanos(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"'{what}' must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if value is None:
        return 0
    raise ValueError(f"'{what}' must be an integer (nanoseconds), got {value!r}")


def _any_value(v: Any) -> Any:
    if not isinstance(v, dict):
        return _jsonable(v)
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return bool(v["boolValue"])
    if "intValue" in v:
        try:
            return int(v["intValue"])
        except (TypeError, ValueError):
            return str(v["intValue"])
    if "doubleValue" in v:
        d = v["doubleValue"]
        return float(d) if isinstance(d, (int, float, str)) else str(d)
    if "arrayValue" in v:
        return [_any_value(x) for x in (v["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in v:
        return json.dumps(_kv_json((v["kvlistValue"] or {}).get("values", []), "kvlistValue"), sort_keys=True)
    if "bytesValue" in v:
        return str(v["bytesValue"])
    return None


def _kv_json(items: Any, what: str) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise ValueError(f"'{what}' must be a list of {{key, value}} objects")
    out: dict[str, Any] = {}
    for kv in items:
        if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
            raise ValueError(f"'{what}' must be a list of {{key, value}} objects")
        out[kv["key"]] = _any_value(kv.get("value"))
    return out


def spans_from_otlp_json(doc: Any) -> list[SpanRecord]:
    """The spans of one OTLP/JSON ``ExportTraceServiceRequest`` (``{"resourceSpans": [...]}``).

    Ids are hex strings (the OTLP/JSON rule), times nanoseconds (numbers or
    strings), ``kind`` and ``status.code`` integers (or enum names). Raises
    ``ValueError`` saying what is wrong.

    >>> doc = {"resourceSpans": [{"resource": {"attributes": [
    ...     {"key": "service.name", "value": {"stringValue": "shop"}}]},
    ...     "scopeSpans": [{"spans": [{"traceId": "a" * 32, "spanId": "b" * 16, "name": "GET /",
    ...     "kind": 2, "startTimeUnixNano": "1000", "endTimeUnixNano": "3000"}]}]}]}
    >>> [(s.name, s.kind, s.duration_ns, s.resource["service.name"]) for s in spans_from_otlp_json(doc)]
    [('GET /', 'SERVER', 2000, 'shop')]
    """
    if not isinstance(doc, dict):
        raise ValueError(f"expected an OTLP JSON object, got {type(doc).__name__}")
    out: list[SpanRecord] = []
    for rs in _list(doc, "resourceSpans"):
        if not isinstance(rs, dict):
            raise ValueError("'resourceSpans' must be a list of objects")
        resource = _kv_json((rs.get("resource") or {}).get("attributes"), "resource.attributes")
        for ss in _list(rs, "scopeSpans") + _list(rs, "instrumentationLibrarySpans"):
            if not isinstance(ss, dict):
                raise ValueError("'scopeSpans' must be a list of objects")
            scope = ss.get("scope") or ss.get("instrumentationLibrary") or {}
            for sp in _list(ss, "spans"):
                out.append(_otlp_json_span(sp, resource, scope))
    return out


def _otlp_json_span(sp: Any, resource: dict[str, Any], scope: Any) -> SpanRecord:
    if not isinstance(sp, dict) or not isinstance(sp.get("name"), str):
        raise ValueError("each span must be an object with a string 'name'")
    trace_id = _otlp_id(sp.get("traceId"), 32, "traceId")
    assert trace_id is not None
    span_id = _otlp_id(sp.get("spanId"), 16, "spanId")
    assert span_id is not None
    start = _nanos(sp.get("startTimeUnixNano"), "startTimeUnixNano")
    end = _nanos(sp.get("endTimeUnixNano"), "endTimeUnixNano") or start
    status = sp.get("status") or {}
    if not isinstance(status, dict):
        raise ValueError("'status' must be an object")
    events = []
    for ev in _list(sp, "events"):
        if not isinstance(ev, dict):
            raise ValueError("'events' must be a list of objects")
        events.append(EventRecord(str(ev.get("name", "")), _nanos(ev.get("timeUnixNano"), "timeUnixNano") or start,
                                  _kv_json(ev.get("attributes"), "events.attributes")))
    links = []
    for lk in _list(sp, "links"):
        if not isinstance(lk, dict):
            raise ValueError("'links' must be a list of objects")
        lt = _otlp_id(lk.get("traceId"), 32, "links.traceId")
        ls = _otlp_id(lk.get("spanId"), 16, "links.spanId")
        assert lt is not None and ls is not None
        links.append(LinkRecord(lt, ls, _kv_json(lk.get("attributes"), "links.attributes")))
    return SpanRecord(
        name=sp["name"],
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=_otlp_id(sp.get("parentSpanId"), 16, "parentSpanId", optional=True),
        start_time_ns=start,
        end_time_ns=end,
        kind=_enum(sp.get("kind"), _OTLP_KINDS, "SPAN_KIND_", "kind"),
        attributes=_kv_json(sp.get("attributes"), "attributes"),
        events=tuple(events),
        links=tuple(links),
        status_code=_enum(status.get("code"), _OTLP_STATUS, "STATUS_CODE_", "status.code"),
        status_description=status.get("message") or None,
        resource=resource,
        scope_name=scope.get("name") or None if isinstance(scope, dict) else None,
        scope_version=scope.get("version") or None if isinstance(scope, dict) else None,
    )


def _proto_value(v: Any) -> Any:
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_proto_value(x) for x in v.array_value.values]
    if which == "kvlist_value":
        return json.dumps({kv.key: _proto_value(kv.value) for kv in v.kvlist_value.values}, sort_keys=True)
    if which == "bytes_value":
        return v.bytes_value.hex()
    return getattr(v, which)


def _proto_attrs(items: Any) -> dict[str, Any]:
    return {kv.key: _proto_value(kv.value) for kv in items}


def spans_from_otlp_proto(body: bytes) -> list[SpanRecord]:
    """The spans of one OTLP/protobuf ``ExportTraceServiceRequest`` (what OTLP/HTTP exporters POST).

    Raises ``ValueError`` when *body* is not such a message (needs
    ``opentelemetry-proto``, which the ``tracing`` extra installs).

    >>> spans_from_otlp_proto(b"")
    []
    """
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, RuntimeWarning) as exc:
        raise ValueError(f"not an OTLP ExportTraceServiceRequest (protobuf): {exc}") from None
    out: list[SpanRecord] = []
    for rs in request.resource_spans:
        resource = _proto_attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for sp in ss.spans:
                if len(sp.trace_id) != 16 or len(sp.span_id) != 8:
                    raise ValueError(
                        f"span {sp.name!r}: trace_id must be 16 bytes and span_id 8 bytes, "
                        f"got {len(sp.trace_id)} and {len(sp.span_id)}"
                    )
                start = int(sp.start_time_unix_nano)
                out.append(
                    SpanRecord(
                        name=sp.name,
                        trace_id=sp.trace_id.hex(),
                        span_id=sp.span_id.hex(),
                        parent_span_id=sp.parent_span_id.hex() if len(sp.parent_span_id) == 8 else None,
                        start_time_ns=start,
                        end_time_ns=int(sp.end_time_unix_nano) or start,
                        kind=_OTLP_KINDS.get(int(sp.kind), "INTERNAL"),
                        attributes=_proto_attrs(sp.attributes),
                        events=tuple(
                            EventRecord(e.name, int(e.time_unix_nano) or start, _proto_attrs(e.attributes))
                            for e in sp.events
                        ),
                        links=tuple(
                            LinkRecord(lk.trace_id.hex(), lk.span_id.hex(), _proto_attrs(lk.attributes))
                            for lk in sp.links
                            if len(lk.trace_id) == 16 and len(lk.span_id) == 8
                        ),
                        status_code=_OTLP_STATUS.get(int(sp.status.code), "UNSET"),
                        status_description=sp.status.message or None,
                        resource=resource,
                        scope_name=ss.scope.name or None,
                        scope_version=ss.scope.version or None,
                    )
                )
    return out


# ------------------------------------------------------------------------- Jaeger

_JAEGER_KINDS = {"server": "SERVER", "client": "CLIENT", "producer": "PRODUCER", "consumer": "CONSUMER",
                 "internal": "INTERNAL"}


def _jaeger_tags(items: Any, what: str) -> dict[str, Any]:
    if items is None:
        return {}
    if not isinstance(items, list):
        raise ValueError(f"'{what}' must be a list of {{key, type, value}} objects")
    out: dict[str, Any] = {}
    for t in items:
        if not isinstance(t, dict) or not isinstance(t.get("key"), str):
            raise ValueError(f"'{what}' must be a list of {{key, type, value}} objects")
        out[t["key"]] = _jsonable(t.get("value"))
    return out


def _jaeger_id(value: Any, width: int, what: str) -> str:
    if isinstance(value, str) and 0 < len(value) <= width:
        try:
            int(value, 16)
        except ValueError:
            pass
        else:
            return value.lower().rjust(width, "0")  # Jaeger drops leading zeros and may use 64-bit trace ids
    raise ValueError(f"'{what}' must be up to {width} hex digits, got {value!r}")


def _micros(value: Any, what: str) -> int:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value * 1000)
    raise ValueError(f"'{what}' must be a number (microseconds), got {value!r}")


def spans_from_jaeger_json(doc: Any) -> list[SpanRecord]:
    """The spans of a Jaeger JSON document (``{"data": [{"traceID", "spans", "processes"}]}``).

    Times are microseconds; ``span.kind``, ``otel.status_code``/``error`` and
    ``otel.scope.name`` tags become the kind, status and scope again; the first
    ``CHILD_OF`` reference is the parent and the other references are links.
    Raises ``ValueError`` saying what is wrong.

    >>> doc = {"data": [{"traceID": "ab", "processes": {"p1": {"serviceName": "shop"}},
    ...         "spans": [{"traceID": "ab", "spanID": "1", "operationName": "GET /",
    ...                    "startTime": 5, "duration": 2, "processID": "p1",
    ...                    "tags": [{"key": "span.kind", "type": "string", "value": "server"}]}]}]}
    >>> [(s.name, s.kind, s.duration_ns, s.trace_id[-2:]) for s in spans_from_jaeger_json(doc)]
    [('GET /', 'SERVER', 2000, 'ab')]
    """
    if not isinstance(doc, dict):
        raise ValueError(f"expected a Jaeger JSON object, got {type(doc).__name__}")
    out: list[SpanRecord] = []
    for i, tr in enumerate(_list(doc, "data")):
        if not isinstance(tr, dict):
            raise ValueError(f"data[{i}] must be an object with 'spans'")
        processes = _mapping(tr, "processes")
        for j, sp in enumerate(_list(tr, "spans")):
            if not isinstance(sp, dict) or not isinstance(sp.get("operationName"), str):
                raise ValueError(f"data[{i}].spans[{j}] must be an object with a string 'operationName'")
            tags = _jaeger_tags(sp.get("tags"), "tags")
            kind = _JAEGER_KINDS.get(str(tags.pop("span.kind", "internal")).lower(), "INTERNAL")
            status = str(tags.pop("otel.status_code", "UNSET")).upper()
            is_error = tags.pop("error", False) in (True, "true")
            if status not in _STATUS:
                status = "UNSET"
            if is_error:
                status = "ERROR"
            description = tags.pop("otel.status_description", None)
            scope_name = tags.pop("otel.scope.name", None) or tags.pop("otel.library.name", None)
            scope_version = tags.pop("otel.scope.version", None) or tags.pop("otel.library.version", None)
            trace_id = _jaeger_id(sp.get("traceID", tr.get("traceID")), 32, "traceID")
            parent: str | None = None
            links: list[LinkRecord] = []
            for ref in _list(sp, "references"):
                if not isinstance(ref, dict):
                    raise ValueError("'references' must be a list of objects")
                rt = _jaeger_id(ref.get("traceID", trace_id), 32, "references.traceID")
                rs = _jaeger_id(ref.get("spanID"), 16, "references.spanID")
                if parent is None and ref.get("refType", "CHILD_OF") == "CHILD_OF" and rt == trace_id:
                    parent = rs
                else:
                    links.append(LinkRecord(rt, rs))
            if parent is None and sp.get("parentSpanID"):
                parent = _jaeger_id(sp.get("parentSpanID"), 16, "parentSpanID")
            events = []
            for log in _list(sp, "logs"):
                if not isinstance(log, dict):
                    raise ValueError("'logs' must be a list of objects")
                fields = _jaeger_tags(log.get("fields"), "logs.fields")
                name = str(fields.pop("event") if "event" in fields else fields.pop("message", "log"))
                events.append(EventRecord(name, _micros(log.get("timestamp", 0), "logs.timestamp"), fields))
            pid = sp.get("processID")
            proc = processes.get(pid) if isinstance(pid, str) else None
            resource: dict[str, Any] = {}
            if isinstance(proc, dict):
                resource = _jaeger_tags(proc.get("tags"), "processes.tags")
                if proc.get("serviceName"):
                    resource["service.name"] = str(proc["serviceName"])
            start = _micros(sp.get("startTime"), "startTime")
            out.append(
                SpanRecord(
                    name=sp["operationName"],
                    trace_id=trace_id,
                    span_id=_jaeger_id(sp.get("spanID"), 16, "spanID"),
                    parent_span_id=parent,
                    start_time_ns=start,
                    end_time_ns=start + _micros(sp.get("duration", 0), "duration"),
                    kind=kind,
                    attributes=tags,
                    events=tuple(events),
                    links=tuple(links),
                    status_code=status,
                    status_description=str(description) if description else None,
                    resource=resource,
                    scope_name=str(scope_name) if scope_name else None,
                    scope_version=str(scope_version) if scope_version else None,
                )
            )
    return out
