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
"""

from __future__ import annotations

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
        return "other"

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
    """Read a trace file written by the ``file`` exporter.

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
    records: list[SpanRecord] = []
    with fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                text = line.strip()
                if not text:
                    continue
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise TraceFileError(
                        path, lineno, f"invalid JSON ({exc.msg} at column {exc.colno})"
                    ) from None
                try:
                    records.append(SpanRecord.from_json(obj))
                except ValueError as exc:
                    raise TraceFileError(path, lineno, str(exc)) from None
        except UnicodeDecodeError as exc:
            raise TraceFileError(path, None, f"not a text file ({exc.reason})") from None
    if not records:
        raise TraceFileError(path, None, "empty trace file (no spans)")
    return Trace(records)

