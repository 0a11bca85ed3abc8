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
