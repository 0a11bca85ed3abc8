"""Command line: ``python -m stbass.temporal worker --endpoint QUEUE --import pkg.module``.

Starts a Temporal worker polling task queue ``QUEUE`` with the stbass activity
and workflows, after importing the modules that define your processes. Prints
``stbass worker ready: queue=QUEUE`` once it polls; SIGINT/SIGTERM stop it
gracefully.
"""

from __future__ import annotations

import argparse
import asyncio  # the worker is a Temporal SDK program, which is asyncio-only
import signal
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stbass.temporal")
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="poll a task queue and run stbass processes")
    worker.add_argument("--endpoint", required=True, help="the Temporal task queue to poll")
    worker.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="module (dotted name or .py file) defining processes; repeatable",
    )
    worker.add_argument("--target", default="127.0.0.1:7233", help="Temporal frontend HOST:PORT")
    worker.add_argument("--namespace", default="default")
    worker.add_argument("--max-concurrent", type=int, default=None,
                        help="most activities run at once by this worker")
    worker.add_argument("--sticky-timeout", type=float, default=10.0,
                        help="seconds before a lost worker's cached workflows move on")
    return parser


async def _serve(args: argparse.Namespace) -> None:
    from ._worker import run_worker

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready() -> None:
        print(f"stbass worker ready: queue={args.endpoint}", flush=True)

    await run_worker(
        args.endpoint,
        args.imports,
        target=args.target,
        namespace=args.namespace,
        max_concurrent_activities=args.max_concurrent,
        sticky_timeout=args.sticky_timeout,
        until=stop.wait,
        on_ready=ready,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m stbass.temporal``."""
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:  # pragma: no cover - second Ctrl-C
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
