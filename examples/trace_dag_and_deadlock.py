"""Two traced runs for the viewer: a DAG's dependency edges and a deadlock marker.

1. **A release DAG** — ``checkout`` first, then ``build`` and ``lint`` at once,
   ``test`` after ``build``, ``package`` after ``test`` and ``lint``. Its page
   draws a dashed arrow from the end of each dependency to the start of the task
   that waited for it; a task's details list what it ran ``after``.
2. **A deadlock** — ``ledger`` and ``auditor`` both send first and receive
   second, so each waits for the other; ``reporter`` waits for ``ledger``'s
   report. Deadlock detection stops the PAR with ``DeadlockError``; its page puts
   a red "no entry" marker on the PAR's lane, *failure ▶* (``n``) goes there, and
   the details show the cycle with the lanes of ``ledger`` and ``auditor``
   highlighted.

Each run is traced with the ``file`` exporter and rendered as one page::

    python examples/trace_dag_and_deadlock.py                  # both backends, pages in build/
    python examples/trace_dag_and_deadlock.py --backend trio --out-dir /tmp/pages
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

import stbass_tracing
from stbass import PAR, Chan, DeadlockError, Process, ProcessContext, observe
from stbass.dag import DAG, DAGResult

BACKENDS = ("asyncio", "trio")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "build"


def release() -> DAG:
    """checkout -> (build, lint); build -> test; (test, lint) -> package."""

    async def checkout(_: Any) -> str:
        await anyio.sleep(0.004)
        return "rev 41c2"

    async def build(inputs: dict[str, Any]) -> str:
        await anyio.sleep(0.012)
        return f"wheel of {inputs['checkout']}"

    async def lint(inputs: dict[str, Any]) -> int:
        await anyio.sleep(0.006)
        return 0  # warnings

    async def test(inputs: dict[str, Any]) -> str:
        await anyio.sleep(0.008)
        return f"tests pass on {inputs['build']}"

    def package(inputs: dict[str, Any]) -> str:
        return f"{inputs['test']}; {inputs['lint']} lint warnings"

    return (
        DAG("release")
        .add("checkout", checkout)
        .add("build", build, after=["checkout"])
        .add("lint", lint, after=["checkout"])
        .add("test", test, after=["build"])
        .add("package", package, after=["test", "lint"])
    )


@Process
async def ledger(ctx: ProcessContext) -> None:
    """Sends its total to the auditor, then waits for the auditor's check."""
    await ctx.send("totals", 100)
    await ctx.recv("checks")
    await ctx.send("report", "balanced")


@Process
async def auditor(ctx: ProcessContext) -> None:
    """The bug: sends its check first too, so ledger and auditor wait for each other."""
    await ctx.send("checks", "ok")
    await ctx.recv("totals")


@Process
async def reporter(ctx: ProcessContext) -> str:
    """Waits for ledger's report: blocked, but not part of the cycle."""
    report: str = await ctx.recv("report")
    return report


def books() -> PAR:
    """ledger, auditor and reporter on three channels; it deadlocks."""
    totals, checks = Chan(int, name="totals"), Chan(str, name="checks")
    report = Chan(str, name="report")
    return PAR(
        reporter.with_channels(report=report),
        ledger.with_channels(totals=totals, checks=checks, report=report),
        auditor.with_channels(totals=totals, checks=checks),
    )


async def run_release() -> DAGResult:
    """Run the release DAG."""
    return await release().run()


async def run_books() -> DeadlockError:
    """Run the deadlocking PAR; returns the :class:`DeadlockError` it raises."""
    with anyio.fail_after(10):
        try:
            await books().run()
        except DeadlockError as err:
            return err
    raise AssertionError("books() did not deadlock")


@dataclass(frozen=True)
class Pages:
    """The pages written for one backend, and what the runs gave."""

    backend: str
    dag_html: Path
    deadlock_html: Path
    values: dict[str, Any]
    cycle: tuple[str, ...]


def _traced(backend: str, out_dir: Path, name: str, program: Any, title: str) -> tuple[Path, Any]:
    trace_file = out_dir / f"{name}-{backend}.jsonl"
    handle = stbass_tracing.configure(
        "file", path=trace_file, service_name=f"{name}-{backend}", set_global=False, install=False
    )
    try:
        with observe.use_tracer_provider(handle.provider):
            result = anyio.run(program, backend=backend)
    finally:
        handle.shutdown()
    page = stbass_tracing.write_html(stbass_tracing.load_trace(trace_file), out_dir / f"{name}-{backend}.html",
                                     title=title)
    return Path(page), result


def run_on(backend: str, out_dir: Path) -> Pages:
    """Run both programs on *backend*, traced, and write ``dag-<backend>.html`` and
    ``deadlock-<backend>.html`` in *out_dir*."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dag_html, result = _traced(backend, out_dir, "dag", run_release, f"release DAG on {backend}")
    deadlock_html, error = _traced(backend, out_dir, "deadlock", run_books, f"a deadlock on {backend}")
    return Pages(backend, dag_html, deadlock_html, dict(result.values), error.cycle)


def cli(argv: list[str] | None = None) -> int:
    """Command line: ``--backend asyncio|trio|both`` and ``--out-dir``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for backend in BACKENDS if args.backend == "both" else (args.backend,):
        pages = run_on(backend, args.out_dir)
        print(f"{backend}: package = {pages.values['package']!r}")
        print(f"  DAG page:      {pages.dag_html}")
        print(f"  deadlock ({' -> '.join(pages.cycle)}): {pages.deadlock_html}")
    return 0


if __name__ == "__main__":
    raise SystemExit(cli())
