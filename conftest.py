"""Every test runs on asyncio and on trio (anyio's pytest plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import observe

from testing_backends import BACKENDS, TIMER_BACKENDS

__all__ = ["BACKENDS", "TIMER_BACKENDS"]


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
