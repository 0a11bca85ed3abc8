"""Every test runs on asyncio and on trio (anyio's pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trio.testing
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import observe

BACKENDS = [
    pytest.param(("asyncio", {"debug": True}), id="asyncio"),
    pytest.param(("trio", {}), id="trio"),
]


def _mock_clock_trio() -> Any:
    return pytest.param(
        ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}), id="trio-mockclock"
    )


# For tests whose waiting is all timers: asyncio in real time, trio in virtual time
# (a 5 s timeout then runs in microseconds). Use with
# ``pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)``.
TIMER_BACKENDS = [BACKENDS[0], BACKENDS[1], _mock_clock_trio()]


@pytest.fixture(params=BACKENDS)
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """Spans emitted by stbass inside the test, from an injected SDK provider."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with observe.use_tracer_provider(provider):
        yield exporter
    provider.shutdown()
