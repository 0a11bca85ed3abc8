"""Send stbass's spans to Jaeger (or any OTLP receiver) and, without a collector,
write a file Jaeger UI can upload.

Start Jaeger locally (its all-in-one image listens for OTLP on 4317/4318 and
serves the UI on 16686), then::

    python examples/trace_to_jaeger.py                       # OTLP/HTTP to 127.0.0.1:4318
    python examples/trace_to_jaeger.py --protocol grpc       # OTLP/gRPC to 127.0.0.1:4317
    OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 python examples/trace_to_jaeger.py
    python examples/trace_to_jaeger.py --jaeger-json build/jaeger.json   # no collector at all

The service is called ``stbass-example`` (``OTEL_SERVICE_NAME`` overrides it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import anyio

import stbass_tracing
from stbass import PAR, Chan, Process, ProcessContext, ProcessResult


async def main() -> None:
    """A producer and a consumer talking over one channel (the getting-started program)."""
    ch = Chan(dict, name="data_chan")

    @Process
    async def producer(ctx: ProcessContext) -> ProcessResult[str]:
        await ctx.send("data_chan", {"query": "hello world"})
        return ProcessResult.ok("sent")

    @Process
    async def consumer(ctx: ProcessContext) -> ProcessResult[str]:
        return ProcessResult.ok(f"processed: {await ctx.recv('data_chan')}")

    result = await PAR(producer.with_channels(data_chan=ch), consumer.with_channels(data_chan=ch)).run()
    print("ok" if result.is_ok else result.failures[0].summary)


def cli(argv: list[str] | None = None) -> int:
    """Parse the options, run :func:`main` traced, flush."""
    parser = argparse.ArgumentParser(description="send stbass spans to Jaeger")
    parser.add_argument("--protocol", choices=("http/protobuf", "grpc"), default=None)
    parser.add_argument("--endpoint", default=None, help="OTLP endpoint (default: a local Jaeger)")
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--jaeger-json", type=Path, help="write a Jaeger UI upload file instead of OTLP")
    args = parser.parse_args(argv)
    service = os.environ.get("OTEL_SERVICE_NAME") or "stbass-example"
    if args.jaeger_json is not None:
        with tempfile.TemporaryDirectory() as tmp:
            trace_file = Path(tmp) / "trace.jsonl"
            with stbass_tracing.configure("file", path=trace_file, service_name=service):
                anyio.run(main, backend=args.backend)
            doc = stbass_tracing.to_jaeger(stbass_tracing.load_trace(trace_file))
        args.jaeger_json.parent.mkdir(parents=True, exist_ok=True)
        args.jaeger_json.write_text(json.dumps(doc))
        print(f"upload {args.jaeger_json} in Jaeger UI (Search → JSON File)")
        return 0
    with stbass_tracing.configure(
        "otlp", endpoint=args.endpoint, protocol=args.protocol, service_name=service
    ) as handle:
        anyio.run(main, backend=args.backend)
    # after the with block: flushed and shut down, the counts are final
    delivery = handle.delivery()
    if delivery.exported == 0:
        print("no span was delivered: is a collector listening? (try --jaeger-json)")
        return 1
    print(f"{delivery.exported} spans delivered; open Jaeger UI and look for service {service!r}")
    if delivery.lost:
        print(f"{delivery.lost} spans were not delivered")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
