"""The ``stbass-trace`` command (also ``python -m stbass_tracing``).

::

    stbass-trace view TRACE.jsonl -o trace.html [--open] [--title TEXT]
    stbass-trace run script.py [--backend asyncio|trio] [-o trace.html] [--trace-file F] [-- ARGS...]
    stbass-trace export TRACE.jsonl --format perfetto|jaeger [-o out.json]
    stbass-trace serve [--host 127.0.0.1] [--port 4318] [--store DIR] [--max-store-mb N]

``view`` and ``export`` read stbass trace files, OTLP JSON and Jaeger JSON; in
place of a file they take the 32-hex id of a trace that ``serve`` stored
(``--store``, default the user's cache directory).

Bad input (a missing, empty or corrupt trace file, a missing script) prints one
line ``stbass-trace: error: ...`` naming the file, the line and what was wrong,
and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import runpy
import sys
import traceback
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._config import ENV_TRACE_FILE, configure
from ._config import shutdown as shutdown_tracing
from ._export import to_jaeger, to_perfetto
from ._model import TraceFileError, load_trace
from ._serve import DEFAULT_HOST, DEFAULT_MAX_BODY, DEFAULT_MAX_BYTES, DEFAULT_PORT, TRACE_ID_RE
from ._viewer import write_html

__all__ = ("main",)

PROG = "stbass-trace"


class CLIError(Exception):
    """A problem with the command's input, reported as one line (exit status 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Look at stbass traces: HTML timeline, a local OTLP backend with a live view, "
            "Perfetto and Jaeger exports."
        ),
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    v = sub.add_parser("view", help="write the self-contained HTML page for a trace file")
    v.add_argument("trace", help=_TRACE_HELP)
    v.add_argument("-o", "--output", help="HTML file to write (default: TRACE with .html)")
    v.add_argument("--store", help="where 'serve' keeps traces (for a trace id; default: the user cache)")
    v.add_argument("--title", help="page title")
    v.add_argument("--open", action="store_true", help="open the page in a browser")

    r = sub.add_parser("run", help="run a script with tracing to a file, then write the HTML page")
    r.add_argument("script", help="Python script to run")
    r.add_argument(
        "--backend",
        choices=("asyncio", "trio"),
        help="run the script's async main() on this backend (default: run the script as __main__)",
    )
    r.add_argument("-o", "--output", help="HTML file to write (default: SCRIPT with .html)")
    r.add_argument("--trace-file", help="where to keep the spans (default: OUTPUT with .jsonl)")
    r.add_argument("--title", help="page title")
    r.add_argument("--open", action="store_true", help="open the page in a browser")

    e = sub.add_parser("export", help="convert a trace file for Perfetto or Jaeger UI")
    e.add_argument("trace", help=_TRACE_HELP)
    e.add_argument("--format", required=True, choices=("perfetto", "jaeger"), help="output format")
    e.add_argument("-o", "--output", help="file to write (default: standard output)")
    e.add_argument("--store", help="where 'serve' keeps traces (for a trace id; default: the user cache)")

    s = sub.add_parser("serve", help="run a local OTLP/HTTP trace backend with a live timeline")
    s.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})")
    s.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default: {DEFAULT_PORT}, OTLP/HTTP's; 0 picks a free one)")
    s.add_argument("--store", help="directory for the traces (default: ~/.cache/stbass/traces)")
    s.add_argument("--max-store-mb", type=_positive, default=DEFAULT_MAX_BYTES // 2**20,
                   help="size bound of the store; the least recently updated traces go first (default: %(default)s)")
    s.add_argument("--max-body-mb", type=_positive, default=DEFAULT_MAX_BODY // 2**20,
                   help="largest OTLP request accepted, after decompression (default: %(default)s)")
    return p


_TRACE_HELP = "trace file (stbass JSON lines, OTLP JSON or Jaeger JSON), or the id of a trace in --store"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _trace_path(arg: str, store: str | None) -> str:
    """*arg* itself, or the stored file of the trace id *arg*."""
    if os.path.exists(arg) or not TRACE_ID_RE.match(arg):
        return arg
    from ._serve import default_store_dir

    stored = Path(store) if store else default_store_dir()
    candidate = stored / f"{arg.lower()}.jsonl"
    if not candidate.exists():
        raise CLIError(f"{arg}: no such file, and no trace with this id in {stored}")
    return str(candidate)


def _open_in_browser(path: str) -> None:
    webbrowser.open(Path(path).resolve().as_uri())


def _cmd_view(args: argparse.Namespace) -> int:
    path = _trace_path(args.trace, args.store)
    trace = load_trace(path)
    out = args.output or (f"{args.trace}.html" if path != args.trace else str(Path(path).with_suffix(".html")))
    write_html(trace, out, title=args.title)
    print(out)
    if args.open:
        _open_in_browser(out)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    trace = load_trace(_trace_path(args.trace, args.store))
    doc = to_perfetto(trace) if args.format == "perfetto" else to_jaeger(trace)
    text = json.dumps(doc, separators=(",", ":"))
    if args.output:
        parent = os.path.dirname(args.output)
        if parent:
            os.makedirs(parent, exist_ok=True)
        Path(args.output).write_text(text, encoding="utf-8")
        print(args.output)
    else:
        sys.stdout.write(text + "\n")
    return 0


def _run_script(script: str, backend: str | None, script_args: list[str]) -> int:
    """Run the user's script; returns its exit status (its own errors are its own)."""
    old_argv = sys.argv
    sys.argv = [script, *script_args]
    script_dir = os.path.dirname(os.path.abspath(script))
    sys.path.insert(0, script_dir)
    try:
        if backend is None:
            runpy.run_path(script, run_name="__main__")
        else:
            namespace = runpy.run_path(script, run_name="__stbass_trace__")
            entry: Any = namespace.get("main")
            if not inspect.iscoroutinefunction(entry):
                raise CLIError(
                    f"{script}: --backend needs an 'async def main()' in the script "
                    "(without --backend the script runs as __main__ and picks its own backend)"
                )
            import anyio

            anyio.run(entry, backend=backend)
        return 0
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        print(code, file=sys.stderr)
        return 1
    except CLIError:
        raise
    except BaseException:  # the script's own failure: show it, still write the page
        traceback.print_exc()
        return 1
    finally:
        sys.argv = old_argv
        if sys.path and sys.path[0] == script_dir:
            del sys.path[0]


def _cmd_run(args: argparse.Namespace) -> int:
    script = args.script
    if not os.path.isfile(script):
        raise CLIError(f"{script}: no such script")
    out = args.output or str(Path(script).with_suffix(".html").name)
    trace_file = args.trace_file or str(Path(out).with_suffix(".jsonl"))
    script_args = list(getattr(args, "script_args", []))
    os.environ[ENV_TRACE_FILE] = os.path.abspath(trace_file)
    if args.backend:
        os.environ["STBASS_BACKEND"] = args.backend
    handle = configure("file", path=trace_file, service_name=Path(script).stem)
    try:
        status = _run_script(script, args.backend, script_args)
    finally:
        handle.shutdown()
        shutdown_tracing()
    try:
        trace = load_trace(trace_file)
    except TraceFileError as exc:
        if exc.reason.startswith("empty"):
            raise CLIError(
                f"{script} produced no spans (it ran no stbass process?); nothing to show"
            ) from None
        raise
    write_html(trace, out, title=args.title or f"stbass trace — {Path(script).name}")
    print(out)
    if args.open:
        _open_in_browser(out)
    return status


def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise CLIError(f"serve needs starlette and uvicorn ({exc}): pip install 'stbass[tracing]'") from None
    from ._serve import TraceStore, default_store_dir, serve

    store = TraceStore(args.store or default_store_dir(), max_bytes=args.max_store_mb * 2**20)

    def ready(url: str) -> None:
        print(f"{PROG} serve: {url}/ (OTLP/HTTP at {url}/v1/traces, store {store.directory})", flush=True)

    try:
        serve(store, host=args.host, port=args.port, max_body=args.max_body_mb * 2**20, ready=ready)
    except OSError as exc:
        raise CLIError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``stbass-trace``; returns the exit status.

    >>> # main(["view", "trace.jsonl", "-o", "trace.html"])
    """
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args: list[str] = []
    if "--" in argv:  # everything after "--" goes to the script of `run`
        cut = argv.index("--")
        argv, script_args = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    args.script_args = script_args
    try:
        if args.command == "view":
            return _cmd_view(args)
        if args.command == "export":
            return _cmd_export(args)
        if args.command == "serve":
            return _cmd_serve(args)
        return _cmd_run(args)
    except (TraceFileError, CLIError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{PROG}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
