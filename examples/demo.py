"""The README's demo: one multi-process program, run and traced on asyncio and on trio.

The program has four parts, run one after the other by a top-level SEQ:

1. **fan-out** — a dispatcher hands a topic to three researchers over channels,
   in a PAR; a synthesizer collects their answers with an ALT (whichever is ready);
2. **pipeline** — a SEQ of extract → transform → load passing values along;
3. **ALT with a timeout** — ask a cache and a slow search at once: the cache
   answers the first ALT, the second ALT gives up on the search when its TIMER
   fires, and the abandoned search finds its channel closed;
4. **one failure** — a flaky call fails, HALT cancels its patient sibling.

Each backend's run is traced with the ``file`` exporter into its own provider
(so the two runs are separate traces) and rendered as one self-contained HTML
page::

    python examples/demo.py                   # both backends, pages in build/
    python examples/demo.py --backend trio --out-dir /tmp/pages
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

import stbass_tracing
from stbass import (
    ALT,
    PAR,
    PRI_ALT,
    SEQ,
    TIMER,
    Chan,
    ChannelClosedError,
    FailurePolicy,
    Guard,
    Process,
    ProcessContext,
    ProcessResult,
    TimerExpired,
    observe,
)

BACKENDS = ("asyncio", "trio")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "build"
RESEARCHERS = 3


# ---------------------------------------------------------------- 1. fan-out


def fan_out(topic: str) -> PAR:
    """dispatcher → researcher[i] (one channel each) → synthesizer (ALT over the answers)."""
    asks = [Chan(str, name=f"ask{i}") for i in range(RESEARCHERS)]
    answers = [Chan(str, name=f"answer{i}") for i in range(RESEARCHERS)]

    @Process
    async def dispatcher(ctx: ProcessContext) -> ProcessResult[int]:
        for ch in asks:
            await ch.send(topic)
        return ProcessResult.ok(len(asks))

    def researcher(i: int) -> Process:
        @Process(name=f"researcher{i}")
        async def research(ctx: ProcessContext) -> ProcessResult[str]:
            question = await ctx.recv("ask")
            await anyio.sleep(0.004 * (RESEARCHERS - i))  # the last one is the fastest
            finding = f"finding {i} about {question}"
            await ctx.send("answer", finding)
            return ProcessResult.ok(finding)

        bound: Process = research.with_channels(ask=asks[i], answer=answers[i])
        return bound

    @Process
    async def synthesizer(ctx: ProcessContext) -> ProcessResult[str]:
        waiting = list(answers)
        found: list[str] = []
        def tagged(c: Chan[str]) -> Guard[tuple[Chan[str], str]]:
            return Guard(c, handler=lambda v: (c, v))

        while waiting:
            ch, value = await ALT(*[tagged(c) for c in waiting])
            waiting.remove(ch)
            found.append(value)
        return ProcessResult.ok(f"summary of {len(found)} findings")

    return PAR(dispatcher, *[researcher(i) for i in range(RESEARCHERS)], synthesizer)


# -------------------------------------------------------------- 2. pipeline


@Process
async def extract(ctx: ProcessContext) -> ProcessResult[list[str]]:
    await anyio.sleep(0.002)
    return ProcessResult.ok(["  alpha", "beta ", " gamma "])


@Process
async def transform(ctx: ProcessContext) -> ProcessResult[list[str]]:
    rows = await ctx.recv("input")
    await anyio.sleep(0.002)
    return ProcessResult.ok([r.strip().upper() for r in rows])


@Process
async def load(ctx: ProcessContext) -> ProcessResult[int]:
    rows = await ctx.recv("input")
    await anyio.sleep(0.002)
    return ProcessResult.ok(len(rows))


# ------------------------------------------------- 3. ALT with a timeout


def cache_or_search() -> PAR:
    """The cache answers at once; the search is too slow and is abandoned on a timeout."""
    from_cache = Chan(str, name="cache")
    from_search = Chan(str, name="search")

    @Process
    async def cache(ctx: ProcessContext) -> ProcessResult[None]:
        await from_cache.send("cached: what CSP means")
        return ProcessResult.ok()

    @Process
    async def search(ctx: ProcessContext) -> ProcessResult[str]:
        await anyio.sleep(0.15)  # slower than anyone is willing to wait
        try:
            await from_search.send("search: CSP, Hoare 1978")
        except ChannelClosedError:
            return ProcessResult.ok("search abandoned")
        return ProcessResult.ok("search delivered")

    @Process
    async def asker(ctx: ProcessContext) -> ProcessResult[list[str]]:
        got: list[str] = []
        first = await PRI_ALT(Guard(from_cache), Guard(from_search), Guard(TIMER(1.0, name="patience")))
        got.append(str(first))
        second = await ALT(Guard(from_search), Guard(TIMER(0.03, name="timeout")))
        got.append("timed out" if isinstance(second, TimerExpired) else str(second))
        from_search.close()  # nobody will listen any more: the search finds out
        return ProcessResult.ok(got)

    return PAR(cache, search, asker)


# -------------------------------------------------------------- 4. a failure


def failing_part() -> PAR:
    started = anyio.Event()

    @Process
    async def patient(ctx: ProcessContext) -> ProcessResult[None]:
        started.set()
        await anyio.sleep(10)  # cancelled by HALT long before
        return ProcessResult.ok()

    @Process
    async def flaky_api(ctx: ProcessContext) -> ProcessResult[None]:
        await started.wait()
        await anyio.sleep(0.005)
        raise ConnectionError("upstream answered 503 Service Unavailable")

    return PAR(patient, flaky_api, on_failure=FailurePolicy.HALT)


# ------------------------------------------------------------------- running


@dataclass
class DemoRun:
    """What one backend's run produced."""

    backend: str
    html: Path
    trace_file: Path
    spans: int
    processes: int
    messages: int
    failures: int


async def main() -> Any:
    """The whole program: fan-out, pipeline, ALT with a timeout, one failure."""
    program = SEQ(
        fan_out("CSP"),
        SEQ(extract, transform, load),
        cache_or_search(),
        failing_part(),
        on_failure=FailurePolicy.COLLECT,
    )
    return await program.run()


def run_on(backend: str, out_dir: Path) -> DemoRun:
    """Run :func:`main` on *backend*, traced to ``demo-<backend>.jsonl``, and write its page."""
    trace_file = out_dir / f"demo-{backend}.jsonl"
    handle = stbass_tracing.configure(
        "file", path=trace_file, service_name=f"stbass-demo-{backend}", set_global=False, install=False
    )
    try:
        with observe.use_tracer_provider(handle.provider):
            anyio.run(main, backend=backend)
    finally:
        handle.shutdown()
    trace = stbass_tracing.load_trace(trace_file)
    html = Path(
        stbass_tracing.write_html(trace, out_dir / f"demo-{backend}.html", title=f"stbass demo on {backend}")
    )
    return DemoRun(
        backend, html, trace_file, len(trace), len(trace.processes), len(trace.messages), len(trace.failures)
    )


def cli(argv: list[str] | None = None) -> int:
    """Command line: ``--backend asyncio|trio|both`` and ``--out-dir``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for backend in backends:
        run = run_on(backend, args.out_dir)
        print(
            f"{backend}: {run.processes} processes, {run.messages} messages, "
            f"{run.failures} failure(s) (the flaky one is on purpose), {run.spans} spans"
        )
        print(f"  HTML trace: {run.html}")
    return 0


if __name__ == "__main__":
    sys.exit(cli())
