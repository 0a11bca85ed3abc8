"""The public API: names, modules, docstrings, and what the core may import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import stbass

PACKAGE = Path(stbass.__file__).resolve().parent

SPEC_NAMES = {
    "__version__", "Process", "ProcessContext", "ProcessResult", "Failure", "Chan", "SEQ",
    "PAR", "ALT", "PRI_ALT", "Guard", "SKIP", "TIMER", "DEADLINE", "TimerExpired", "PAR_FOR",
    "SEQ_FOR", "ChanArray", "Distributor", "Collector", "Placement", "PLACED_PAR",
    "BackendRegistry", "ExecutionBackend", "LocalBackend", "FailurePolicy", "RetryPolicy",
    "FailureReport", "FailureAggregator", "retry_process", "ChannelTypeError",
    "ChannelTopologyError", "ChannelClosedError", "ChannelProtocolError",
    "AllGuardsDisabledError", "IF", "WHILE", "RACE", "HEDGE", "QUORUM", "NoBranchError",
}  # fmt: skip

SUBMODULES = {
    "process": {"Process", "ProcessContext"},
    "result": {"ProcessResult", "Failure", "FailurePolicy", "RetryPolicy", "FailureReport"},
    "channel": {
        "Chan", "SequentialProtocol", "VariantProtocol", "ChannelTypeError",
        "ChannelTopologyError", "ChannelClosedError", "ChannelProtocolError",
    },
    "alt": {"ALT", "PRI_ALT", "Guard", "SKIP", "AllGuardsDisabledError"},
    "timer": {"TIMER", "DEADLINE", "TimerExpired"},
    "replicator": {"PAR_FOR", "SEQ_FOR"},
    "topology": {"ChanArray", "Distributor", "Collector"},
    "placement": {"Placement", "PLACED_PAR", "ExecutionBackend", "LocalBackend", "BackendRegistry"},
    "failure": {"FailureAggregator", "retry_process"},
    "seq": {"SEQ", "SEQResult"},
    "par": {"PAR", "PARResult", "ProcessCancelledError"},
    "choice": {
        "IF", "WHILE", "RACE", "HEDGE", "QUORUM", "NoBranchError", "MaxIterationsError",
        "ChoiceResult", "IFResult", "WHILEResult", "RACEResult", "QUORUMResult",
    },
}  # fmt: skip


def test_every_spec_name_is_exported_once() -> None:
    missing = SPEC_NAMES - set(stbass.__all__)
    assert not missing, f"missing from stbass: {sorted(missing)}"
    assert len(stbass.__all__) == len(set(stbass.__all__))
    for name in stbass.__all__:
        assert hasattr(stbass, name), name


@pytest.mark.parametrize("module", sorted(SUBMODULES))
def test_submodules_re_export_the_same_objects(module: str) -> None:
    mod = importlib.import_module(f"stbass.{module}")
    assert mod.__doc__, f"stbass.{module} has no docstring"
    for name in SUBMODULES[module]:
        assert getattr(mod, name) is getattr(stbass, name, getattr(mod, name)), name
    assert set(SUBMODULES[module]) <= set(mod.__all__)


def test_public_classes_report_the_public_module() -> None:
    for name in stbass.__all__:
        obj = getattr(stbass, name)
        if isinstance(obj, type):
            assert obj.__module__ == "stbass", f"{name}.__module__ == {obj.__module__}"


def test_every_public_name_has_a_docstring() -> None:
    for name in stbass.__all__:
        obj = getattr(stbass, name)
        if callable(obj) and isinstance(obj, type | type(len)) or isinstance(obj, type):
            assert obj.__doc__, f"stbass.{name} has no docstring"


def test_every_module_has_a_docstring() -> None:
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.relative_to(PACKAGE)} has no docstring"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_the_tracing_toolkit() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert "stbass_tracing" not in _imports(path), path
    code = "import stbass, stbass.observe, sys; print('stbass_tracing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_only_the_parking_module_imports_asyncio_or_trio() -> None:
    # _core/_park.py: the runtime's one backend-specific module; testing/_tools.py:
    # the test helper that waits for all tasks to block, guarded by a backend check;
    # temporal/: the Temporal SDK is asyncio-only and runs on a thread of its own.
    allowed = {"_core/_park.py", "testing/_tools.py"}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in allowed or rel.startswith("temporal/"):
            continue
        found = _imports(path) & {"asyncio", "trio"}
        assert not found, f"{rel} imports {found}"


def test_py_typed_ships() -> None:
    assert (PACKAGE / "py.typed").exists()
