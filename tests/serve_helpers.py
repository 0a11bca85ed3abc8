"""Helpers for the ``stbass-trace serve`` tests: a real server in a subprocess, and traced runs.

:class:`ServerProcess` starts ``python -m stbass_tracing serve --port 0`` on
127.0.0.1 with its own store and reads the URL it prints; :func:`traced_provider`
builds an SDK provider that exports to it with the SDK's own OTLP/HTTP exporter.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from stbass import PAR, SEQ, Chan, Process, ProcessContext, ProcessResult


class ServerProcess:
    """``stbass-trace serve`` running in a child process until :meth:`stop`."""

    def __init__(self, store: Path, *extra: str, timeout: float = 60.0) -> None:
        self.store = store
        self.stderr = ""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stbass_tracing", "serve", "--port", "0", "--store", str(store), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        line = ""
        while not line:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"serve did not start: {self.stderr}")
            if sel.select(left):
                line = self.proc.stdout.readline()
        sel.close()
        # "stbass-trace serve: http://127.0.0.1:PORT/ (OTLP/HTTP at ..., store ...)"
        self.first_line = line.strip()
        self.url = line.split()[2].rstrip("/")

    def stderr_text(self) -> str:
        """What the server wrote to stderr (once it has stopped)."""
        return self.stderr

    def stop(self) -> int:
        """Stop the server like Ctrl+C or `kill` would (SIGTERM); returns its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            _, self.stderr = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()
        return int(self.proc.returncode)


def traced_provider(url: str, service: str) -> TracerProvider:
    """An SDK provider exporting to *url* with the SDK's OTLP/HTTP (protobuf) exporter, in batches."""
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=10)))
    return provider


def pipeline(n_messages: int, *, fail: bool = False) -> SEQ:
    """SEQ(PAR(producer, consumer), check): *n_messages* on channel "numbers"; check fails if *fail*."""
    ch = Chan(int, name="numbers")

    @Process
    async def producer(ctx: ProcessContext) -> ProcessResult[None]:
        for i in range(n_messages):
            await ch.send(i)
        return ProcessResult.ok()

    @Process
    async def consumer(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(sum([await ch.recv() for _ in range(n_messages)]))

    @Process
    async def check(ctx: ProcessContext) -> ProcessResult[None]:
        if fail:
            raise ValueError("checksum mismatch")
        return ProcessResult.ok()

    return SEQ(PAR(producer, consumer), check)
