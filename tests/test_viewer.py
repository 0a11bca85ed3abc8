"""The HTML viewer page: lanes, arrows, failures and cancellations, self-containment.

``sample_trace()`` builds a known trace by hand; ``big_trace()`` a 10,000-span
one. Both are also used by the browser test (``test_viewer_browser.py``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import PAR, SEQ, Chan, Process, ProcessContext, ProcessResult, observe
from stbass_tracing import (
    EventRecord,
    LinkRecord,
    SpanRecord,
    Trace,
    layout_trace,
    render_html,
    trace_from_spans,
    write_html,
)

TRACE_ID = "5" * 32


def _id(n: int) -> str:
    return format(n, "016x")


def sample_trace() -> Trace:
    """PAR(a, b, c(SEQ(d, e)), f): 7 lanes (6 processes), 2 messages, 1 failure, 1 cancellation,
    one ALT decision with a timer expiry, a URL and a ``</script>`` in attribute values."""
    spans: list[SpanRecord] = []

    def add(name: str, n: int, parent: int | None, start: int, end: int, **kw: Any) -> SpanRecord:
        s = SpanRecord(name, TRACE_ID, _id(n), _id(parent) if parent else None, start, end,
                       resource={"service.name": "sample"}, scope_name="stbass", **kw)
        spans.append(s)
        return s

    ms = 1_000_000
    add("PAR", 1, None, 0, 100 * ms, attributes={"stbass.composition": "PAR", "stbass.children": 4})
    add("process a", 2, 1, 1 * ms, 60 * ms, attributes={"stbass.process.name": "a"})
    add("process b", 3, 1, 1 * ms, 70 * ms, attributes={"stbass.process.name": "b"})
    add("process c", 4, 1, 2 * ms, 95 * ms, attributes={"stbass.process.name": "c"})
    add("SEQ", 5, 4, 3 * ms, 90 * ms, attributes={"stbass.composition": "SEQ", "stbass.children": 2})
    add("process d", 6, 5, 3 * ms, 40 * ms, attributes={"stbass.process.name": "d"})
    add("process e", 7, 5, 41 * ms, 90 * ms,
        attributes={"stbass.process.name": "e", "stbass.failure.summary": "[e] ValueError: bad",
                    "error.type": "ValueError"},
        status_code="ERROR", status_description="ValueError: bad",
        events=(EventRecord("exception", 89 * ms, {
            "exception.type": "ValueError", "exception.message": "bad",
            "exception.stacktrace": "Traceback (most recent call last):\n  ...\nValueError: bad"}),))
    add("process f", 8, 1, 2 * ms, 50 * ms,
        attributes={"stbass.process.name": "f", "stbass.cancelled": True, "stbass.cancelled.by": "halt"})
    # a -> b on "ch1", d -> e on "ch2"
    chan = {"stbass.channel.name": "ch1", "stbass.channel.type": "int"}
    add("send ch1", 10, 2, 5 * ms, 20 * ms, kind="PRODUCER", attributes=chan)
    add("recv ch1", 11, 3, 10 * ms, 20 * ms, kind="CONSUMER", attributes=chan,
        links=(LinkRecord(TRACE_ID, _id(10)),))
    chan2 = {"stbass.channel.name": "ch2", "stbass.channel.type": "str",
             "note": "see http://example.invalid/x </script><script>alert(1)</script>"}
    add("send ch2", 12, 6, 30 * ms, 40 * ms, kind="PRODUCER", attributes=chan2)
    add("ALT", 13, 7, 45 * ms, 55 * ms,
        attributes={"stbass.alt.kind": "fair", "stbass.alt.guards": 2, "stbass.alt.chosen": 1,
                    "stbass.alt.chosen_kind": "timer", "stbass.alt.chosen_name": "timeout"},
        events=(EventRecord("timer.expired", 55 * ms, {"stbass.timer.name": "timeout"}),))
    add("recv ch2", 14, 7, 41 * ms, 41 * ms + 500_000, kind="CONSUMER", attributes=chan2,
        links=(LinkRecord(TRACE_ID, _id(12)),))
    add("recv orphan", 16, 2, 56 * ms, 58 * ms, kind="CONSUMER",
        attributes={"stbass.channel.name": "unmatched"})
    return Trace(spans)


def _chan_attrs(name: str, op: str, seq: int, wait_s: float) -> dict[str, Any]:
    """The attributes stbass puts on a send/recv span (so page sizes measured here are honest)."""
    return {"stbass.channel.name": name, "stbass.channel.type": "int", "messaging.system": "stbass",
            "messaging.operation.name": op, "messaging.operation.type": op, "messaging.destination.name": name,
            "stbass.message.seq": seq, "stbass.outcome": "ok", "stbass.wait_s": wait_s}


def big_trace(n_groups: int = 10, per_group: int = 100) -> Trace:
    """1 + n_groups + n_groups*per_group*(1 + 9) spans: 10,011 with the defaults, 100,101 with
    ``big_trace(100)``. Each replica sends 4 messages to the next; replica 13 of each group fails."""
    spans: list[SpanRecord] = []
    counter = iter(range(1, 10**9))
    us = 1000

    def add(name: str, parent: str | None, start: int, end: int, **kw: Any) -> SpanRecord:
        s = SpanRecord(name, TRACE_ID, _id(next(counter)), parent, start, end, **kw)
        spans.append(s)
        return s

    root = add("PAR", None, 0, 10_000 * us, attributes={"stbass.composition": "PAR", "stbass.children": n_groups})
    for g in range(n_groups):
        par = add("PAR_FOR", root.span_id, g * us, 10_000 * us - g * us,
                  attributes={"stbass.composition": "PAR_FOR", "stbass.children": per_group})
        previous_sends: list[SpanRecord] = []
        for p in range(per_group):
            t = (g % 10) * 900 * us + p * 7 * us + g * 13
            failed = p == 13
            proc = add(f"process worker[{p}]", par.span_id, t, t + 800 * us,
                       attributes={"stbass.process.name": f"worker[{p}]",
                                   "stbass.process.id": f"{g:08x}-{p:04x}-4000-8000-{g * per_group + p:012x}",
                                   "stbass.optional": False},
                       status_code="ERROR" if failed else "UNSET",
                       status_description="ValueError: bad input" if failed else None)
            sends = []
            for k in range(4):
                sends.append(add(f"send ch{g}.{p}.{k}", proc.span_id, t + (10 + 40 * k) * us,
                                 t + (30 + 40 * k) * us, kind="PRODUCER",
                                 attributes=_chan_attrs(f"ch{g}.{p}.{k}", "send", 1, (k + 1) * 1.23456789e-5 + p)))
            for k, snd in enumerate(previous_sends):
                add(f"recv ch{g}.{p - 1}.{k}", proc.span_id, t + (12 + 40 * k) * us,
                    snd.end_time_ns, kind="CONSUMER", links=(LinkRecord(TRACE_ID, snd.span_id),),
                    attributes=_chan_attrs(f"ch{g}.{p - 1}.{k}", "receive", 1, k * 2.5e-6 + p))
            for k in range(4 - len(previous_sends)):
                add(f"recv idle{k}", proc.span_id, t + 300 * us, t + 310 * us, kind="CONSUMER",
                    attributes=_chan_attrs(f"idle{k}", "receive", 1, 1e-5))
            add("ALT", proc.span_id, t + 400 * us, t + 500 * us,
                attributes={"stbass.alt.kind": "fair", "stbass.alt.guards": 2, "stbass.alt.chosen": 0,
                            "stbass.alt.chosen_kind": "recv", "stbass.alt.chosen_name": f"ch{g}.{p}.0"})
            previous_sends = sends
    return Trace(spans)


def raw_page_data(page: str) -> dict[str, Any]:
    """The data block of a page, as embedded (the compact, columnar form)."""
    match = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))  # type: ignore[no-any-return]


CATS = ("composition", "process", "send", "recv", "alt", "other")
KINDS = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
ROW_KINDS = ("composition", "process", "group", "orphans")


def decode_data(data: dict[str, Any]) -> dict[str, Any]:
    """The compact form decoded as the viewer script does: one dict per span and per row."""
    values, cols, n = data["values"], data["spans"], data["meta"]["spans"]
    events: dict[int, list[Any]] = {}
    for e in data["events"]:
        events.setdefault(e[0], []).append(
            [values[e[1]], e[2], {values[e[k]]: values[e[k + 1]] for k in range(3, len(e), 2)}])
    extra: dict[int, dict[int, Any]] = {}
    for i, what, v in data["extra"]:
        extra.setdefault(i, {})[what] = values[v]
    spans = []
    t = 0
    for i in range(n):
        t += cols["start"][i]
        pairs = cols["attrs"][i]
        spans.append({
            "id": cols["ids"][16 * i: 16 * i + 16], "name": values[cols["name"][i]],
            "cat": CATS[cols["ck"][i] >> 3], "kind": KINDS[cols["ck"][i] & 7],
            "row": cols["row"][i], "level": cols["level"][i], "start": t, "end": t + cols["dur"][i],
            "status": cols["st"][i] & 3, "cancelled": bool(cols["st"][i] & 4), "plumbing": bool(cols["st"][i] & 8),
            "parent": cols["parent"][i],
            "attrs": {values[pairs[k]]: values[pairs[k + 1]] for k in range(0, len(pairs), 2)},
            "events": events.get(i, []), "chosen": extra.get(i, {}).get(1), "status_text": extra.get(i, {}).get(0),
        })
    r = data["rows"]
    rows = [
        {"id": r["id"][k], "parent": None if r["parent"][k] < 0 else r["parent"][k], "depth": r["depth"][k],
         "kind": ROW_KINDS[r["kind"][k]], "label": values[r["label"][k]],
         "span": None if r["span"][k] < 0 else r["span"][k]}
        for k in range(len(r["id"]))
    ]
    return {"meta": data["meta"], "rows": rows, "spans": spans, "arrows": data["arrows"],
            "failures": data["failures"]}


def page_data(page: str) -> dict[str, Any]:
    """The data of a page, decoded (:func:`decode_data`)."""
    return decode_data(raw_page_data(page))


def test_layout_of_the_known_trace() -> None:
    layout = layout_trace(sample_trace())
    assert [(r.label, r.kind, r.depth) for r in layout.rows] == [
        ("PAR (4)", "composition", 0),
        ("a", "process", 1),
        ("b", "process", 1),
        ("f", "process", 1),  # siblings in start order (f starts with c, ends first)
        ("c", "process", 1),
        ("SEQ (2)", "composition", 2),
        ("d", "process", 3),
        ("e", "process", 3),
    ]
    assert len(layout.process_rows) == 6
    assert [(a[-2:], b[-2:]) for a, b in layout.arrows] == [("0a", "0b"), ("0c", "0e")]
    by_label = {r.label: r for r in layout.rows}
    assert {s.name for s in by_label["a"].items} == {"process a", "send ch1", "recv orphan"}
    assert {s.name for s in by_label["e"].items} == {"process e", "ALT", "recv ch2"}


def test_page_embeds_lanes_arrows_and_marks_the_failure_and_cancellation() -> None:
    page = render_html(sample_trace())
    data = page_data(page)
    assert len(data["rows"]) == 8
    assert sum(1 for r in data["rows"] if r["kind"] == "process") == 6
    assert len(data["arrows"]) == 2
    spans = data["spans"]
    failed = [s for s in spans if s["status"] == 2]
    assert [s["name"] for s in failed] == ["process e"]
    assert failed[0]["attrs"]["stbass.failure.summary"] == "[e] ValueError: bad"
    assert "Traceback" in failed[0]["events"][0][2]["exception.stacktrace"]
    assert [s["name"] for s in spans if s["cancelled"]] == ["process f"]
    alt = [s for s in spans if s["cat"] == "alt"][0]
    assert alt["chosen"] == "timer timeout [1]"
    assert alt["events"][0][0] == "timer.expired"
    # summary header
    assert 'id="sum-processes" data-value="6"' in page
    assert 'id="sum-messages" data-value="2"' in page
    assert 'id="sum-failures" data-value="1"' in page
    assert 'id="sum-cancelled" data-value="1"' in page
    assert 'id="sum-wall" data-value="100000000"' in page
    assert "100.00 ms" in page


def test_page_is_self_contained() -> None:
    page = render_html(sample_trace())
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(?!#)""", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert "<canvas" in page and "<style>" in page
    # the embedded data cannot close the script element, yet parses back exactly
    data = page_data(page)
    note = [s for s in data["spans"] if s["name"] == "send ch2"][0]["attrs"]["note"]
    assert note == "see http://example.invalid/x </script><script>alert(1)</script>"
    assert page.count("</script>") == 2  # the data block and the viewer script


def test_page_from_real_spans_and_write_html(tmp_path: Path) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ch = Chan(int, name="pipe")

    @Process
    async def src(ctx: ProcessContext) -> ProcessResult[None]:
        for i in range(3):
            await ch.send(i)
        return ProcessResult.ok()

    @Process
    async def sink(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(sum([await ch.recv() for _ in range(3)]))

    @Process
    async def after(ctx: ProcessContext) -> ProcessResult[None]:
        return ProcessResult.ok()

    async def main() -> None:
        await SEQ(PAR(src, sink), after).run()

    with observe.use_tracer_provider(provider):
        anyio.run(main)
    out = write_html(exporter.get_finished_spans(), tmp_path / "sub" / "page.html", title="pipe test")
    page = Path(out).read_text()
    data = page_data(page)
    assert data["meta"]["title"] == "pipe test"
    assert [r["label"] for r in data["rows"]] == ["SEQ (2)", "PAR (2)", "src", "sink", "after"]
    assert len(data["arrows"]) == 3
    assert trace_from_spans(exporter.get_finished_spans()).messages[0].channel == "pipe"


def test_big_trace_has_ten_thousand_spans() -> None:
    trace = big_trace()
    assert len(trace) >= 10_000
    layout = layout_trace(trace)
    assert len(layout.process_rows) == 1000
    assert len(layout.arrows) == 10 * 99 * 4
    page = render_html(trace)
    assert "http://" not in page and "https://" not in page


@pytest.mark.slow
def test_a_hundred_thousand_span_page_stays_under_300_bytes_per_span() -> None:
    trace = big_trace(100)
    assert len(trace) == 100_101
    page = render_html(trace)
    per_span = len(page.encode()) / len(trace)
    assert per_span <= 300, f"{per_span:.0f} bytes per span"
    data = page_data(page)
    assert len(data["failures"]) == 100
    assert data["rows"][0]["label"] == "PAR (100)"
    assert max(s["end"] for s in data["spans"]) == trace.wall_time_ns


def test_lanes_follow_the_replica_index_not_the_start_order() -> None:
    spans = [SpanRecord("PAR_FOR", TRACE_ID, _id(1), None, 0, 100, attributes={"stbass.composition": "PAR_FOR"})]
    for k, i in enumerate([2, 0, 1, 10]):  # trio started them in this order
        spans.append(SpanRecord(f"process w[{i}]", TRACE_ID, _id(10 + i), _id(1), k, 90,
                                attributes={"stbass.process.name": f"w[{i}]"}))
    assert [r.label for r in layout_trace(Trace(spans)).rows] == ["PAR_FOR", "w[0]", "w[1]", "w[2]", "w[10]"]
    # an explicit child index wins over names
    spans = [SpanRecord("PAR", TRACE_ID, _id(1), None, 0, 100, attributes={"stbass.composition": "PAR"})]
    for k, (name, index) in enumerate([("c", 2), ("a", 0), ("b", 1)]):
        spans.append(SpanRecord(f"process {name}", TRACE_ID, _id(10 + k), _id(1), k, 90,
                                attributes={"stbass.process.name": name, "stbass.child.index": index}))
    assert [r.label for r in layout_trace(Trace(spans)).rows] == ["PAR", "a", "b", "c"]


def test_seq_plumbing_is_marked_and_failures_listed() -> None:
    spans = [
        SpanRecord("SEQ", TRACE_ID, _id(1), None, 0, 100, attributes={"stbass.composition": "SEQ"}),
        SpanRecord("process st", TRACE_ID, _id(2), _id(1), 1, 90, attributes={"stbass.process.name": "st"},
                   status_code="ERROR"),
        SpanRecord("send st.input", TRACE_ID, _id(3), _id(1), 1, 2, kind="PRODUCER",
                   attributes=_chan_attrs("st.input", "send", 1, 0.0) | {"stbass.channel.type": "object"}),
        SpanRecord("send data", TRACE_ID, _id(4), _id(2), 3, 4, kind="PRODUCER",
                   attributes=_chan_attrs("data", "send", 1, 0.0)),
        SpanRecord("recv st.input", TRACE_ID, _id(5), _id(2), 1, 2, kind="CONSUMER",
                   attributes=_chan_attrs("st.input", "receive", 1, 0.0) | {"stbass.channel.type": "object"},
                   links=(LinkRecord(TRACE_ID, _id(3)),)),
        SpanRecord("recv data", TRACE_ID, _id(6), _id(1), 3, 4, kind="CONSUMER",
                   attributes=_chan_attrs("data", "receive", 1, 0.0), links=(LinkRecord(TRACE_ID, _id(4)),)),
    ]
    page = render_html(Trace(spans))
    data = page_data(page)
    plumbing = {s["name"]: s["plumbing"] for s in data["spans"]}
    assert plumbing == {"SEQ": False, "process st": False, "send st.input": True, "send data": False,
                        "recv st.input": True, "recv data": False}
    assert len(data["arrows"]) == 2
    assert (data["meta"]["messages"], data["meta"]["plumbing"]) == (1, 1)  # the header counts the user's
    assert 'id="sum-messages" data-value="1"' in page
    assert [data["spans"][i]["name"] for i in data["failures"]] == ["process st"]


@pytest.mark.parametrize("depth", [2000])
def test_deep_nesting_does_not_hit_the_recursion_limit(depth: int) -> None:
    spans = [SpanRecord("SEQ", TRACE_ID, _id(1), None, 0, depth + 1, attributes={"stbass.composition": "SEQ"})]
    for i in range(2, depth + 2):
        spans.append(SpanRecord(f"process p{i}", TRACE_ID, _id(i), _id(i - 1), i, depth + 1,
                                attributes={"stbass.process.name": f"p{i}"}))
    layout = layout_trace(Trace(spans))
    assert layout.rows[-1].depth == depth
