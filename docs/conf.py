"""Sphinx configuration for the stbass documentation.

Build (offline, warnings are errors)::

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # a fresh clone builds without installing the package

import stbass  # noqa: E402


def _import_tracing_from_source() -> None:
    """``tracing/`` installs as ``stbass_tracing``; without an install, map it here."""
    import importlib.util

    try:
        import stbass_tracing  # noqa: F401
    except ImportError:
        spec = importlib.util.spec_from_file_location(
            "stbass_tracing",
            ROOT / "tracing" / "__init__.py",
            submodule_search_locations=[str(ROOT / "tracing")],
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["stbass_tracing"] = module
        spec.loader.exec_module(module)


_import_tracing_from_source()

project = "stbass"
author = "The stbass developers"
copyright = "2025, The stbass developers"
release = stbass.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# --- the API reference ------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}

# Broken references are errors. The only names we let through are those of
# other projects (no intersphinx: the build must work offline), and the
# type aliases and private base classes that appear in signatures.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(anyio|trio|sniffio|asyncio|opentelemetry|pydantic|hypothesis|mcp|httpx)(\..*)?"),
    (r"py:.*", r"(datetime|enum|abc|typing|collections\.abc|contextlib|types|pathlib|os)(\..*)?"),
    (r"py:.*", r"(T|R|P|Any|Callable|Awaitable|Iterator|AsyncIterator|Sequence|Mapping|Literal)"),
    (r"py:.*", r"(Path|TextIO|IO|Status|SpanKind|Span|Tracer|TracerProvider|SpanExporter|ReadableSpan|SpanProcessor)"),
    (r"py:.*", r"(.*\.)?_[A-Za-z].*"),  # private helpers in signatures
    (r"py:.*", r"(stbass\.)?(_[a-z_]+\.)?(Factory|Count|Precondition|Strategy|Checker|ProcessFn|TaskFn|Outcome\..*)"),
]

# Pages written alongside this one: the index lists them, and an entry whose page
# does not exist (yet) is left out of the toctree instead of breaking the build.
OPTIONAL_PAGES = {
    "tracing", "visual-tracing", "mcp", "failures", "replicators", "topology",
    "placement", "laws", "distributed", "performance",
}

# --- HTML -------------------------------------------------------------------

html_theme = "furo"
html_title = f"stbass {release}"
html_static_path = ["_static"]
html_css_files = ["stbass.css"]
html_show_sourcelink = False


# Each public object is documented once: names exported from ``stbass`` under
# ``stbass``; the submodule sections (stbass.replicator, stbass.topology, ...)
# list only what no earlier section has documented. A reference written against
# another path of the same object (``Chan`` inside ``stbass.alt``'s docstrings,
# ``stbass.failure.FailureReport``) is resolved to the one documented object.
_documenting: list[str] = []
_documented: dict[int, str] = {}


def _note_module(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    if what == "module":
        _documenting[:] = [name]


def _skip_reexports(app: Any, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    if what != "module" or not _documenting or skip:
        return None
    module = _documenting[0]
    if not module.startswith("stbass"):
        return None
    if module != "stbass" and getattr(stbass, name, None) is obj and name in stbass.__all__:
        return True
    first = _documented.setdefault(id(obj), module)
    return True if first != module else None


def _dataclass_defaults(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, ret: str | None
) -> tuple[str | None, str | None] | None:
    # dataclass fields with a default_factory show as ``<factory>``, which is not
    # Python and makes Sphinx misparse the whole signature.
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "...") , ret
    return None


def _resolve_alias(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip("~.")
    domain = env.get_domain("py")
    tail = target.split(".")
    candidates = set()
    for n in (len(tail), len(tail) - 1):  # ``Chan`` / ``stbass.alt.Chan``: match the tail
        if n < 1:
            continue
        suffix = ".".join(tail[-n:])
        for fullname, obj in domain.objects.items():
            if obj.aliased:
                continue
            if (fullname == suffix or fullname.endswith("." + suffix)) and fullname.startswith("stbass"):
                candidates.add(fullname)
        if candidates:
            break
    if len(candidates) != 1:
        return None
    (fullname,) = candidates
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], fullname, node, contnode
    )


def _drop_missing_pages(app: Any, docname: str, source: list[str]) -> None:
    if docname != "index":
        return
    here = Path(app.srcdir)
    kept = []
    for line in source[0].splitlines(keepends=True):
        entry = line.strip()
        if entry in OPTIONAL_PAGES and not (here / f"{entry}.md").exists():
            continue
        kept.append(line)
    source[0] = "".join(kept)


# Every public name needs a docstring: a class, function or public member of a
# class exported by a documented module without one is a build warning (an error
# under -W). Inherited docstrings count.
DOCUMENTED_MODULES = ("stbass", "stbass.observe", "stbass.testing", "stbass.mcp", "stbass_tracing")

# Public names exempted from the check above: none. Keep it empty; write the
# docstring (with an example, see tests/test_docstrings.py) instead.
KNOWN_UNDOCUMENTED: set[str] = set()


def _member_doc(cls: type, attr: str) -> str | None:
    for klass in cls.__mro__:
        if attr in vars(klass):
            raw = vars(klass)[attr]
            fn = raw.fget if isinstance(raw, property) else getattr(raw, "__func__", raw)
            doc = getattr(fn, "__doc__", None)
            if doc:
                return str(doc)
    return None


def undocumented_public_names() -> list[str]:
    import importlib
    import inspect

    missing: list[str] = []
    seen: set[int] = set()
    for modname in DOCUMENTED_MODULES:
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if id(obj) in seen or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue  # data (SKIP, constants) is documented on the API page
            seen.add(id(obj))
            if not inspect.getdoc(obj):
                missing.append(f"{modname}.{name}")
            if not inspect.isclass(obj):
                continue
            for attr in dir(obj):
                if attr.startswith("_"):
                    continue
                owner = next((k for k in obj.__mro__ if attr in vars(k)), None)
                if owner is None or not (owner.__module__ or "").startswith("stbass"):
                    continue
                raw = vars(owner)[attr]
                if not (isinstance(raw, (property, classmethod, staticmethod)) or inspect.isfunction(raw)):
                    continue
                if not _member_doc(obj, attr):
                    missing.append(f"{modname}.{name}.{attr}")
    return missing


def _check_docstrings(app: Any) -> None:
    from sphinx.util import logging

    log = logging.getLogger("stbass.docs")
    for name in undocumented_public_names():
        if name not in KNOWN_UNDOCUMENTED:
            log.warning("public name without a docstring: %s", name)


def setup(app: Any) -> None:
    app.connect("builder-inited", _check_docstrings)
    app.connect("source-read", _drop_missing_pages)
    app.connect("autodoc-process-docstring", _note_module)
    app.connect("autodoc-skip-member", _skip_reexports)
    app.connect("autodoc-process-signature", _dataclass_defaults)
    app.connect("missing-reference", _resolve_alias)
