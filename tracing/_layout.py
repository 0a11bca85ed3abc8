"""Lanes for a trace: which row each span is drawn on.

Rows follow the composition tree: a composition span (``PAR``, ``SEQ``, ...)
is a collapsible group row, a ``process <name>`` span is a lane, and every other
span (``send``/``recv``/``ALT``, user spans) is drawn inside the lane of the
nearest process or composition above it. A non-stbass span that has processes
below it (say a user's own root span) becomes a group row too; spans with no
row above them share one "(outside processes)" row per trace.

Sibling lanes come in declaration order when the spans say it: by a child index
attribute (``stbass.child.index`` and the like, see ``INDEX_KEYS``) when every
sibling has one, else by the replica index of names like ``worker[12]`` when the
siblings are replicas of one process; otherwise in start order (on trio,
which starts tasks in its own order, that is not always the declaration order).

Both the HTML viewer and the Perfetto export use this layout, so one process is
one lane (one Perfetto track) everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stbass import _names as N

from ._model import SpanRecord, Trace

__all__ = ("INDEX_KEYS", "Layout", "Row", "layout_trace")

#: Attributes that give a child's position among its siblings, first found wins.
INDEX_KEYS = ("stbass.child.index", "stbass.process.index", "stbass.replica.index", "stbass.index")
_REPLICA = re.compile(r"^(.*)\[(\d+)\]$")


def _index_of(span: SpanRecord) -> int | None:
    for key in INDEX_KEYS:
        value = span.attributes.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def declaration_order(children: list[SpanRecord]) -> list[SpanRecord]:
    """*children* (in start order) in declaration order when their spans tell it.

    >>> kids = [SpanRecord(f"process w[{i}]", "a" * 32, format(i + 1, "016x"), None, 9 - i, 10)
    ...         for i in range(3)]
    >>> [s.name for s in declaration_order(sorted(kids, key=lambda s: s.start_time_ns))]
    ['process w[0]', 'process w[1]', 'process w[2]']
    """
    if len(children) < 2:
        return children
    indexes = [_index_of(c) for c in children]
    if all(i is not None for i in indexes):
        order = sorted(range(len(children)), key=lambda k: (indexes[k], k))
        return [children[k] for k in order]
    matches = [_REPLICA.match(c.name) for c in children]
    if all(m is not None for m in matches) and len({m.group(1) for m in matches if m}) == 1:
        return sorted(children, key=lambda c: int(_REPLICA.match(c.name).group(2)))  # type: ignore[union-attr]
    return children


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
        task = attrs.get(N.DAG_TASK)  # a DAG task that is a composition
        if isinstance(task, str):
            label = f"{task}: {label}"
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
    orphan_rows: dict[tuple[str, str, int], int] = {}

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
        elif parent_row is None or rows[parent_row].kind == "orphans":
            # outside every process: plain lanes, one per service and nesting depth
            depth = 0 if parent_row is None else rows[parent_row].depth + 1
            service = str(s.resource.get("service.name") or "(outside processes)")
            key = (s.trace_id, service, depth)
            if key not in orphan_rows:
                label = service if depth == 0 else f"{service} › {depth + 1}"
                rid = f"orphans-{s.trace_id}-{len(orphan_rows)}"
                orphan_rows[key] = len(rows)
                rows.append(Row(len(rows), rid, parent_row, depth, "orphans", label, s.trace_id, None))
            here, child_level = orphan_rows[key], 1
            rows[here].items.append(s)
            level_of[s.span_id] = 0
        else:
            rows[parent_row].items.append(s)
            level_of[s.span_id] = level
            here, child_level = parent_row, level + 1
        row_of[s.span_id] = here
        kids = trace.children.get(s.span_id, [])
        owners = [c for c in kids if owns_row[c.span_id]]
        if len(owners) > 1:
            kids = [c for c in kids if not owns_row[c.span_id]] + declaration_order(owners)
        for c in reversed(kids):
            work.append((c, here, child_level))

    arrows = [(m.send.span_id, m.recv.span_id) for m in trace.messages]
    return Layout(trace, rows, row_of, level_of, arrows)
