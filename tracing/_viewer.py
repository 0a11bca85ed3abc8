"""The HTML viewer: one self-contained file per trace, no network needed.

:func:`render_html` embeds the trace (as JSON), the stylesheet and the script
(``assets/viewer.css`` and ``assets/viewer.js``) into one page. The page draws
on a ``<canvas>`` — only rows and spans in view are painted, so 10,000 spans stay
responsive — and keeps a hidden DOM index that tools and tests can query:
``#lane-index [data-lane]`` (one per lane, with ``data-kind``,
``data-depth``, ``data-status``, ``data-cancelled``), ``#arrow-index
[data-arrow]`` (one per message, ``data-from``/``data-to`` span ids) and
``#marker-index [data-marker]`` (ALT decisions, timer expiries, exceptions).
``<body data-ready="true" data-render-ms="...">`` once the first frame is drawn.
"""

from __future__ import annotations

import html
import json
import os
from functools import cache
from importlib import resources
from typing import Any

from stbass import _names as N

from ._layout import Layout, layout_trace
from ._model import SpanRecord, Trace, trace_from_spans

__all__ = ("render_html", "write_html")

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


def _page_data(layout: Layout, title: str) -> dict[str, Any]:
    trace = layout.trace
    t0 = trace.start_ns
    index = {s.span_id: i for i, s in enumerate(trace.spans)}
    spans = []
    for s in trace.spans:
        item: dict[str, Any] = {
            "id": s.span_id,
            "trace": s.trace_id,
            "parent": s.parent_span_id,
            "name": s.name,
            "cat": s.category,
            "kind": s.kind,
            "row": layout.row_of[s.span_id],
            "level": layout.level_of[s.span_id],
            "start": s.start_time_ns - t0,
            "end": s.end_time_ns - t0,
            "status": _STATUS.get(s.status_code, 0),
            "status_text": s.status_description,
            "cancelled": s.is_cancelled,
            "attrs": s.attributes,
            "events": [[e.name, e.time_ns - t0, e.attributes] for e in s.events],
            "links": [index[lk.span_id] for lk in s.links if lk.span_id in index],
        }
        if s.category == "alt":
            item["chosen"] = _alt_choice(s)
        spans.append(item)
    rows = [
        {
            "id": r.id,
            "parent": r.parent,
            "depth": r.depth,
            "kind": r.kind,
            "label": r.label,
            "span": index[r.span.span_id] if r.span is not None else None,
        }
        for r in layout.rows
    ]
    arrows = [[index[a], index[b]] for a, b in layout.arrows]
    return {
        "meta": {
            "title": title,
            "spans": len(trace.spans),
            "lanes": len(layout.rows),
            "processes": len(trace.processes),
            "messages": len(arrows),
            "failures": len(trace.failures),
            "cancelled": sum(1 for s in trace.spans if s.category == "process" and s.is_cancelled),
            "wall_ns": trace.wall_time_ns,
            "traces": len(trace.trace_ids),
        },
        "rows": rows,
        "spans": spans,
        "arrows": arrows,
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
<h1>{title}</h1>
<div id="summary">
<span class="stat" id="sum-processes" data-value="{processes}"><b>{processes}</b> processes</span>
<span class="stat" id="sum-messages" data-value="{messages}"><b>{messages}</b> messages</span>
<span class="stat{fail_class}" id="sum-failures" data-value="{failures}"><b>{failures}</b> failures</span>
<span class="stat" id="sum-cancelled" data-value="{cancelled}"><b>{cancelled}</b> cancelled</span>
<span class="stat" id="sum-wall" data-value="{wall_ns}"><b>{wall}</b> wall time</span>
<span class="stat" id="sum-spans" data-value="{spans}"><b>{spans}</b> spans in {traces} trace(s)</span>
</div>
<div id="toolbar">
<button id="zoom-in" title="Zoom in (+)">Zoom in</button>
<button id="zoom-out" title="Zoom out (-)">Zoom out</button>
<button id="zoom-reset" title="Show everything (0)">Fit</button>
<button id="expand-all">Expand all</button>
<button id="collapse-all">Collapse all</button>
<span class="hint">Drag to pan, Ctrl+wheel to zoom, wheel to scroll; click a lane's &#9662; to fold it; click a bar to pin its details.</span>
</div>
<div id="legend">
<span class="key"><span class="sw process"></span>process</span>
<span class="key"><span class="sw composition"></span>composition (PAR/SEQ/...)</span>
<span class="key"><span class="sw send"></span>send</span>
<span class="key"><span class="sw recv"></span>recv</span>
<span class="key"><span class="sw arrow"></span>message (send &rarr; recv)</span>
<span class="key"><span class="sw alt"></span>ALT decision</span>
<span class="key"><span class="sw timer"></span>timer expired</span>
<span class="key"><span class="sw error"></span>failed</span>
<span class="key"><span class="sw cancelled"></span>cancelled</span>
</div>
</header>
<main>
<div id="timeline"><canvas id="canvas" role="img" aria-label="timeline of {processes} processes"></canvas></div>
<aside id="details" aria-live="polite"></aside>
</main>
<div id="lane-index" class="index" aria-hidden="true"></div>
<div id="arrow-index" class="index" aria-hidden="true"></div>
<div id="marker-index" class="index" aria-hidden="true"></div>
<script type="application/json" id="trace-data">{data}</script>
<script>
{js}
</script>
</body>
</html>
"""


def render_html(trace: Trace | Any, *, title: str | None = None) -> str:
    """The self-contained HTML page for *trace* (a :class:`Trace` or SDK spans).

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
    data = _page_data(layout, title)
    meta = data["meta"]
    return _TEMPLATE.format(
        title=html.escape(title),
        css=_asset("viewer.css"),
        js=_asset("viewer.js"),
        data=_embed_json(data),
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

