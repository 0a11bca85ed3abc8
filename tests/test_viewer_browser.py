"""End to end in a real browser: headless Chromium opens the page from ``file://``.

Networking is disabled (no proxy, unresolvable hosts, no background traffic); the
test reads the rendered DOM (``--dump-dom``) and Chromium's console log, saves a
screenshot under ``build/``, and times the load of a 10,000-span page.
Skipped only when no Chromium is installed (``.ci/run`` installs Debian's).
"""

from __future__ import annotations

import html.parser
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stbass_tracing import layout_trace, write_html
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
