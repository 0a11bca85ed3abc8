"""The HTML viewer: one self-contained file per trace, no network needed.

:func:`render_html` embeds the trace (compact, columnar JSON: see
:func:`page_data`), the stylesheet and the script (``assets/viewer.css`` and
``assets/viewer.js``) into one page. The page draws on a ``<canvas>``, painting
only the spans in view (found by binary search), so 100,000 spans stay smooth; it
has an overview strip, search and deep links (``#q=...``, ``#span=<id>``),
next/previous failure, send/recv pairing, hidden SEQ plumbing, a DAG's
dependency edges, deadlock markers naming the cycle and a replay of the run
event by event. It keeps a hidden DOM index that tools and tests can query:
``#lane-index [data-lane]`` (one per lane, with ``data-kind``,
``data-depth``, ``data-status``, ``data-cancelled``), ``#arrow-index
[data-arrow]`` (one per message, ``data-from``/``data-to`` span ids) and
``#marker-index [data-marker]`` (ALT decisions, timer expiries, exceptions,
deadlocks) and ``#edge-index [data-edge]`` (one per DAG dependency edge,
``data-from``/``data-to`` span ids).
``<body data-ready="true" data-render-ms="...">`` once the first frame is drawn
and the index built. With ``live=`` (``stbass-trace serve``) the page polls its
server and redraws as the trace grows.
"""

from __future__ import annotations

import html
import json
import math
import os
from functools import cache
from importlib import resources
from typing import Any

from stbass import _names as N

from ._layout import Layout, layout_trace
from ._model import EventRecord, SpanRecord, Trace, trace_from_spans

__all__ = ("page_data", "render_html", "write_html")

_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


@cache
def _asset(name: str) -> str:
    return (resources.files(__package__) / "assets" / name).read_text(encoding="utf-8")


def _fmt_duration(ns: int) -> str:
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.3f} s"
    if ns >= 1_000_000:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns} ns"


def _alt_choice(s: SpanRecord) -> str | None:
    a = s.attributes
    name = a.get(N.ALT_CHOSEN_NAME)
    kind = a.get(N.ALT_CHOSEN_KIND)
    index = a.get(N.ALT_CHOSEN)
    if name is None and kind is None and index is None:
        return None
    text = str(kind or "guard")
    if name is not None:
        text += f" {name}"
    if index is not None:
        text += f" [{index}]"
    return text


_CATS = ("composition", "process", "send", "recv", "alt", "other")
_KINDS = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
_ROW_KINDS = ("composition", "process", "group", "orphans")
_CAT_CODE = {c: i for i, c in enumerate(_CATS)}
_KIND_CODE = {k: i for i, k in enumerate(_KINDS)}
FLAG_CANCELLED = 4
FLAG_PLUMBING = 8

# what deadlock detection records (stbass._compose._deadlock): an event on the
# composition's span naming the blocked processes and the cycle
EVENT_DEADLOCK = "deadlock"
DEADLOCK_CYCLE = "deadlock.cycle"
DEADLOCK_PROCESSES = "deadlock.processes"


class _Table:
    """Distinct values (strings, numbers, ...) once each; spans refer to them by index."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._index: dict[tuple[str, Any], int] = {}

    def __call__(self, value: Any) -> int:
        try:
            return self._index[(value.__class__, value)]
        except (KeyError, TypeError):
            pass
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)  # JSON has no NaN/Infinity
        try:
            key: tuple[Any, Any] = (value.__class__, value)
            hash(key)
        except TypeError:  # lists and the like
            key = (value.__class__, json.dumps(value, sort_keys=True, default=str))
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.values)
            self.values.append(value)
        return found


def _task_of(span: SpanRecord) -> str | None:
    """The DAG task a child span of a ``DAG`` span runs: its ``stbass.dag.task``
    attribute, else its process name."""
    a = span.attributes
    task = a.get(N.DAG_TASK)
    if task is None and span.category == "process":
        task = a.get(N.PROCESS_NAME, span.name[len(N.SPAN_PROCESS_PREFIX):])
    return task if isinstance(task, str) else None


def dag_edges(trace: Trace, dag: SpanRecord) -> list[tuple[SpanRecord, SpanRecord]]:
    """The dependency edges of the ``DAG`` span *dag* as (dependency's span,
    dependent's span) pairs, from its ``stbass.dag.edges`` attribute
    (``["dependency -> task", ...]``) and the task spans under it. A task tried
    more than once (a retry policy) has a span per attempt: an edge leaves the
    attempt that ended last and enters the one that started first. A task with
    no span (resumed from a state file, skipped) has no edge.

    >>> from stbass_tracing._model import SpanRecord, Trace
    >>> t = Trace([SpanRecord("DAG", "a" * 32, "d" * 16, None, 0, 10,
    ...                       attributes={"stbass.composition": "DAG", "stbass.dag.edges": ["x -> y"]}),
    ...            SpanRecord("process x", "a" * 32, "1" * 16, "d" * 16, 1, 4),
    ...            SpanRecord("process y", "a" * 32, "2" * 16, "d" * 16, 5, 9)])
    >>> [(a.name, b.name) for a, b in dag_edges(t, t.spans[0])]
    [('process x', 'process y')]
    """
    edges = dag.attributes.get(N.DAG_EDGES)
    if not isinstance(edges, list):
        return []
    first: dict[str, SpanRecord] = {}
    last: dict[str, SpanRecord] = {}
    for c in trace.children.get(dag.span_id, []):
        task = _task_of(c)
        if task is None:
            continue
        first.setdefault(task, c)  # children come in start order
        if task not in last or c.end_time_ns >= last[task].end_time_ns:
            last[task] = c
    out = []
    for edge in edges:
        dep, sep, task = str(edge).partition(" -> ")
        if sep and dep in last and task in first:
            out.append((last[dep], first[task]))
    return out


def deadlock_processes(
    trace: Trace, composition: SpanRecord, event: EventRecord
) -> tuple[list[SpanRecord], list[SpanRecord]]:
    """The process spans a ``deadlock`` event of *composition* names: (the ones
    in the cycle, every blocked one).

    The event names the blocked processes (``deadlock.processes``, a name or,
    for two processes of one name, ``name#<first 8 digits of the process
    id>``) and the cycle (``deadlock.cycle``, ``"left waits to send on a ->
    right waits to send on b -> left"``). They are looked up among the process
    spans below *composition*, preferring the ones the deadlock cancelled.

    >>> from stbass_tracing._model import EventRecord, SpanRecord, Trace
    >>> ev = EventRecord("deadlock", 5, {"deadlock.cycle": "l waits to send on a -> r waits to send on b -> l",
    ...                                  "deadlock.processes": ["l", "r"]})
    >>> t = Trace([SpanRecord("PAR", "a" * 32, "d" * 16, None, 0, 10, events=(ev,)),
    ...            SpanRecord("process l", "a" * 32, "1" * 16, "d" * 16, 1, 9),
    ...            SpanRecord("process r", "a" * 32, "2" * 16, "d" * 16, 1, 9)])
    >>> [[s.name for s in group] for group in deadlock_processes(t, t.spans[0], ev)]
    [['process l', 'process r'], ['process l', 'process r']]
    """
    cycle = str(event.attributes.get(DEADLOCK_CYCLE) or "")
    steps = cycle.split(" -> ")
    names = event.attributes.get(DEADLOCK_PROCESSES)
    if not isinstance(names, list):
        names = [step.split(" waits ", 1)[0] for step in steps[:-1]]
    by_name: dict[str, list[SpanRecord]] = {}
    stack = list(trace.children.get(composition.span_id, []))
    while stack:
        s = stack.pop()
        stack.extend(trace.children.get(s.span_id, []))
        if s.category != "process":
            continue
        name = str(s.attributes.get(N.PROCESS_NAME, s.name[len(N.SPAN_PROCESS_PREFIX):]))
        by_name.setdefault(name, []).append(s)
        pid = s.attributes.get(N.PROCESS_ID)
        if isinstance(pid, str):
            by_name.setdefault(f"{name}#{pid[:8]}", []).append(s)
    in_cycle: list[SpanRecord] = []
    blocked: list[SpanRecord] = []
    for name in map(str, names):
        found = by_name.get(name, [])
        found = [s for s in found if s.attributes.get(N.CANCELLED_BY) == EVENT_DEADLOCK] or found
        found = [s for s in found if s.start_time_ns <= event.time_ns <= s.end_time_ns] or found
        found = sorted(found, key=lambda s: s.start_time_ns)
        blocked.extend(found)
        if any(step.startswith(name + " waits ") for step in steps):
            in_cycle.extend(found)
    return in_cycle, blocked


def page_data(layout: Layout, title: str) -> dict[str, Any]:
    """The data the viewer script draws, in its compact, columnar form.

    Spans are columns (``spans.start`` is delta-encoded: each span's start minus
    the previous one's, in nanoseconds from the first span); every name,
    attribute key and value is an index into ``values``; events, links and the
    like are sparse lists. About 100-200 bytes per stbass span.

    >>> from stbass_tracing._model import SpanRecord, Trace
    >>> from stbass_tracing._layout import layout_trace
    >>> d = page_data(layout_trace(Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10)])), "t")
    >>> d["spans"]["ids"], [d["values"][i] for i in d["spans"]["name"]], d["spans"]["dur"]
    ('bbbbbbbbbbbbbbbb', ['PAR'], [10])
    """
    trace = layout.trace
    t0 = trace.start_ns
    table = _Table()
    index = {s.span_id: i for i, s in enumerate(trace.spans)}
    trace_ids = trace.trace_ids
    trace_index = {t: i for i, t in enumerate(trace_ids)}
    cols: dict[str, list[Any]] = {k: [] for k in ("name", "ck", "row", "level", "start", "dur", "st", "parent",
                                                  "attrs")}
    traces: list[int] = []
    ids: list[str] = []
    events: list[list[Any]] = []
    links: list[list[int]] = []
    extra: list[list[Any]] = []  # [span, what, value index]: status text, ALT choice, parent id not in the trace
    failures: list[int] = []
    dags: list[SpanRecord] = []
    deadlocks: list[list[Any]] = []  # [span, time, cycle text, [spans in the cycle], [blocked spans]]
    previous = 0
    n_processes = n_cancelled = 0
    for i, s in enumerate(trace.spans):
        cat = s.category
        if cat == "process":
            n_processes += 1
            n_cancelled += s.is_cancelled
        ids.append(s.span_id)
        traces.append(trace_index[s.trace_id])
        cols["name"].append(table(s.name))
        cols["ck"].append(_CAT_CODE[cat] * 8 + _KIND_CODE.get(s.kind, 0))
        cols["row"].append(layout.row_of[s.span_id])
        cols["level"].append(layout.level_of[s.span_id])
        start = s.start_time_ns - t0
        cols["start"].append(start - previous)
        previous = start
        cols["dur"].append(s.duration_ns)
        flags = _STATUS.get(s.status_code, 0)
        if s.is_cancelled:
            flags |= FLAG_CANCELLED
        if s.is_plumbing:
            flags |= FLAG_PLUMBING
        cols["st"].append(flags)
        parent = index.get(s.parent_span_id, -1) if s.parent_span_id else -1
        cols["parent"].append(parent)
        if s.parent_span_id and parent < 0:
            extra.append([i, 2, table(s.parent_span_id)])
        pairs: list[int] = []
        for k, v in s.attributes.items():
            pairs.append(table(k))
            pairs.append(table(v))
        cols["attrs"].append(pairs)
        if N.DAG_EDGES in s.attributes:
            dags.append(s)
        for e in s.events:
            if e.name == EVENT_DEADLOCK:
                deadlocks.append([i, e.time_ns - t0, table(str(e.attributes.get(DEADLOCK_CYCLE) or "")), e])
            ev = [i, table(e.name), e.time_ns - t0]
            for k, v in e.attributes.items():
                ev.append(table(k))
                ev.append(table(v))
            events.append(ev)
        for lk in s.links:
            if lk.span_id in index:
                links.append([i, index[lk.span_id]])
        if s.status_description:
            extra.append([i, 0, table(s.status_description)])
        if cat == "alt":
            chosen = _alt_choice(s)
            if chosen is not None:
                extra.append([i, 1, table(chosen)])
        if s.is_error and cat in ("process", "other"):
            failures.append(i)
    rows: dict[str, list[Any]] = {"id": [], "parent": [], "depth": [], "kind": [], "label": [], "span": []}
    for r in layout.rows:
        rows["id"].append(r.id)
        rows["parent"].append(-1 if r.parent is None else r.parent)
        rows["depth"].append(r.depth)
        rows["kind"].append(_ROW_KINDS.index(r.kind))
        rows["label"].append(table(r.label))
        rows["span"].append(index[r.span.span_id] if r.span is not None else -1)
    arrows = [[index[a], index[b]] for a, b in layout.arrows]
    # [DAG span, dependency's span, dependent's span]
    edges = [[index[d.span_id], index[a.span_id], index[b.span_id]] for d in dags for a, b in dag_edges(trace, d)]
    for d in deadlocks:
        in_cycle, blocked = deadlock_processes(trace, trace.spans[d[0]], d.pop())
        d.append([index[s.span_id] for s in in_cycle])
        d.append([index[s.span_id] for s in blocked])
    if deadlocks:  # next/previous failure goes to the deadlocked composition too
        failures = sorted(set(failures) | {d[0] for d in deadlocks})
    spans: dict[str, Any] = {"ids": "".join(ids), **cols}
    if len(trace_ids) > 1:
        spans["trace"] = traces
    return {
        "v": 2,
        "meta": {
            "title": title,
            "spans": len(trace.spans),
            "lanes": len(layout.rows),
            "processes": n_processes,
            "messages": sum(1 for a, _ in arrows if not cols["st"][a] & FLAG_PLUMBING),  # the user's
            "plumbing": sum(1 for a, _ in arrows if cols["st"][a] & FLAG_PLUMBING),  # SEQ's own
            "failures": len(failures),
            "edges": len(edges),
            "deadlocks": len(deadlocks),
            "cancelled": n_cancelled,
            "wall_ns": trace.wall_time_ns,
            "t0_ns": t0,
            "traces": len(trace_ids),
            "trace_ids": trace_ids,
        },
        "values": table.values,
        "rows": rows,
        "spans": spans,
        "arrows": arrows,
        "events": events,
        "links": links,
        "extra": extra,
        "failures": failures,
        "edges": edges,
        "deadlocks": deadlocks,
    }


def _embed_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)
    # "\/" is a JSON escape: keeps "</script>" and "scheme://" out of the page text
    return text.replace("/", "\\/").replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="stbass-trace">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<header>
<h1 id="title">{home}<span id="title-text">{title}</span></h1>
<div id="summary">
<span class="stat" id="sum-processes" data-value="{processes}"><b>{processes}</b> processes</span>
<span class="stat" id="sum-messages" data-value="{messages}"><b>{messages}</b> messages</span>
<button class="stat{fail_class}" id="sum-failures" data-value="{failures}"
 title="Go to the next failure (n)"><b>{failures}</b> failures</button>
<span class="stat" id="sum-cancelled" data-value="{cancelled}"><b>{cancelled}</b> cancelled</span>
<span class="stat" id="sum-wall" data-value="{wall_ns}"><b>{wall}</b> wall time</span>
<span class="stat" id="sum-spans" data-value="{spans}"><b>{spans}</b> spans in {traces} trace(s)</span>
<span class="stat" id="live-status"></span>
</div>
<div id="toolbar">
<input id="search" type="search" placeholder="Search process, channel, attribute (key=value)"
 title="Search (/)" autocomplete="off">
<span id="match-count" data-value="0"></span>
<button id="prev-failure" title="Previous failure (p)">&#9664; failure</button>
<button id="next-failure" title="Next failure (n)">failure &#9654;</button>
<span class="sep"></span>
<button id="zoom-in" title="Zoom in (+)">+</button>
<button id="zoom-out" title="Zoom out (-)">&minus;</button>
<button id="zoom-reset" title="Show the whole run, or all the matches while searching (0)">Fit</button>
<button id="expand-all">Expand all</button>
<button id="collapse-all">Collapse all</button>
<label title="Show the messages on SEQ's own stage channels">
<input type="checkbox" id="show-plumbing"> SEQ plumbing</label>
<span class="sep"></span>
<button id="replay-back" title="Previous event (,)">&laquo; step</button>
<button id="replay-play" title="Play the run event by event (space)">&#9654; Replay</button>
<button id="replay-step" title="Next event (.)">step &raquo;</button>
<span id="replay-status"></span>
</div>
<div id="legend">
<span class="key"><span class="sw process"></span>process</span>
<span class="key"><span class="sw composition"></span>composition (PAR/SEQ/...)</span>
<span class="key"><span class="sw send"></span>send</span>
<span class="key"><span class="sw recv"></span>recv</span>
<span class="key"><span class="sw arrow"></span>message (send &rarr; recv)</span>
<span class="key"><span class="sw alt"></span>ALT decision</span>
<span class="key"><span class="sw timer"></span>timer expired</span>
<span class="key"><span class="sw edge"></span>DAG dependency</span>
<span class="key"><span class="sw deadlock"></span>deadlock</span>
<span class="key"><span class="sw error"></span>failed</span>
<span class="key"><span class="sw cancelled"></span>cancelled</span>
<span class="key"><span class="sw match"></span>search match</span>
</div>
</header>
<canvas id="overview" height="36" aria-label="overview of the whole run; the visible window is marked"></canvas>
<main>
<div id="timeline"><canvas id="canvas" role="img" aria-label="timeline of {processes} processes"></canvas></div>
<aside id="details" aria-live="polite"></aside>
</main>
<div id="lane-index" class="index" aria-hidden="true"></div>
<div id="arrow-index" class="index" aria-hidden="true"></div>
<div id="marker-index" class="index" aria-hidden="true"></div>
<div id="edge-index" class="index" aria-hidden="true"></div>
<script type="application/json" id="trace-data">{data}</script>{live}
<script>
{js}
</script>
</body>
</html>
"""


def render_html(
    trace: Trace | Any, *, title: str | None = None, live: dict[str, Any] | None = None
) -> str:
    """The self-contained HTML page for *trace* (a :class:`Trace` or SDK spans).

    *live* is for ``stbass-trace serve``: ``{"url", "version", "interval", "home"}``
    make the page poll ``url?since=version`` every ``interval`` ms and redraw
    when the trace grows.

    >>> from stbass_tracing._model import SpanRecord, Trace
    >>> page = render_html(Trace([SpanRecord("PAR", "a" * 32, "b" * 16, None, 0, 10)]))
    >>> "<canvas" in page and "http://" not in page
    True
    """
    if not isinstance(trace, Trace):
        trace = trace_from_spans(trace)
    layout = layout_trace(trace)
    if title is None:
        services = sorted({str(s.resource.get("service.name")) for s in trace.spans if s.resource.get("service.name")})
        title = "stbass trace" + (f" — {', '.join(services)}" if services else "")
    data = page_data(layout, title)
    meta = data["meta"]
    live_block = ""
    home = ""
    if live is not None:
        live_block = f'\n<script type="application/json" id="live-config">{_embed_json(live)}</script>'
        home = '<a id="home" href="{}">traces</a> / '.format(html.escape(str(live.get("home", "/")), quote=True))
    return _TEMPLATE.format(
        title=html.escape(title),
        home=home,
        css=_asset("viewer.css"),
        js=_asset("viewer.js"),
        data=_embed_json(data),
        live=live_block,
        processes=meta["processes"],
        messages=meta["messages"],
        failures=meta["failures"],
        fail_class=" bad" if meta["failures"] else "",
        cancelled=meta["cancelled"],
        wall_ns=meta["wall_ns"],
        wall=_fmt_duration(meta["wall_ns"]),
        spans=meta["spans"],
        traces=meta["traces"],
    )


def write_html(trace: Trace | Any, path: str | os.PathLike[str], *, title: str | None = None) -> str:
    """Write the page for *trace* to *path*; returns the path written.

    >>> # write_html(load_trace("trace.jsonl"), "build/trace.html")
    """
    text = render_html(trace, title=title)
    out = os.fspath(path)
    parent = os.path.dirname(out)
    if parent:
        os.makedirs(parent, exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(text)
    return out

