"""Lanes for a trace: which row each span is drawn on.

Rows follow the composition tree: a composition span (``PAR``, ``SEQ``, ...)
is a collapsible group row, a ``process <name>`` span is a lane, and every other
span (``send``/``recv``/``ALT``, user spans) is drawn inside the lane of the
nearest process or composition above it. A non-stbass span that has processes
below it (say a user's own root span) becomes a group row too; spans with no
row above them share one "(outside processes)" row per trace.

Both the HTML viewer and the Perfetto export use this layout, so one process is
one lane (one Perfetto track) everywhere.
"""

from __future__ import annotations

from typing import Any
from dataclasses import dataclass, field

from stbass import _names as N

from ._model import SpanRecord, Trace

__all__ = ("Layout", "Row", "layout_trace")


@dataclass(slots=True)
class Row:
    """One lane of the timeline: the span that owns it (``kind`` ``"composition"``
    or ``"process"``; ``"group"`` and ``"orphans"`` lanes have none), its parent
    lane, nesting ``depth``, ``label``, and the spans drawn on it (``items``).

    >>> from stbass_tracing import SpanRecord, Trace, layout_trace
    >>> t = Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10,
    ...                       attributes={"stbass.composition": "PAR"}),
    ...            SpanRecord("process fetch", "a" * 32, "c" * 16, "b" * 16, 1, 9,
    ...                       attributes={"stbass.process.name": "fetch"})])
    >>> [(row.label, row.kind, row.depth, row.parent) for row in layout_trace(t).rows]
    [('PAR', 'composition', 0, None), ('fetch', 'process', 1, 0)]
    """

    index: int
    id: str
    parent: int | None
    depth: int
    kind: str  # "composition" | "process" | "group" | "orphans"
    label: str
    trace_id: str
    span: SpanRecord | None
    items: list[SpanRecord] = field(default_factory=list)


@dataclass(slots=True)
class Layout:
    """Rows, the row and nesting level of each span, and the message arrows
    (what :func:`layout_trace` returns and the HTML viewer draws).

    >>> from stbass_tracing import SpanRecord, Trace, layout_trace
    >>> t = Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10,
    ...                       attributes={"stbass.composition": "PAR"}),
    ...            SpanRecord("process fetch", "a" * 32, "c" * 16, "b" * 16, 1, 9,
    ...                       attributes={"stbass.process.name": "fetch"})])
    >>> layout = layout_trace(t)
    >>> layout.row_of["c" * 16], [row.label for row in layout.process_rows], layout.arrows
    (1, ['fetch'], [])
    """

    trace: Trace
    rows: list[Row]
    row_of: dict[str, int]
    level_of: dict[str, int]
    arrows: list[tuple[str, str]]  # (send span id, recv span id)

    @property
    def process_rows(self) -> list[Row]:
        """The lanes that belong to a process span."""
        return [r for r in self.rows if r.kind == "process"]


def row_label(span: SpanRecord) -> str:
    """The text shown for a row owned by *span*."""
    cat = span.category
    if cat == "process":
        return str(span.attributes.get(N.PROCESS_NAME, span.name[len(N.SPAN_PROCESS_PREFIX):]))
    if cat == "composition":
        attrs = span.attributes
        children = attrs.get(N.CHILDREN)
        label = f"{span.name} ({children})" if isinstance(children, int) else span.name
        return label + _decision(attrs)
    return span.name


def _decision(attrs: Any) -> str:
    """What a choice composition decided, for its row label: `` winner 1``,
    `` winners 2,0``, `` branch 0``, `` 3 iterations``."""
    if N.WINNER in attrs:
        return f" winner {attrs[N.WINNER]}"
    if N.WINNERS in attrs:
        return " winners " + ",".join(str(w) for w in attrs[N.WINNERS])
    if N.BRANCH in attrs:
        return f" branch {attrs[N.BRANCH]}"
    if N.ITERATIONS in attrs:
        return f" {attrs[N.ITERATIONS]} iterations"
    return ""


def layout_trace(trace: Trace) -> Layout:
    """Assign every span of *trace* to a row (see the module docstring).

    >>> from stbass_tracing._model import SpanRecord, Trace
    >>> t = Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10,
    ...            attributes={"stbass.composition": "PAR"})])
    >>> [r.label for r in layout_trace(t).rows]
    ['PAR']
    """
    # which spans own a row: compositions, processes, and anything with one below it
    owns_row: dict[str, bool] = {}
    order: list[SpanRecord] = []
    stack: list[SpanRecord] = list(reversed(trace.roots))
    while stack:  # preorder, iterative (deep nesting must not hit the recursion limit)
        s = stack.pop()
        order.append(s)
        stack.extend(reversed(trace.children.get(s.span_id, [])))
    for s in reversed(order):  # children before parents
        own = s.category in ("composition", "process")
        if not own:
            own = any(owns_row[c.span_id] for c in trace.children.get(s.span_id, []))
        owns_row[s.span_id] = own

    rows: list[Row] = []
    row_of: dict[str, int] = {}
    level_of: dict[str, int] = {}
    orphan_rows: dict[str, int] = {}

    # (span, row index of the enclosing row or None, level below that row's owner)
    work: list[tuple[SpanRecord, int | None, int]] = [(s, None, 0) for s in reversed(trace.roots)]
    while work:
        s, parent_row, level = work.pop()
        if owns_row[s.span_id]:
            cat = s.category
            kind = cat if cat in ("composition", "process") else "group"
            depth = 0 if parent_row is None else rows[parent_row].depth + 1
            row = Row(len(rows), s.span_id, parent_row, depth, kind, row_label(s), s.trace_id, s)
            row.items.append(s)
            rows.append(row)
            here, child_level = row.index, 1
            level_of[s.span_id] = 0
        else:
            if parent_row is None:
                key = s.trace_id
                if key not in orphan_rows:
                    orphan_rows[key] = len(rows)
                    rows.append(
                        Row(len(rows), f"orphans-{key}", None, 0, "orphans", "(outside processes)", key, None)
                    )
                parent_row = orphan_rows[key]
                level = max(level, 1)
            rows[parent_row].items.append(s)
            level_of[s.span_id] = level
            here, child_level = parent_row, level + 1
        row_of[s.span_id] = here
        for c in reversed(trace.children.get(s.span_id, [])):
            work.append((c, here, child_level))

    arrows = [(m.send.span_id, m.recv.span_id) for m in trace.messages]
    return Layout(trace, rows, row_of, level_of, arrows)
