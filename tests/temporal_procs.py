"""Processes the Temporal tests run on real workers.

Workers import this file (``--import tests/temporal_procs.py``, module name
``temporal_procs``); the tests import it too, so both sides agree on the paths.
Marker files record how often each body ran, since the bodies run in other
processes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio

from stbass import Chan, Process, ProcessContext, ProcessResult


def _record(directory: str, name: str) -> int:
    """Append one line to ``<directory>/<name>.runs``; returns the run count."""
    path = Path(directory) / f"{name}.runs"
    with path.open("a") as f:
        f.write(f"{os.getpid()}\n")
    return len(path.read_text().splitlines())


def runs(directory: Path, name: str) -> int:
    """How many times the body *name* ran (0 when never)."""
    path = directory / f"{name}.runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


@Process
async def whoami(ctx: ProcessContext) -> ProcessResult[dict[str, Any]]:
    """Where did I run? Queue, worker pid and idempotency key."""
    await anyio.lowlevel.checkpoint()
    config = ctx.placement.config if ctx.placement is not None else {}
    return ProcessResult.ok(
        {
            "queue": config.get("task_queue"),
            "pid": os.getpid(),
            "key": config.get("idempotency_key"),
            "name": ctx.process_name,
        }
    )


@Process
async def boom(ctx: ProcessContext) -> ProcessResult[None]:
    ctx.checkpoint({"stage": "before boom"})
    await anyio.lowlevel.checkpoint()
    raise ValueError("remote boom 42")


@Process
async def counted(ctx: ProcessContext) -> ProcessResult[int]:
    """Counts its runs in ``placement.config["dir"]``."""
    assert ctx.placement is not None
    n = _record(ctx.placement.config["dir"], "counted")
    await anyio.lowlevel.checkpoint()
    return ProcessResult.ok(n)


@Process
async def sleeper(ctx: ProcessContext) -> ProcessResult[None]:
    """Marks ``started``, sleeps, and marks ``cancelled`` when cancelled."""
    assert ctx.placement is not None
    directory = ctx.placement.config["dir"]
    _record(directory, "sleeper.started")
    try:
        await anyio.sleep(60)
    except anyio.get_cancelled_exc_class():
        _record(directory, "sleeper.cancelled")
        raise
    return ProcessResult.ok(None)


async def _step(ctx: ProcessContext, name: str) -> dict[str, Any]:
    state: dict[str, Any] = await ctx.recv("input")
    _record(state["dir"], name)
    return {"dir": state["dir"], "trail": [*state["trail"], name]}


@Process
async def step_one(ctx: ProcessContext) -> dict[str, Any]:
    return await _step(ctx, "step_one")


@Process
async def step_two(ctx: ProcessContext) -> dict[str, Any]:
    """Waits for ``<dir>/release`` before finishing (the test kills its worker first)."""
    state = await _step(ctx, "step_two")
    release = Path(state["dir"]) / "release"
    while not release.exists():  # another process creates it: nothing to await but the file
        await anyio.sleep(0.05)
    return state


@Process
async def step_three(ctx: ProcessContext) -> dict[str, Any]:
    return await _step(ctx, "step_three")


async def square(index: int, ctx: ProcessContext) -> ProcessResult[int]:
    """A PAR_FOR body."""
    await anyio.lowlevel.checkpoint()
    return ProcessResult.ok(index * index)


#: a process bound to a channel: must be refused for remote placement
chatty = whoami.with_channels(events=Chan(int, name="events")).with_name("chatty")


@Process
async def gated(ctx: ProcessContext) -> int:
    """Counts its runs in ``placement.config["dir"]``, then waits for ``<dir>/release``."""
    assert ctx.placement is not None
    directory = ctx.placement.config["dir"]
    n = _record(directory, "gated")
    while not (Path(directory) / "release").exists():  # made by the test process
        await anyio.sleep(0.05)
    return n


# ------------------------------------------------- failures that read like local ones


class QuotaError(Exception):
    """A user exception with several arguments and its own ``__str__``."""

    def __str__(self) -> str:
        return f"quota of {self.args[0]} exhausted after {self.args[1]} calls"


@Process
async def missing_key(ctx: ProcessContext) -> None:
    await anyio.lowlevel.checkpoint()
    raise KeyError("missing-key-7")


@Process
async def no_file(ctx: ProcessContext) -> None:
    await anyio.lowlevel.checkpoint()
    open("/nonexistent/stbass-7.txt")


@Process
async def bad_bytes(ctx: ProcessContext) -> None:
    await anyio.lowlevel.checkpoint()
    b"ok \xff".decode("utf-8")  # UnicodeDecodeError: its args hold bytes


@Process
async def over_quota(ctx: ProcessContext) -> None:
    await anyio.lowlevel.checkpoint()
    raise QuotaError("gpu", 3)


@Process
async def returns_set(ctx: ProcessContext) -> set[int]:
    await anyio.lowlevel.checkpoint()
    return {1, 2, 3}


@Process
async def flaky(ctx: ProcessContext) -> dict[str, Any]:
    """Fails the first time (no ``<dir>/flaky.ok`` yet), succeeds after."""
    state = await _step(ctx, "flaky")
    if not (Path(state["dir"]) / "flaky.ok").exists():
        (Path(state["dir"]) / "flaky.ok").touch()
        raise RuntimeError("flaky: first run fails")
    return state


# ------------------------------------------------- worker-side spans, for the trace tests


def _install_span_file(path: str) -> None:
    """Record this worker's spans as JSON lines in *path* (one per finished span)."""
    import json

    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    from stbass import observe

    # Opened once, here: workflow spans end inside Temporal's sandbox, where
    # open() is not allowed (writing to an open file is).
    f = open(path, "a", buffering=1)

    class _Lines(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            for span in spans:
                assert isinstance(span, ReadableSpan) and span.context is not None
                f.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "trace_id": f"{span.context.trace_id:032x}",
                            "span_id": f"{span.context.span_id:016x}",
                            "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                            "pid": os.getpid(),
                        }
                    )
                    + "\n"
                )
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_Lines()))
    observe.set_tracer_provider(provider)


if os.environ.get("STBASS_TEST_SPANS"):
    _install_span_file(os.environ["STBASS_TEST_SPANS"])


# ------------------------------------------------- DAG tasks (durable DAGs)
# A task's input is the DAG's input (``{"dir": ...}``) or its dependencies' values
# by name; every value carries ``dir`` along so the bodies can count their runs.


def dag_fetch(state: dict[str, Any]) -> dict[str, Any]:
    """A sync function task."""
    _record(state["dir"], "dag_fetch")
    return {"dir": state["dir"], "rows": [3, 1, 2]}


async def dag_stats(deps: dict[str, Any]) -> dict[str, Any]:
    """An async function task after ``fetch``."""
    fetched = deps["fetch"]
    _record(fetched["dir"], "dag_stats")
    await anyio.lowlevel.checkpoint()
    return {"dir": fetched["dir"], "total": sum(fetched["rows"])}


def dag_flaky(deps: dict[str, Any]) -> dict[str, Any]:
    """Fails until ``<dir>/dag_flaky.ok`` exists (the test creates it, or the
    second attempt does when ``<dir>/dag_flaky.heal`` exists)."""
    directory = Path(deps["fetch"]["dir"])
    n = _record(str(directory), "dag_flaky")
    if (directory / "dag_flaky.heal").exists() and n >= 2:
        (directory / "dag_flaky.ok").touch()
    if not (directory / "dag_flaky.ok").exists():
        raise RuntimeError(f"dag_flaky: attempt {n} fails")
    return {"dir": str(directory), "sorted": sorted(deps["fetch"]["rows"])}


def dag_report(deps: dict[str, Any]) -> str:
    """Needs ``stats`` and ``sort``."""
    _record(deps["stats"]["dir"], "dag_report")
    return f"total {deps['stats']['total']}, sorted {deps['sort']['sorted']}"


@Process
async def dag_wait(ctx: ProcessContext) -> str:
    """A Process task (input on ``"input"``): waits for ``<dir>/release``, marks
    ``dag_wait.cancelled`` when cancelled (by HALT)."""
    state: dict[str, Any] = await ctx.recv("input")
    directory = state["dir"]
    _record(directory, "dag_wait.started")
    try:
        while not (Path(directory) / "release").exists():  # made by the test process
            await anyio.sleep(0.05)
    except anyio.get_cancelled_exc_class():
        _record(directory, "dag_wait.cancelled")
        raise
    return "released"


async def dag_boom(state: dict[str, Any]) -> None:
    """Fails once ``dag_wait`` has started (so HALT finds it running)."""
    directory = Path(state["dir"])
    while not (directory / "dag_wait.started.runs").exists():  # another activity
        await anyio.sleep(0.05)
    raise ValueError("dag boom")
