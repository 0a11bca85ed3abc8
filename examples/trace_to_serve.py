"""Watch a program's trace live in ``stbass-trace serve``, the local OTLP backend.

In one terminal start the server (OTLP/HTTP on 127.0.0.1:4318, like Jaeger's)::

    stbass-trace serve

and in another run this program; it prints the link to its timeline, which fills
in while the rounds run (a failure in the last round shows in red)::

    python examples/trace_to_serve.py
    python examples/trace_to_serve.py --backend trio --rounds 5
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:9000 python examples/trace_to_serve.py

The whole run is one trace: a root span ``orders`` around the rounds.
"""

from __future__ import annotations

import argparse
import os
import sys

import anyio
import anyio.to_thread
from opentelemetry import trace

import stbass_tracing
from stbass import PAR, SEQ, Chan, Process, ProcessContext, ProcessResult


def round_of(n: int, *, fail: bool) -> SEQ:
    """One round: a producer sends *n* orders to a packer over a channel, then a checker runs."""
    orders = Chan(int, name="orders")

    @Process
    async def producer(ctx: ProcessContext) -> ProcessResult[None]:
        for i in range(n):
            await orders.send(i)
        return ProcessResult.ok()

    @Process
    async def packer(ctx: ProcessContext) -> ProcessResult[int]:
        total = 0
        for _ in range(n):
            total += await orders.recv()
            await anyio.sleep(0.01)  # packing takes a while: watch the timeline grow
        return ProcessResult.ok(total)

    @Process
    async def checker(ctx: ProcessContext) -> ProcessResult[None]:
        if fail:
            raise ValueError("parcel weight does not match the order")
        return ProcessResult.ok()

    return SEQ(PAR(producer, packer), checker)


async def main(rounds: int = 3, flush: bool = True) -> list[bool]:
    """Run *rounds* rounds inside one ``orders`` span (the last one fails); True for each ok round."""
    handle = stbass_tracing.current()
    tracer = (handle.provider if handle is not None else trace).get_tracer("trace_to_serve")
    outcomes = []
    with tracer.start_as_current_span("orders") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318").rstrip("/")
        print(f"timeline: {base}/trace/{trace_id}", flush=True)
        for k in range(rounds):
            result = await round_of(5, fail=k == rounds - 1).run()
            outcomes.append(result.is_ok)
            print(f"round {k + 1}: {'ok' if result.is_ok else result.failures[0].summary}", flush=True)
            if flush and handle is not None:  # so the page shows this round now, not at exit
                await anyio.to_thread.run_sync(handle.force_flush)
    return outcomes


def cli(argv: list[str] | None = None) -> int:
    """Parse the options, run :func:`main` exporting OTLP to the server, flush."""
    parser = argparse.ArgumentParser(description="watch a trace live in stbass-trace serve")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    with stbass_tracing.configure("otlp", service_name=os.environ.get("OTEL_SERVICE_NAME") or "orders"):
        outcomes = anyio.run(main, args.rounds, backend=args.backend)
    return 0 if outcomes[:-1] == [True] * (len(outcomes) - 1) and not outcomes[-1] else 1


if __name__ == "__main__":
    sys.exit(cli())
