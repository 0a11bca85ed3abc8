"""End to end in a real browser: headless Chromium opens the page from ``file://``.

Networking is disabled (no proxy, unresolvable hosts, no background traffic); the
first tests read the rendered DOM (``--dump-dom``) and Chromium's console log, save a
screenshot under ``build/``, and time the load of a 10,000-span page. The
interactive ones drive the page over the DevTools protocol (``cdp.py``): search,
deep links, send/recv pairing, next/previous failure, replay, and a 100,000-span
page; with ``STBASS_DOCS_SCREENSHOTS=1`` they write the screenshots of
docs/visual-tracing.md to ``docs/_static/`` (else to ``build/screenshots/``).
Skipped only when no Chromium is installed (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import html.parser
import json
import runpy
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdp import Browser
from stbass_tracing import SpanRecord, Trace, layout_trace, load_trace, write_html
from test_viewer import big_trace, sample_trace

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"

pytestmark = pytest.mark.browser


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@pytest.fixture(scope="module")
def chromium() -> str:
    path = _chromium()
    if path is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def profile() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="stbass-chromium-") as d:
        yield d


def run_chromium(chromium: str, profile: str, url: str, *extra: str) -> tuple[str, str, float]:
    args = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--disable-sync", "--disable-extensions", "--no-default-browser-check",
        "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
        "--window-size=1400,800", *extra, url,
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr, elapsed


class _Dom(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lanes: list[dict[str, str | None]] = []
        self.arrows: list[dict[str, str | None]] = []
        self.markers: list[dict[str, str | None]] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body = a
        if "data-lane" in a:
            self.lanes.append(a)
        if "data-arrow" in a:
            self.arrows.append(a)
        if "data-marker" in a:
            self.markers.append(a)


def parse(dom: str) -> _Dom:
    parser = _Dom()
    parser.feed(dom)
    return parser


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_known_trace_renders_its_lanes_and_arrows(chromium: str, profile: str) -> None:
    BUILD.mkdir(exist_ok=True)
    page = Path(write_html(sample_trace(), BUILD / "viewer-e2e.html"))
    dom, stderr, _ = run_chromium(chromium, profile, page.as_uri(), "--dump-dom")
    assert console_lines(stderr) == []
    d = parse(dom)
    assert d.body.get("data-ready") == "true", "the viewer script did not finish"
    assert "data-errors" not in d.body
    assert len(d.lanes) == 8
    assert sum(1 for lane in d.lanes if lane["data-kind"] == "process") == 6
    assert [lane["data-status"] for lane in d.lanes if lane["data-status"] == "error"] == ["error"]
    assert [lane.get("data-cancelled") for lane in d.lanes].count("true") == 1
    assert len(d.arrows) == 2
    assert {(a["data-from"], a["data-to"]) for a in d.arrows} == set(layout_trace(sample_trace()).arrows)
    kinds = sorted(str(m["data-marker"]) for m in d.markers)
    assert kinds == ["alt", "exception", "timer"]


def test_screenshot_of_the_known_trace(chromium: str, profile: str) -> None:
    BUILD.mkdir(exist_ok=True)
    page = Path(write_html(sample_trace(), BUILD / "viewer-e2e.html"))
    shot = BUILD / "viewer-e2e.png"
    if shot.exists():
        shot.unlink()
    _, stderr, _ = run_chromium(chromium, profile, page.as_uri(), f"--screenshot={shot}")
    assert console_lines(stderr) == []
    assert shot.exists() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ten_thousand_span_page_loads(chromium: str, profile: str) -> None:
    BUILD.mkdir(exist_ok=True)
    trace = big_trace()
    page = Path(write_html(trace, BUILD / "viewer-10k.html"))
    dom, stderr, elapsed = run_chromium(chromium, profile, page.as_uri(), "--dump-dom")
    assert console_lines(stderr) == []
    d = parse(dom)
    assert d.body.get("data-ready") == "true"
    layout = layout_trace(trace)
    assert len(d.lanes) == len(layout.rows)
    assert len(d.arrows) == len(layout.arrows)
    render_ms = float(str(d.body.get("data-render-ms")))
    size_mb = page.stat().st_size / 1e6
    print(
        f"\n10k-span page: {len(trace)} spans, {size_mb:.1f} MB; in-page parse+index+first draw "
        f"{render_ms:.0f} ms; whole headless Chromium run (start, load, dump) {elapsed:.2f} s"
    )


# ---------------------------------------------------------------- interactive (DevTools protocol)

#: where the screenshots go: the docs' images with STBASS_DOCS_SCREENSHOTS=1 (to
#: refresh them), else build/screenshots (a test run leaves the checkout clean)
STATIC = ROOT / ("docs/_static" if os.environ.get("STBASS_DOCS_SCREENSHOTS") else "build/screenshots")
STATIC.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="module")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(chromium, str(tmp_path_factory.mktemp("chromium-profile"))) as b:
        yield b
    assert b.exceptions == []


def _sample_ids() -> dict[str, str]:
    return {s.name: s.span_id for s in sample_trace()}


def test_search_filters_lanes_and_deep_links_point_at_one_span(browser: Browser) -> None:
    BUILD.mkdir(exist_ok=True)
    page_file = Path(write_html(sample_trace(), BUILD / "viewer-search.html"))
    ids = _sample_ids()
    page = browser.open(page_file.as_uri() + "#q=ch2")
    assert page.eval("document.body.dataset.matches") == "2"  # send ch2 and recv ch2
    visible = page.eval("[...document.querySelectorAll('[data-lane][data-visible=true]')].map(e => e.textContent)")
    assert visible == ["PAR (4)", "c", "SEQ (2)", "d", "e"]
    page.key("0")  # Fit while searching: the stretch the matches cover (ch2: 30 ms to 41.5 ms of 100 ms)
    page.frame()
    lo, hi = (float(v) for v in page.eval("document.getElementById('overview').dataset.window").split(","))
    assert abs(lo - 0.30) < 0.01 and abs(hi - 0.415) < 0.01
    page.eval("var s = document.getElementById('search'); s.value = 'stbass.channel.name=ch1';"
              "s.dispatchEvent(new Event('input'))")
    assert page.wait_for("document.body.dataset.matches === '2' && location.hash === '#q=stbass.channel.name%3Dch1'")
    # a deep link to a recv pins it, highlights the send it took and the arrow
    page.goto(page_file.as_uri() + "#span=" + ids["recv ch1"])
    assert page.eval("document.body.dataset.pinned") == ids["recv ch1"]
    assert page.eval("document.body.dataset.partner") == ids["send ch1"]
    assert page.eval("document.getElementById('details').dataset.span") == ids["recv ch1"]
    page.click("#details [data-goto]")  # "sent by send ch1": and the reverse
    assert page.eval("document.body.dataset.pinned") == ids["send ch1"]
    assert page.eval("document.body.dataset.partner") == ids["recv ch1"]
    assert page.eval("location.hash") == "#span=" + ids["send ch1"]


def test_an_empty_trace_page_works(browser: Browser) -> None:
    """What serve shows for a trace id before its first span arrives."""
    BUILD.mkdir(exist_ok=True)
    page = browser.open(Path(write_html(Trace([]), BUILD / "viewer-empty.html")).as_uri())
    for key in ("n", ".", "+", "0"):
        page.key(key)
    page.eval("var s = document.getElementById('search'); s.value = 'x'; s.dispatchEvent(new Event('input'))")
    assert page.wait_for("document.body.dataset.matches === '0'")
    assert page.eval("document.body.dataset.spans") == "0"


def test_next_and_previous_failure_go_to_each_failure(browser: Browser) -> None:
    BUILD.mkdir(exist_ok=True)
    trace = big_trace()
    page = browser.open(Path(write_html(trace, BUILD / "viewer-10k.html")).as_uri())
    failed = [s.span_id for s in trace.spans if s.is_error]
    assert page.eval("document.getElementById('sum-failures').dataset.value") == str(len(failed)) == "10"
    page.click("#sum-failures")
    assert page.eval("document.body.dataset.pinned") == failed[0]
    page.key("n")
    assert page.eval("document.body.dataset.pinned") == failed[1]
    page.key("p")
    page.key("p")
    assert page.eval("document.body.dataset.pinned") == failed[-1]
    lane = page.eval(f"document.querySelector('[data-lane=\"{failed[-1]}\"]').dataset.visible")
    assert lane == "true"
    page.screenshot(STATIC / "viewer-failure.png")


def test_replay_steps_through_the_run_event_by_event(browser: Browser) -> None:
    BUILD.mkdir(exist_ok=True)
    page = browser.open(Path(write_html(sample_trace(), BUILD / "viewer-replay.html")).as_uri())
    ids = _sample_ids()
    seen = []
    for _ in range(6):
        page.key(".")
        seen.append((page.eval("document.body.dataset.replayKind"), page.eval("document.body.dataset.pinned")))
    # in time order: ch1 is received and sent (both end at 20 ms), ch2 sent at 40 ms ...
    assert seen[:3] == [("send", ids["send ch1"]), ("receive", ids["recv ch1"]), ("send", ids["send ch2"])]
    assert ("ALT decision", ids["ALT"]) in seen and ("failure", ids["process e"]) not in seen
    assert page.eval("document.body.dataset.replayTotal") == "7"
    page.key(".")
    assert page.eval("document.body.dataset.replayKind") == "failure"
    page.key(",")
    assert page.eval("document.body.dataset.replayPos") == "5"
    page.screenshot(STATIC / "viewer-replay.png")


@pytest.mark.slow
def test_a_hundred_thousand_spans_open_and_pan_and_zoom(browser: Browser) -> None:
    BUILD.mkdir(exist_ok=True)
    trace = big_trace(100)
    page_file = Path(write_html(trace, BUILD / "viewer-100k.html"))
    page = browser.open(page_file.as_uri())
    assert page.eval("document.body.dataset.spans") == str(len(trace))
    assert page.eval("document.querySelectorAll('[data-arrow]').length") == 100 * 99 * 4
    first_frame = float(page.eval("document.body.dataset.firstFrameMs"))
    ready = float(page.eval("document.body.dataset.renderMs"))
    # 40 frames of panning and zooming, each drawn (not just scheduled)
    frame_ms = page.eval("""new Promise(function (resolve) {
      var keys = ['+', '+', 'd', 'd', 's', 's', '+', 'a', 'w', '-'], k = 0, t0 = performance.now();
      (function step() {
        if (k === 40) { resolve((performance.now() - t0) / 40); return; }
        window.dispatchEvent(new KeyboardEvent('keydown', {key: keys[k % keys.length]})); k++;
        requestAnimationFrame(function () { requestAnimationFrame(step); });
      })();
    })""")
    page.key("0")
    page.eval("var s = document.getElementById('search'); s.value = 'worker[13]'; s.dispatchEvent(new Event('input'))")
    assert page.wait_for("document.body.dataset.matches === '100'")
    page.screenshot(STATIC / "viewer-100k-search.png")
    size = page_file.stat().st_size
    print(f"\n100k-span page: {len(trace)} spans, {size / 1e6:.1f} MB ({size / len(trace):.0f} B/span); "
          f"first frame {first_frame:.0f} ms, with the DOM index {ready:.0f} ms; "
          f"pan/zoom {frame_ms:.1f} ms per frame (two animation frames per step)")


def test_the_demo_page_for_the_docs(browser: Browser, tmp_path: Path) -> None:
    """The first screenshot of docs/visual-tracing.md: the README's demo on trio."""
    demo = ROOT / "examples" / "demo.py"
    proc = subprocess.run([sys.executable, str(demo), "--backend", "trio", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    page = browser.open((tmp_path / "demo-trio.html").as_uri())
    assert page.eval("document.getElementById('sum-failures').dataset.value") == "1"
    # the pipeline's SEQ passes values on its own stage channels: not counted, not drawn until asked for
    plumbing = page.eval("document.querySelectorAll('[data-arrow][data-plumbing]').length")
    arrows = page.eval("document.querySelectorAll('[data-arrow]').length")
    assert plumbing > 0
    assert page.eval("document.getElementById('sum-messages').dataset.value") == str(arrows - plumbing)
    page.click("#show-plumbing")
    assert page.eval("document.getElementById('show-plumbing').checked") is True
    page.click("#show-plumbing")
    page.screenshot(STATIC / "visual-trace.png")


def test_mouse_click_pairs_a_send_with_its_receive_and_the_overview_selects_a_range(browser: Browser) -> None:
    BUILD.mkdir(exist_ok=True)
    page = browser.open(Path(write_html(sample_trace(), BUILD / "viewer-mouse.html")).as_uri())
    ids = _sample_ids()
    # where the viewer draws: 270 px of labels, a 26 px axis, 22 px rows, 10 px right margin,
    # the whole run (100 ms) plus 1 % each side across the plot
    box = page.rect("#canvas")
    plot_w = box["width"] - 270 - 10

    def x_of(ms: float) -> float:
        return box["left"] + 270 + (ms + 1) / 102 * plot_w

    lane_a = box["top"] + 26 + 1 * 22 + 11  # row 0 is PAR, row 1 is a
    page.mouse("pressed", x_of(12.5), lane_a)  # the middle of "send ch1" (5 ms - 20 ms)
    page.mouse("released", x_of(12.5), lane_a)
    assert page.eval("document.body.dataset.pinned") == ids["send ch1"]
    assert page.eval("document.body.dataset.partner") == ids["recv ch1"]
    # drag across 20 %..60 % of the overview strip: the timeline shows that range
    ov = page.rect("#overview")
    page.drag(ov["left"] + 4 + 0.2 * (ov["width"] - 8), ov["top"] + 18, ov["left"] + 4 + 0.6 * (ov["width"] - 8),
              ov["top"] + 18)
    page.frame()
    lo, hi = (float(v) for v in page.eval("document.getElementById('overview').dataset.window").split(","))
    assert abs(lo - (0.2 * 1.02 - 0.01)) < 0.01 and abs(hi - (0.6 * 1.02 - 0.01)) < 0.01


def test_spans_from_other_services_are_plain_lanes(browser: Browser, tmp_path: Path) -> None:
    """An OTLP JSON file from a non-stbass program: a request, its calls to another service, a failed query."""
    def span(name: str, n: int, parent: int | None, start_ms: int, end_ms: int, service: str,
             **kw: Any) -> SpanRecord:
        return SpanRecord(name, "7" * 32, format(n, "016x"), format(parent, "016x") if parent else None,
                          start_ms * 1_000_000, end_ms * 1_000_000, resource={"service.name": service}, **kw)

    trace = Trace([
        span("GET /checkout", 1, None, 0, 90, "frontend", kind="SERVER"),
        span("POST /pay", 2, 1, 5, 60, "frontend", kind="CLIENT"),
        span("POST /pay", 3, 2, 8, 58, "payments", kind="SERVER"),
        span("SELECT card", 4, 3, 10, 30, "payments", kind="CLIENT", status_code="ERROR",
             status_description="timeout"),
        span("render", 5, 1, 62, 88, "frontend"),
    ])
    kinds = {"INTERNAL": 1, "SERVER": 2, "CLIENT": 3}
    lines = [  # OTLP JSON lines, one export request per span, as a file exporter writes them
        json.dumps({"resourceSpans": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": s.resource["service.name"]}}]},
            "scopeSpans": [{"spans": [{
                "traceId": s.trace_id, "spanId": s.span_id, "parentSpanId": s.parent_span_id or "", "name": s.name,
                "kind": kinds[s.kind], "startTimeUnixNano": str(s.start_time_ns), "endTimeUnixNano": str(s.end_time_ns),
                "status": {"code": 2 if s.is_error else 0, "message": s.status_description or ""}}]}]}]})
        for s in trace
    ]
    source = tmp_path / "otlp.jsonl"
    source.write_text("\n".join(lines) + "\n")
    page = browser.open(Path(write_html(load_trace(source), tmp_path / "otlp.html")).as_uri())
    lanes = page.eval("[...document.querySelectorAll('[data-lane]')].map(e => [e.textContent, +e.dataset.depth])")
    assert lanes == [["frontend", 0], ["frontend › 2", 1], ["payments › 3", 2], ["payments › 4", 3]]
    assert page.eval("document.getElementById('sum-failures').dataset.value") == "1"
    page.key("n")
    assert page.eval("document.body.dataset.pinned") == format(4, "016x")


# ------------------------------------------------- DAG dependency edges, deadlock markers

_EXAMPLE = ROOT / "examples" / "trace_dag_and_deadlock.py"


@pytest.fixture(scope="module")
def example_pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """examples/trace_dag_and_deadlock.py's pages, on both backends."""
    sys.path.insert(0, str(_EXAMPLE.parent))
    try:
        mod = runpy.run_path(str(_EXAMPLE), run_name="trace_dag_and_deadlock")
    finally:
        sys.path.remove(str(_EXAMPLE.parent))
    out = tmp_path_factory.mktemp("dag-deadlock")
    return {backend: mod["run_on"](backend, out) for backend in ("asyncio", "trio")}


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_dag_page_draws_its_dependency_edges(browser: Browser, example_pages: dict[str, Any],
                                              backend: str) -> None:
    pages = example_pages[backend]
    page = browser.open(pages.dag_html.as_uri())
    trace = load_trace(pages.dag_html.with_suffix(".jsonl"))
    span = {s.name.removeprefix("process "): s.span_id for s in trace.processes}
    (dag,) = trace.named("DAG")
    edges = page.eval("[...document.querySelectorAll('[data-edge]')].map(e => [e.dataset.dag, e.dataset.from, e.dataset.to])")
    assert sorted(map(tuple, edges)) == sorted(
        (dag.span_id, span[a], span[b]) for a, b in [("checkout", "build"), ("checkout", "lint"),
                                                     ("build", "test"), ("test", "package"), ("lint", "package")])
    assert page.eval("document.body.dataset.edges") == "5"
    page.frame()
    assert page.eval("document.body.dataset.edgesDrawn") == "5"  # all in view, all drawn
    # a task's details say what it ran after, with links to those tasks
    page.goto(pages.dag_html.as_uri() + "#span=" + span["package"])
    after = page.eval("document.querySelector('#details [data-after]').dataset.after").split(",")
    assert sorted(after) == sorted([span["test"], span["lint"]])
    assert page.eval("document.querySelector('#details [data-after]').textContent") in (
        "after: test, lint", "after: lint, test")
    page.goto(pages.dag_html.as_uri() + "#span=" + span["checkout"])
    before = page.eval("document.querySelector('#details [data-before]').dataset.before").split(",")
    assert sorted(before) == sorted([span["build"], span["lint"]])
    # folding the DAG's lane hides its task lanes and with them the edges
    page.key("Escape")
    page.click("#collapse-all")
    page.frame()
    assert page.eval("document.body.dataset.edgesDrawn") == "0"
    page.click("#expand-all")
    page.key("0")  # the whole run again (the deep links zoomed in on one task)
    page.frame()
    assert page.eval("document.body.dataset.edgesDrawn") == "5"
    if backend == "trio":
        page.screenshot(STATIC / "viewer-dag-edges.png")


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_dag_task_that_is_a_par_gets_its_edges_drawn(browser: Browser, backend: str,
                                                       tmp_path: Path) -> None:
    """A task that is a composition (``checks``, a PAR of two processes): the
    arrows go into and out of the PAR's lane, whose label names the task."""
    import anyio

    from stbass import PAR, Process, ProcessContext
    from stbass.dag import DAG
    from stbass.testing import record_spans
    from stbass_tracing import trace_from_spans

    @Process
    async def unit(ctx: ProcessContext) -> str:
        return "unit ok"

    @Process
    async def lint(ctx: ProcessContext) -> str:
        return "lint ok"

    dag = (DAG("release").add("build", lambda _: "wheel")
           .add("checks", PAR(unit, lint), after=["build"])
           .add("package", lambda d: len(d["checks"]), after=["checks"]))
    with record_spans() as spans:
        assert anyio.run(dag.run, backend=backend).values["package"] == 2
    trace = trace_from_spans(spans.spans)
    uri = Path(write_html(trace, tmp_path / "dag-par.html")).as_uri()
    page = browser.open(uri)
    (dag_span,) = trace.named("DAG")
    (par,) = trace.named("PAR")
    span = {s.name.removeprefix("process "): s.span_id for s in trace.processes}
    edges = page.eval("[...document.querySelectorAll('[data-edge]')].map(e => [e.dataset.dag, e.dataset.from, e.dataset.to])")
    assert sorted(map(tuple, edges)) == sorted([(dag_span.span_id, span["build"], par.span_id),
                                                (dag_span.span_id, par.span_id, span["package"])])
    page.frame()
    assert page.eval("document.body.dataset.edgesDrawn") == "2"
    page.goto(uri + "#span=" + span["package"])
    assert page.eval("document.querySelector('#details [data-after]').textContent") == "after: checks: PAR (2)"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_deadlock_is_marked_found_by_next_failure_and_highlights_its_cycle(
        browser: Browser, example_pages: dict[str, Any], backend: str) -> None:
    pages = example_pages[backend]
    page = browser.open(pages.deadlock_html.as_uri())
    trace = load_trace(pages.deadlock_html.with_suffix(".jsonl"))
    (par,) = trace.named("PAR")
    span = {s.name.removeprefix("process "): s.span_id for s in trace.processes}
    cycle = "ledger waits to send on totals -> auditor waits to send on checks -> ledger"
    (marker,) = page.eval("[...document.querySelectorAll('[data-marker=deadlock]')]"
                          ".map(e => [e.dataset.span, e.dataset.lane, e.dataset.cycleLanes, e.textContent])")
    assert marker[0] == par.span_id and marker[1] == par.span_id  # on the PAR's own lane
    assert sorted(marker[2].split(",")) == sorted([span["ledger"], span["auditor"]])
    assert marker[3] == cycle
    # the failure count includes the deadlock; "next failure" goes to it
    assert page.eval("document.getElementById('sum-failures').dataset.value") == "1"
    assert page.eval("document.body.dataset.deadlock") in (None, "")
    page.key("n")
    assert page.eval("document.body.dataset.pinned") == par.span_id
    assert page.eval("document.querySelector('#details [data-deadlock]').textContent").endswith(cycle)
    lanes = page.eval("document.body.dataset.deadlockLanes").split(",")
    assert sorted(lanes) == sorted([span["ledger"], span["auditor"]])  # not reporter: blocked, not in the cycle
    if backend == "trio":
        page.screenshot(STATIC / "viewer-deadlock.png")
    # the cycle's processes are links to their spans
    page.click("#details .cycle-processes [data-goto]")
    assert page.eval("document.body.dataset.pinned") in (span["ledger"], span["auditor"])
    assert page.eval("document.body.dataset.deadlockLanes") == ""
    # clicking the marker itself (on the PAR's lane, at the event's time) selects it again
    page.key("Escape")
    page.key("0")
    page.frame()
    box = page.rect("#canvas")
    plot_w = box["width"] - 270 - 10
    t = [e.time_ns for e in par.events if e.name == "deadlock"][0] - trace.start_ns
    x = box["left"] + 270 + (t / trace.wall_time_ns + 0.01) / 1.02 * plot_w
    page.mouse("pressed", x, box["top"] + 26 + 11)
    page.mouse("released", x, box["top"] + 26 + 11)
    assert page.eval("document.body.dataset.pinned") == par.span_id
    assert page.eval("document.body.dataset.deadlock") == par.span_id
    # Replay has a step for it, saying the cycle
    page.key("Escape")
    kinds = []
    for _ in range(20):
        page.key(".")
        kinds.append(page.eval("document.body.dataset.replayKind"))
        if kinds[-1] == "deadlock":
            break
    assert kinds[-1] == "deadlock"
    assert page.eval("document.getElementById('replay-status').textContent").endswith(cycle)
    assert page.eval("document.body.dataset.deadlock") == par.span_id
