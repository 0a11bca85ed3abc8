"""Small internal helpers shared by the core modules."""

from __future__ import annotations

from typing import Any


def fixup_module_metadata(module_name: str, namespace: dict[str, Any]) -> None:
    """Make the public objects of *namespace* report *module_name* as their module.

    Tracebacks, reprs and docs then show ``stbass.Chan`` instead of
    ``stbass._chan.Chan`` (the same trick as trio's ``_util.fixup_module_metadata``).
    """
    seen: set[int] = set()

    def fix_one(qualname: str, name: str, obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        mod = getattr(obj, "__module__", None)
        # Only objects still named after a private module: what an earlier call
        # gave a public name (``stbass``) keeps it, so pickle finds every object.
        if mod is not None and mod.startswith("stbass.") and any(
            part.startswith("_") for part in mod.split(".")
        ):
            obj.__module__ = module_name
            if isinstance(obj, type):
                obj.__qualname__ = qualname
                for attr_name, attr_value in obj.__dict__.items():
                    fix_one(f"{qualname}.{attr_name}", attr_name, attr_value)

    for objname, obj in namespace.items():
        if not objname.startswith("_"):
            fix_one(objname, objname, obj)


def describe_type(spec: object) -> str:
    """A short human name for a type or type expression, for error messages."""
    if isinstance(spec, type):
        return spec.__qualname__
    return repr(spec).replace("typing.", "")


def is_coroutine_function(fn: object) -> bool:
    """Is *fn* an async function (or a callable whose ``__call__`` is one, or
    one of stbass's methods that return a coroutine, like ``Chan.send``)?"""
    import inspect

    return inspect.iscoroutinefunction(fn) or getattr(fn, "_stbass_coroutine", False) or (
        callable(fn) and inspect.iscoroutinefunction(getattr(fn, "__call__", None))
    )
