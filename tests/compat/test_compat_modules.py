"""stbass 0.1 compatibility: every 0.1 module imports, has a docstring and holds
the names 0.1 documented there (docs/migrating-from-0.1.md, "What stays the same")."""

from __future__ import annotations

import importlib

import pytest

import stbass

# The 0.1 modules and what 0.1 users imported from them.
MODULES_01 = {
    "stbass.seq": {"SEQ"},
    "stbass.par": {"PAR"},
    "stbass.channel": {"Chan"},
    "stbass.alt": {"ALT", "PRI_ALT", "Guard", "SKIP"},
    "stbass.process": {"Process", "ProcessContext"},
    "stbass.result": {"ProcessResult", "Failure", "FailurePolicy", "RetryPolicy", "FailureReport"},
    "stbass.timer": {"TIMER", "DEADLINE", "TimerExpired"},
    "stbass.topology": {"ChanArray", "Distributor", "Collector"},
    "stbass.placement": {"Placement", "PLACED_PAR", "ExecutionBackend", "LocalBackend",
                         "BackendRegistry"},
    "stbass.failure": {"FailureAggregator", "retry_process"},
    "stbass.replicator": {"PAR_FOR", "SEQ_FOR"},
    "stbass.mcp": {"MCPProcess", "MCPServer", "MCPBackend"},
    "stbass.observe": set(),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(MODULES_01))
def test_every_01_module_imports_with_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__ and module.__doc__.strip(), f"{name} has no docstring"
    for attr in MODULES_01[name]:
        obj = getattr(module, attr)
        # the same object as the top-level name, where stbass exports it
        assert getattr(stbass, attr, obj) is obj, f"{name}.{attr}"


def test_the_01_verify_your_install_snippet_runs() -> None:
    # getting started, "Verify your install"
    exec("from stbass import PAR, SEQ, ALT, Chan, Process", {})
