"""``stbass-trace serve`` in a real browser: a traced stbass program exports to the server
while headless Chromium shows the trace list and the trace's timeline, which update
without a reload. Writes the screenshots of docs/visual-tracing.md.
"""

from __future__ import annotations

import os

from collections.abc import Iterator
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
import sniffio

from cdp import Browser, find_chromium
from serve_helpers import ServerProcess, pipeline, traced_provider
from stbass import observe

pytestmark = [pytest.mark.anyio, pytest.mark.browser, pytest.mark.slow]

#: the docs' images with STBASS_DOCS_SCREENSHOTS=1 (to refresh them), else build/
STATIC = Path(__file__).resolve().parent.parent / (
    "docs/_static" if os.environ.get("STBASS_DOCS_SCREENSHOTS") else "build/screenshots"
)
STATIC.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    with Browser(chromium, str(tmp_path / "profile"), height=720) as b:
        yield b
    assert b.exceptions == []


async def test_the_list_and_the_timeline_update_while_the_program_runs(
    browser: Browser, tmp_path: Path
) -> None:
    backend = sniffio.current_async_library()
    server = ServerProcess(tmp_path / "store")
    try:
        provider = traced_provider(server.url, f"orders-{backend}")
        tracer = provider.get_tracer("test")
        with anyio.fail_after(180), observe.use_tracer_provider(provider):
            listing = await anyio.to_thread.run_sync(browser.open, server.url + "/")
            assert listing.eval("document.getElementById('count').dataset.value") == "0"
            with tracer.start_as_current_span("nightly batch") as job:
                trace_id = format(job.get_span_context().trace_id, "032x")
                await pipeline(4).run()
                assert provider.force_flush()
                # the list shows the new trace without a reload
                assert await anyio.to_thread.run_sync(
                    listing.wait_for, f"document.querySelector('tr[data-trace=\"{trace_id}\"]')"
                )
                page = await anyio.to_thread.run_sync(browser.open, f"{server.url}/trace/{trace_id}")
                first = int(page.eval("document.body.dataset.spans"))
                assert first > 0 and page.eval("document.body.dataset.failures") == "0"
                lanes_before = page.eval("document.querySelectorAll('[data-lane][data-kind=process]').length")
                assert lanes_before == 3  # producer, consumer, check

                await pipeline(6, fail=True).run()  # more work, and a failure
                assert provider.force_flush()
                assert await anyio.to_thread.run_sync(
                    page.wait_for, f"+document.body.dataset.spans > {first} && document.body.dataset.failures === '1'"
                )
                assert page.eval("document.querySelectorAll('[data-lane][data-kind=process]').length") == 6
                assert page.eval("document.getElementById('sum-failures').dataset.value") == "1"
                assert page.eval("document.querySelectorAll('[data-arrow]').length") == 4 + 6
            assert provider.force_flush()
            provider.shutdown()
            # the root span arrives last: the page names it
            assert await anyio.to_thread.run_sync(
                page.wait_for, "document.querySelector('[data-lane]').textContent === 'nightly batch'"
            )
            if backend == "asyncio":  # one set of screenshots for the docs
                assert page.eval("document.getElementById('title-text').textContent").startswith(
                    "orders-asyncio — nightly batch")
                await anyio.to_thread.run_sync(page.key, "n")  # to the failure
                await anyio.to_thread.run_sync(page.screenshot, STATIC / "serve-trace.png")
                assert await anyio.to_thread.run_sync(
                    listing.wait_for,
                    f"document.querySelector('tr[data-trace=\"{trace_id}\"]').dataset.failures === '1'",
                )
                await anyio.to_thread.run_sync(listing.screenshot, STATIC / "serve-list.png")
    finally:
        assert server.stop() == 0, server.stderr_text()
