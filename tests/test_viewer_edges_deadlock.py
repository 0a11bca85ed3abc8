"""The viewer's data for a DAG's dependency edges and for a deadlock, from traced runs
on both backends (what the browser draws from: ``test_viewer_browser.py`` checks the
drawing), and the example that writes both pages."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from stbass import PAR, DeadlockError, Process, ProcessContext, RetryPolicy
from stbass.dag import DAG
from stbass.testing import record_spans
from stbass_tracing import Trace, render_html, trace_from_spans
from stbass_tracing._viewer import dag_edges, deadlock_processes

pytestmark = pytest.mark.anyio

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "trace_dag_and_deadlock.py"
example = runpy.run_path(str(EXAMPLE), run_name="trace_dag_and_deadlock")


def page_data(page: str) -> dict[str, Any]:
    block = re.search(r'<script type="application/json" id="trace-data">(.*?)</script>', page, re.S)
    assert block is not None
    data: dict[str, Any] = json.loads(block.group(1))
    return data


def span_ids(data: dict[str, Any]) -> list[str]:
    ids: str = data["spans"]["ids"]
    return [ids[k:k + 16] for k in range(0, len(ids), 16)]


def names(data: dict[str, Any]) -> list[str]:
    return [data["values"][k] for k in data["spans"]["name"]]


async def test_a_traced_dag_page_carries_one_edge_per_dependency() -> None:
    with record_spans() as spans:
        result = await example["run_release"]()
    assert result.values["package"].startswith("tests pass")
    trace = trace_from_spans(spans.spans)
    data = page_data(render_html(trace))
    n = names(data)
    ids = span_ids(data)
    (dag,) = [i for i, name in enumerate(n) if name == "DAG"]
    edges = {(n[a], n[b]) for d, a, b in data["edges"] if d == dag}
    assert edges == {
        ("process checkout", "process build"), ("process checkout", "process lint"),
        ("process build", "process test"), ("process test", "process package"),
        ("process lint", "process package"),
    }
    assert data["meta"]["edges"] == 5
    # each edge goes from a dependency that ended to a task that started after it
    by_id = trace.by_id
    for _, a, b in data["edges"]:
        assert by_id[ids[a]].end_time_ns <= by_id[ids[b]].start_time_ns


async def test_a_retried_task_has_its_edges_on_the_attempts_that_matter() -> None:
    attempts = []

    def flaky(inputs: dict[str, Any]) -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt fails")
        return 2

    @Process
    async def first(ctx: ProcessContext) -> int:
        return 1

    dag = (DAG("d").add("a", first).add("b", flaky, after=["a"], retry=RetryPolicy(2, base_delay=0.001))
           .add("c", lambda d: d["b"] + 1, after=["b"]))
    with record_spans() as spans:
        assert (await dag.run()).values["c"] == 3
    trace = trace_from_spans(spans.spans)
    (dag_span,) = trace.named("DAG")
    b_first, b_last = sorted(trace.named("process b"), key=lambda s: s.start_time_ns)
    assert b_first.is_error and not b_last.is_error
    assert [(x.name, y.span_id) for x, y in dag_edges(trace, dag_span)] == [
        ("process a", b_first.span_id), ("process b", trace.named("process c")[0].span_id)]
    assert [x.span_id for x, _ in dag_edges(trace, dag_span)][1] == b_last.span_id


async def test_a_dag_task_that_is_a_composition_has_its_edges_on_the_composition() -> None:
    """``checks`` is a PAR of two processes: the edges go into and out of the
    PAR's span (not its children's), and its lane says which task it is."""

    @Process
    async def unit(ctx: ProcessContext) -> str:
        return "unit ok"

    @Process
    async def lint(ctx: ProcessContext) -> str:
        return "lint ok"

    dag = (DAG("release").add("build", lambda _: "wheel")
           .add("checks", PAR(unit, lint), after=["build"])
           .add("package", lambda d: " and ".join(d["checks"]), after=["checks"]))
    with record_spans() as spans:
        with anyio.fail_after(10):
            assert (await dag.run()).values["package"] == "unit ok and lint ok"
    trace = trace_from_spans(spans.spans)
    data = page_data(render_html(trace))
    n = names(data)
    ids = span_ids(data)
    (dag_i,) = [i for i, name in enumerate(n) if name == "DAG"]
    assert {(n[a], n[b]) for d, a, b in data["edges"] if d == dag_i} == {
        ("process build", "PAR"), ("PAR", "process package")}
    (par,) = trace.named("PAR")
    assert {ids[b] for _, _, b in data["edges"]} >= {par.span_id}
    assert "checks: PAR (2)" in [data["values"][k] for k in data["rows"]["label"]]


async def test_a_traced_deadlock_page_marks_it_with_the_cycle_and_its_processes() -> None:
    with record_spans() as spans:
        err = await example["run_books"]()
    assert err.cycle == ("ledger", "auditor", "ledger")
    data = page_data(render_html(trace_from_spans(spans.spans)))
    n = names(data)
    (par,) = [i for i, name in enumerate(n) if name == "PAR"]
    ((span, _, cycle, in_cycle, blocked),) = data["deadlocks"]
    assert span == par
    assert data["values"][cycle] == "ledger waits to send on totals -> auditor waits to send on checks -> ledger"
    assert sorted(n[i] for i in in_cycle) == ["process auditor", "process ledger"]
    assert sorted(n[i] for i in blocked) == ["process auditor", "process ledger", "process reporter"]
    # next/previous failure goes to the deadlocked PAR; the header counts it
    assert par in data["failures"] and data["meta"]["failures"] == len(data["failures"])
    assert data["meta"]["deadlocks"] == 1


async def test_two_processes_of_one_name_in_a_deadlock_are_told_apart() -> None:
    """The event names them ``name#<id8>``: each maps to its own span, not both to both."""

    @Process
    async def peer(ctx: ProcessContext) -> None:
        await ctx.send("out", 1)
        await ctx.recv("inp")

    from stbass import Chan

    a, b = Chan(int, name="a"), Chan(int, name="b")
    with record_spans() as spans:
        with anyio.fail_after(10), pytest.raises(DeadlockError):
            await PAR(peer.with_channels(out=a, inp=b), peer.with_channels(out=b, inp=a)).run()
    trace = trace_from_spans(spans.spans)
    (par,) = trace.named("PAR")
    (event,) = [e for e in par.events if e.name == "deadlock"]
    in_cycle, blocked = deadlock_processes(trace, par, event)
    assert sorted(s.span_id for s in in_cycle) == sorted(s.span_id for s in trace.named("process peer"))
    assert len(blocked) == 2


def test_a_page_without_dags_or_deadlocks_has_empty_lists() -> None:
    data = page_data(render_html(Trace([])))
    assert data["edges"] == [] and data["deadlocks"] == []


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_example_writes_both_pages_from_the_command_line(backend: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--backend", backend, "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "deadlock (ledger -> auditor -> ledger)" in proc.stdout
    dag = page_data((tmp_path / f"dag-{backend}.html").read_text())
    deadlock = page_data((tmp_path / f"deadlock-{backend}.html").read_text())
    assert len(dag["edges"]) == 5 and len(deadlock["deadlocks"]) == 1
