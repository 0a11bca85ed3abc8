"""The package's floors: no import cycle anywhere in ``stbass/`` (counting
imports inside functions, not those under ``TYPE_CHECKING``), and the core
never imports the floors above it."""

from __future__ import annotations

import ast
from pathlib import Path

import stbass

PACKAGE = Path(stbass.__file__).parent


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for stmt in node.orelse:
                visit(stmt)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _edges(name: str, path: Path) -> set[str]:
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    out: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = []
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                targets.append(sub if sub in MODULES else mod)
        out.update(t for t in targets if t in MODULES and t != name)
    return out


GRAPH = {name: _edges(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def strong(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            strong(v)
    return found


def test_the_graph_sees_the_imports() -> None:
    # guards the tests below against a parser that finds nothing
    assert "stbass._core._chan" in GRAPH["stbass._core._alt"]
    assert "stbass._core._hook" in GRAPH["stbass.observe"]


def test_no_import_cycles_in_stbass() -> None:
    assert _cycles() == []


def test_the_core_imports_nothing_above_it() -> None:
    allowed = {"stbass._names"}  # span-name constants: a leaf module
    for name, edges in GRAPH.items():
        if name.startswith("stbass._core"):
            above = {e for e in edges if not e.startswith("stbass._core") and e not in allowed}
            assert not above, f"{name} imports {above}"


def test_the_compose_floor_does_not_import_observe_or_integrations() -> None:
    for name, edges in GRAPH.items():
        if name.startswith("stbass._compose"):
            bad = {
                e
                for e in edges
                if e == "stbass.observe" or e.startswith(("stbass.mcp", "stbass.temporal", "stbass.testing"))
            }
            assert not bad, f"{name} imports {bad}"
