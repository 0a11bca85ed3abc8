"""Exports of a trace for other viewers: Jaeger UI's JSON upload and Perfetto.

* :func:`to_jaeger` gives the document Jaeger UI's "JSON File" upload (search
  page) accepts: ``{"data": [{"traceID", "spans", "processes"}]}``, one entry per
  trace, span links as ``FOLLOWS_FROM`` references.
* :func:`to_perfetto` gives Chrome-trace JSON (``chrome://tracing``, Perfetto UI):
  one complete (``"X"``) event per span, one track per lane of the HTML viewer,
  and a flow (``"s"`` → ``"f"``) from each ``send`` to the ``recv`` it matched.
  Slices on one track nest strictly (Perfetto drops a slice that overlaps
  another partly, and its flow arrows with it): a span that would overlap is
  put on an extra track of the same lane (``"lane (2)"``).
"""

from __future__ import annotations

import json
from typing import Any

from ._layout import layout_trace
from ._model import SpanRecord, Trace

__all__ = ("to_jaeger", "to_perfetto")


def _tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, str):
        return {"key": key, "type": "string", "value": value}
    return {"key": key, "type": "string", "value": json.dumps(value)}


def _us(ns: int) -> int:
    return ns // 1000


def to_jaeger(trace: Trace) -> dict[str, Any]:
    """The trace as Jaeger UI's JSON upload format.

    >>> doc = to_jaeger(Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 5000)]))
    >>> doc["data"][0]["spans"][0]["operationName"], doc["data"][0]["spans"][0]["duration"]
    ('PAR', 5)
    """
    data = []
    for trace_id in trace.trace_ids:
        processes: dict[str, dict[str, Any]] = {}
        process_ids: dict[str, str] = {}
        spans = []
        for s in trace.spans:
            if s.trace_id != trace_id:
                continue
            key = json.dumps(s.resource, sort_keys=True)
            if key not in process_ids:
                pid = f"p{len(process_ids) + 1}"
                process_ids[key] = pid
                processes[pid] = {
                    "serviceName": str(s.resource.get("service.name", "stbass")),
                    "tags": [_tag(k, v) for k, v in s.resource.items() if k != "service.name"],
                }
            refs = []
            if s.parent_span_id is not None:
                refs.append({"refType": "CHILD_OF", "traceID": s.trace_id, "spanID": s.parent_span_id})
            for link in s.links:
                refs.append({"refType": "FOLLOWS_FROM", "traceID": link.trace_id, "spanID": link.span_id})
            tags = [_tag(k, v) for k, v in s.attributes.items()]
            tags.append(_tag("span.kind", s.kind.lower()))
            if s.status_code != "UNSET":
                tags.append(_tag("otel.status_code", s.status_code))
            if s.status_description:
                tags.append(_tag("otel.status_description", s.status_description))
            if s.is_error:
                tags.append(_tag("error", True))
            if s.scope_name:
                tags.append(_tag("otel.scope.name", s.scope_name))
            if s.scope_version:
                tags.append(_tag("otel.scope.version", s.scope_version))
            logs = [
                {
                    "timestamp": _us(e.time_ns),
                    "fields": [_tag("event", e.name)] + [_tag(k, v) for k, v in e.attributes.items()],
                }
                for e in s.events
            ]
            spans.append(
                {
                    "traceID": s.trace_id,
                    "spanID": s.span_id,
                    "flags": 1,
                    "operationName": s.name,
                    "references": refs,
                    "startTime": _us(s.start_time_ns),
                    "duration": _us(s.duration_ns),
                    "tags": tags,
                    "logs": logs,
                    "processID": process_ids[key],
                    "warnings": None,
                }
            )
        data.append({"traceID": trace_id, "spans": spans, "processes": processes, "warnings": None})
    return {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": None}


def _args(s: SpanRecord) -> dict[str, Any]:
    args: dict[str, Any] = dict(s.attributes)
    args["span_id"] = s.span_id
    if s.parent_span_id:
        args["parent_span_id"] = s.parent_span_id
    if s.status_code != "UNSET":
        args["status"] = s.status_code + (f": {s.status_description}" if s.status_description else "")
    return args


def _nested_tracks(items: list[SpanRecord]) -> list[list[SpanRecord]]:
    """Split one lane's spans into tracks on which every two slices are
    either disjoint or one inside the other (first track first)."""
    tracks: list[tuple[list[SpanRecord], list[int]]] = []  # spans, stack of open end times
    for s in sorted(items, key=lambda s: (s.start_time_ns, -s.end_time_ns)):
        for spans, stack in tracks:
            while stack and stack[-1] <= s.start_time_ns:
                stack.pop()
            if not stack or s.end_time_ns <= stack[-1]:
                spans.append(s)
                stack.append(s.end_time_ns)
                break
        else:
            tracks.append(([s], [s.end_time_ns]))
    return [spans for spans, _ in tracks] or [[]]


def to_perfetto(trace: Trace) -> dict[str, Any]:
    """The trace as Chrome-trace JSON for Perfetto UI or ``chrome://tracing``.

    >>> doc = to_perfetto(Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 5000)]))
    >>> [e["ph"] for e in doc["traceEvents"]]
    ['M', 'M', 'M', 'X']
    """
    layout = layout_trace(trace)
    t0 = trace.start_ns
    pids = {tid: i + 1 for i, tid in enumerate(trace.trace_ids)}
    events: list[dict[str, Any]] = []

    def ts(ns: int) -> float:
        return (ns - t0) / 1000.0

    for trace_id, pid in pids.items():
        service = next(
            (str(s.resource.get("service.name", "stbass")) for s in trace.spans if s.trace_id == trace_id),
            "stbass",
        )
        events.append(
            {"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
             "args": {"name": f"{service} trace {trace_id[:8]}"}}
        )
    tid_of: dict[str, int] = {}
    next_tid = len(layout.rows) + 1  # extra tracks come after the lanes
    for row in layout.rows:
        pid = pids[row.trace_id]
        for k, spans in enumerate(_nested_tracks(list(row.items))):
            if k == 0:
                tid, label = row.index + 1, row.label
            else:
                tid, label = next_tid, f"{row.label} ({k + 1})"
                next_tid += 1
            events.append(
                {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                 "args": {"name": "  " * row.depth + label}}
            )
            events.append(
                {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                 "args": {"sort_index": (row.index + 1) * 1000 + k}}
            )
            for s in spans:
                tid_of[s.span_id] = tid
                events.append(
                    {
                        "ph": "X",
                        "name": s.name,
                        "cat": s.category,
                        "pid": pid,
                        "tid": tid,
                        "ts": ts(s.start_time_ns),
                        "dur": s.duration_ns / 1000.0,
                        "args": _args(s),
                    }
                )
                for e in s.events:
                    events.append(
                        {"ph": "i", "s": "t", "name": e.name, "cat": "event", "pid": pid,
                         "tid": tid, "ts": ts(e.time_ns), "args": dict(e.attributes)}
                    )
    for i, (send_id, recv_id) in enumerate(layout.arrows, start=1):
        send = trace.by_id[send_id]
        recv = trace.by_id[recv_id]
        channel = str(recv.attributes.get("stbass.channel.name", recv.name))
        events.append(
            {"ph": "s", "id": i, "name": f"message {channel}", "cat": "message",
             "pid": pids[send.trace_id], "tid": tid_of[send_id],
             "ts": ts(max(send.start_time_ns, send.end_time_ns - 1))}
        )
        events.append(
            {"ph": "f", "bp": "e", "id": i, "name": f"message {channel}", "cat": "message",
             "pid": pids[recv.trace_id], "tid": tid_of[recv_id],
             "ts": ts(max(recv.start_time_ns, recv.end_time_ns - 1))}
        )
    return {"traceEvents": events, "displayTimeUnit": "ns"}
