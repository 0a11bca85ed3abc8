"""Referring to processes by import path (``package.module:qualname``).

Only names travel to a Temporal worker, never code: the worker imports the
module and looks the process up. So a remote process must be a module-level
object; closures, lambdas and processes built inside functions are refused
with an error that says so.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from .._compose._seqpar import Composition
from .._compose._process import Process


class RemotePlacementError(TypeError):
    """A process cannot be placed on a Temporal worker (not importable, or it
    uses channels).

    >>> raise RemotePlacementError("process 'f' is not importable")  # doctest: +SKIP
    """


def _main_module_name() -> str | None:
    """The importable name of ``__main__`` (``python -m pkg.mod`` or a script's stem)."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and spec.name != "__main__":
        return str(spec.name)
    file: str | None = getattr(main, "__file__", None)
    if file:
        return os.path.splitext(os.path.basename(file))[0]
    return None


def _lookup(module: Any, qualname: str) -> Any:
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _public_module(name: str) -> str:
    return (_main_module_name() or name) if name == "__main__" else name


def callable_path(fn: Callable[..., Any], *, what: str) -> str:
    """``module:qualname`` of a module-level function (a PAR_FOR factory)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise RemotePlacementError(
            f"{what} {qualname or fn!r} is not importable: closures, lambdas and "
            f"functions defined inside other functions cannot travel to a Temporal "
            f"worker; define it at module level"
        )
    found = _lookup(sys.modules[module], qualname) if module in sys.modules else None
    if found is not fn and getattr(found, "__wrapped__", None) is not fn:
        raise RemotePlacementError(
            f"{what} {qualname!r} is not importable: {module}.{qualname} is not this "
            f"function; define it at module level under its own name"
        )
    return f"{_public_module(module)}:{qualname}"


def process_path(process: Process) -> str:
    """The import path of *process*: where a worker finds the same process.

    ``placement.config["process_path"]`` wins when given; otherwise the path is
    that of the module-level object the process is (or is a renamed, re-placed
    or optional copy of).

    >>> process_path(some_module_level_process)  # doctest: +SKIP
    'myapp.steps:fetch'
    """
    if process.placement is not None:
        explicit = process.placement.config.get("process_path")
        if explicit is not None:
            if not isinstance(explicit, str) or ":" not in explicit:
                raise RemotePlacementError(
                    f"process {process.name!r}: placement config 'process_path' must "
                    f"look like 'package.module:name', got {explicit!r}"
                )
            return explicit
    if isinstance(process, Composition):
        raise RemotePlacementError(
            f"process {process.name!r} is a composition: place its leaves, or run it "
            f"with stbass.temporal.durable(...)"
        )
    fn = process._fn
    if fn is not None:
        module = getattr(fn, "__module__", None)
        qualname = getattr(fn, "__qualname__", "")
    else:
        module = type(process).__module__
        qualname = ""
    hint = (
        "closures, lambdas and processes created inside functions cannot travel to a "
        "Temporal worker; define the process at module level (or give its import path "
        "as Placement(config={'process_path': 'pkg.module:name'}))"
    )
    if not module or "<" in qualname or module not in sys.modules:
        raise RemotePlacementError(f"process {process.name!r} is not importable: {hint}")
    mod = sys.modules[module]
    # The module-level object: the process itself, else the original it was copied
    # from (same body, or same class and state).
    candidates = [(k, v) for k, v in vars(mod).items() if isinstance(v, Process)]
    for attr, value in candidates:
        if value is process:
            return f"{_public_module(module)}:{attr}"
    for attr, value in candidates:
        if value.channels:
            continue
        if fn is not None and value._fn is fn:
            return f"{_public_module(module)}:{attr}"
        if fn is None and type(value) is type(process) and _same_state(value, process):
            return f"{_public_module(module)}:{attr}"
    raise RemotePlacementError(f"process {process.name!r} is not importable: {hint}")


_COPY_FIELDS = frozenset({"name", "placement", "is_optional", "channels"})


def _same_state(a: Process, b: Process) -> bool:
    va = {k: v for k, v in vars(a).items() if k not in _COPY_FIELDS}
    vb = {k: v for k, v in vars(b).items() if k not in _COPY_FIELDS}
    return va.keys() == vb.keys() and all(va[k] is vb[k] or va[k] == vb[k] for k in va)


def load(path: str, allowed: Callable[[str], bool] | None = None) -> Any:
    """Find the object at ``module:qualname``.

    *allowed*, when given, decides which modules may be imported on demand; a
    module already imported (by the worker's ``--import``) is always allowed.
    """
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise LookupError(f"bad process path {path!r}: expected 'package.module:name'")
    module = sys.modules.get(module_name)
    if module is None:
        if allowed is not None and not allowed(module_name):
            raise LookupError(
                f"module {module_name!r} is not imported by this worker "
                f"(start the worker with --import {module_name})"
            )
        module = importlib.import_module(module_name)
    try:
        return _lookup(module, qualname)
    except AttributeError:
        raise LookupError(f"module {module_name!r} has no {qualname!r} (from {path!r})") from None
