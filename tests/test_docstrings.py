"""Docstrings of the public API: every public name shows an example, and the
synchronous examples are doctests that pass (issue 10)."""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import re

import pytest

PUBLIC_MODULES = (
    "stbass", "stbass.observe", "stbass.testing", "stbass.mcp", "stbass.actors", "stbass_tracing",
    "stbass.dag", "stbass.streams",
)  # fmt: skip

# Modules whose docstring examples run as doctests (the synchronous ones; async
# or illustrative examples are marked ``# doctest: +SKIP``).
DOCTEST_MODULES = (
    "stbass._core._chan",
    "stbass._compose._result",
    "stbass._core._timer",
    "stbass._core._alt",
    "stbass._compose._placement",
    "stbass._compose._placement_value",
    "stbass._compose._seqpar",
    "stbass._compose._choice",
    "stbass._compose._process",
    "stbass.observe",
    # beyond the core: the rest of what is public, minus examples that touch
    # process-wide state (stbass_tracing._config configures and shuts down SDKs)
    "stbass._compose._failure",
    "stbass._compose._topology",
    "stbass._compose._replicator",
    "stbass.mcp._client",
    "stbass.actors._actor",
    "stbass.testing._terms",
    "stbass.testing._tools",
    "stbass_tracing._layout",
    "stbass_tracing._model",
    "stbass_tracing._export",
    "stbass_tracing._viewer",
    "stbass_tracing._serve",
    "stbass_tracing._deliver",
    "stbass.dag",
    "stbass.streams",
)

# A ``>>>`` prompt, a reST literal block (a line ending in ``::``), or a fenced block.
_EXAMPLE = re.compile(r"^\s*>>> |::\s*$|^\s*```", re.MULTILINE)


def _public_objects() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for modname in PUBLIC_MODULES:
        module = importlib.import_module(modname)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.append((f"{modname}.{name}", obj))
    return found


def test_public_modules_export_classes_and_functions() -> None:
    # guards the test below against an empty parametrisation
    assert len(_public_objects()) > 50


@pytest.mark.parametrize(
    ("qualname", "obj"), _public_objects(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_public_name_has_docstring_with_example(qualname: str, obj: object) -> None:
    doc = inspect.getdoc(obj)
    assert doc, f"{qualname} has no docstring"
    assert _EXAMPLE.search(doc), f"{qualname}: docstring has no example (>>> or a code block)"


def _doctests(modname: str) -> list[doctest.DocTest]:
    """The doctests of *modname*: its module-level docstrings and those of the
    classes it defines.

    ``doctest.testmod`` alone would miss the classes: the public ones report
    ``stbass`` as their ``__module__`` (see ``stbass._util.fixup_module_metadata``),
    and the finder skips objects that look imported from elsewhere.
    """
    module = importlib.import_module(modname)
    finder = doctest.DocTestFinder()
    tests = {t.name: t for t in finder.find(module)}
    tree = ast.parse(inspect.getsource(module))
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            cls = vars(module)[node.name]
            for t in finder.find(cls, f"{modname}.{node.name}", module=False, globs=dict(vars(module))):
                tests.setdefault(t.name, t)
    return [t for t in tests.values() if t.examples]


@pytest.mark.parametrize("modname", DOCTEST_MODULES)
def test_docstring_examples_pass(modname: str) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS, verbose=False)
    failures: list[str] = []
    for test in _doctests(modname):
        out: list[str] = []
        result = runner.run(test, out=out.append)
        if result.failed:
            failures.append("".join(out))
    assert not failures, "\n".join(failures)


def test_doctests_really_run() -> None:
    # at least some examples run (not all skipped or absent)
    attempted = sum(
        1
        for modname in DOCTEST_MODULES
        for test in _doctests(modname)
        for ex in test.examples
        if not ex.options.get(doctest.SKIP, False)
    )
    assert attempted >= 150, attempted
