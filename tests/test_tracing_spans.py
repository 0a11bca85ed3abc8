"""The spans the core emits (SPEC §7), read back through ``stbass_tracing``'s model.

Each test injects an SDK provider with an in-memory exporter (the ``span_exporter``
fixture) and checks the span tree on asyncio and on trio.
"""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from testing_backends import TIMER_BACKENDS
from stbass import (
    ALT,
    PAR,
    PRI_ALT,
    SEQ,
    TIMER,
    Chan,
    FailurePolicy,
    Guard,
    Process,
    ProcessContext,
    ProcessResult,
)
from stbass import _names as N
from stbass.replicator import PAR_FOR, SEQ_FOR
from stbass_tracing import SpanRecord, Trace, trace_from_spans

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "getting_started.py"


def spans_of(exporter: InMemorySpanExporter) -> Trace:
    return trace_from_spans(exporter.get_finished_spans())


def one(trace: Trace, name: str) -> SpanRecord:
    found = trace.named(name)
    assert len(found) == 1, f"expected one {name!r} span, got {[s.name for s in trace]}"
    return found[0]


@pytest.mark.anyio
async def test_getting_started_span_tree_links_recv_to_send(
    span_exporter: InMemorySpanExporter, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = runpy.run_path(str(EXAMPLE), run_name="getting_started")
    with anyio.fail_after(10):
        await namespace["main"]()
    assert "Pipeline succeeded!" in capsys.readouterr().out
    trace = spans_of(span_exporter)

    par = one(trace, "PAR")
    assert par.parent_span_id is None
    assert par.attributes[N.COMPOSITION] == "PAR"
    assert par.attributes[N.CHILDREN] == 2
    producer = one(trace, "process producer")
    consumer = one(trace, "process consumer")
    assert producer.parent_span_id == par.span_id
    assert consumer.parent_span_id == par.span_id
    assert producer.attributes[N.PROCESS_NAME] == "producer"
    assert producer.kind == consumer.kind == "INTERNAL"

    send = one(trace, "send data_chan")
    recv = one(trace, "receive data_chan")
    assert send.kind == "PRODUCER" and recv.kind == "CLIENT"
    assert send.parent_span_id == producer.span_id
    assert recv.parent_span_id == consumer.span_id
    assert [(lk.trace_id, lk.span_id) for lk in recv.links] == [(send.trace_id, send.span_id)]
    for s in (send, recv):
        assert s.attributes[N.CHANNEL_NAME] == "data_chan"
        assert s.attributes[N.CHANNEL_TYPE] == "dict"
        assert s.attributes[N.MESSAGE_SEQ] == 1
        assert s.attributes[N.MESSAGING_SYSTEM] == "stbass"
        assert s.attributes[N.MESSAGING_DESTINATION] == "data_chan"
        assert N.PAYLOAD not in s.attributes  # payloads are opt-in
    assert send.attributes[N.MESSAGING_OPERATION_TYPE] == "send"
    assert recv.attributes[N.MESSAGING_OPERATION_TYPE] == "receive"
    assert len(trace.trace_ids) == 1
    assert [(m.send.span_id, m.recv.span_id) for m in trace.messages] == [(send.span_id, recv.span_id)]


@pytest.mark.anyio
async def test_seq_span_has_one_child_per_stage_in_order(span_exporter: InMemorySpanExporter) -> None:
    @Process
    async def first(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(1)

    @Process
    async def second(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(await ctx.recv("input") + 1)

    @Process
    async def third(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(await ctx.recv("input") * 10)

    with anyio.fail_after(10):
        result = await SEQ(first, second, third).run()
    assert result.value == 20
    trace = spans_of(span_exporter)
    seq = one(trace, "SEQ")
    assert seq.attributes[N.COMPOSITION] == "SEQ"
    assert seq.attributes[N.CHILDREN] == 3
    assert seq.attributes[N.ON_FAILURE] == "halt"
    stages = [s for s in trace.children[seq.span_id] if s.category == "process"]
    assert [s.name for s in stages] == ["process first", "process second", "process third"]
    assert all(a.end_time_ns <= b.start_time_ns for a, b in zip(stages, stages[1:]))


@pytest.mark.anyio
async def test_failed_process_span_has_error_status_and_exception_event(
    span_exporter: InMemorySpanExporter,
) -> None:
    @Process
    async def fine(ctx: ProcessContext) -> ProcessResult[str]:
        return ProcessResult.ok("fine")

    @Process
    async def boom(ctx: ProcessContext) -> ProcessResult[str]:
        raise ValueError("bad input 42")

    with anyio.fail_after(10):
        result = await PAR(fine, boom, on_failure=FailurePolicy.COLLECT).run()
    assert not result.is_ok
    trace = spans_of(span_exporter)
    failed = one(trace, "process boom")
    assert failed.status_code == "ERROR"
    assert failed.status_description is not None and "bad input 42" in failed.status_description
    assert failed.attributes[N.ERROR_TYPE] == "ValueError"
    assert "bad input 42" in str(failed.attributes[N.FAILURE_SUMMARY])
    [event] = [e for e in failed.events if e.name == "exception"]
    assert event.attributes["exception.type"] == "ValueError"
    assert "bad input 42" in str(event.attributes["exception.message"])
    assert "Traceback" in str(event.attributes["exception.stacktrace"])
    assert one(trace, "process fine").status_code == "UNSET"
    # one failure, one ERROR: the PAR records that a child failed, no second traceback
    par = one(trace, "PAR")
    assert par.status_code == "UNSET" and not par.events
    assert par.attributes[N.CHILD_FAILED] is True
    assert par.attributes[N.ERROR_TYPE] == "ValueError"
    assert [s.name for s in trace.failures] == ["process boom"]


@pytest.mark.anyio
async def test_halt_cancellation_is_marked_on_the_cancelled_sibling(
    span_exporter: InMemorySpanExporter,
) -> None:
    started = anyio.Event()

    @Process
    async def waiter(ctx: ProcessContext) -> ProcessResult[None]:
        started.set()
        await anyio.sleep_forever()
        return ProcessResult.ok()

    @Process
    async def boom(ctx: ProcessContext) -> ProcessResult[None]:
        await started.wait()
        raise RuntimeError("stop everything")

    with anyio.fail_after(10):
        result = await PAR(waiter, boom).run()
    assert not result.is_ok
    trace = spans_of(span_exporter)
    cancelled = one(trace, "process waiter")
    assert cancelled.attributes[N.CANCELLED] is True
    assert cancelled.attributes[N.CANCELLED_BY] == "halt"
    assert cancelled.is_cancelled
    assert cancelled.status_code != "ERROR"  # cancellation is not the code's failure
    assert not one(trace, "process boom").is_cancelled


@pytest.mark.anyio
async def test_deadline_and_outer_cancellation_are_told_apart(
    span_exporter: InMemorySpanExporter,
) -> None:
    @Process
    async def slow(ctx: ProcessContext) -> ProcessResult[None]:
        await anyio.sleep_forever()
        return ProcessResult.ok()

    with anyio.fail_after(10):
        await PAR(slow, deadline=0.01).run()
        with anyio.CancelScope() as scope:
            outer = PAR(slow.with_name("outer_victim"))

            async def cancel_when_parked() -> None:
                await anyio.wait_all_tasks_blocked()
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_when_parked)
                await outer.run()
    trace = spans_of(span_exporter)
    by_deadline = one(trace, "process slow")
    assert by_deadline.attributes[N.CANCELLED_BY] == "deadline"
    by_outer = one(trace, "process outer_victim")
    assert by_outer.attributes[N.CANCELLED] is True
    assert by_outer.attributes[N.CANCELLED_BY] == "outer"


@pytest.mark.anyio
async def test_pri_alt_span_records_the_chosen_guard_and_links_its_recv(
    span_exporter: InMemorySpanExporter,
) -> None:
    ch = Chan(int, name="answers")

    @Process
    async def sender(ctx: ProcessContext) -> ProcessResult[None]:
        await ch.send(7)
        return ProcessResult.ok()

    @Process
    async def chooser(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(await PRI_ALT(Guard(ch), Guard(TIMER(30, name="give_up"))))

    with anyio.fail_after(10):
        result = await PAR(sender, chooser).run()
    assert result.value == [None, 7]
    trace = spans_of(span_exporter)
    alt = one(trace, "PRI_ALT")
    assert alt.parent_span_id == one(trace, "process chooser").span_id
    assert alt.attributes[N.ALT_KIND] == "priority"
    assert alt.attributes[N.ALT_GUARDS] == 2
    assert alt.attributes[N.ALT_CHOSEN] == 0
    assert alt.attributes[N.ALT_CHOSEN_KIND] == "recv"
    assert alt.attributes[N.ALT_CHOSEN_NAME] == "answers"
    recv = one(trace, "receive answers")
    assert recv.links and recv.links[0].span_id == one(trace, "send answers").span_id
    assert recv.attributes[N.VIA_ALT] is True


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
@pytest.mark.anyio
async def test_timer_guard_records_a_timer_expired_event(span_exporter: InMemorySpanExporter) -> None:
    quiet = Chan(int, name="quiet")
    with anyio.fail_after(10):
        value = await ALT(Guard(quiet), Guard(TIMER(0.02, name="timeout")))
    assert type(value).__name__ == "TimerExpired"
    trace = spans_of(span_exporter)
    alt = one(trace, "ALT")
    assert alt.attributes[N.ALT_KIND] == "fair"
    assert alt.attributes[N.ALT_CHOSEN_KIND] == "timer"
    [event] = [e for e in alt.events if e.name == N.EVENT_TIMER_EXPIRED]
    assert event.attributes[N.TIMER_NAME] == "timeout"
    assert float(event.attributes[N.TIMER_ELAPSED_S]) >= 0.0


@pytest.mark.anyio
async def test_nested_replicators_mirror_the_composition_tree(span_exporter: InMemorySpanExporter) -> None:
    async def leaf(i: int, ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(i)

    async def body(i: int, ctx: ProcessContext) -> ProcessResult[Any]:
        inner = await SEQ_FOR(3, leaf).run(ctx)
        return ProcessResult.ok(inner.value)

    with anyio.fail_after(10):
        result = await PAR_FOR(2, body).run()
    assert result.is_ok
    trace = spans_of(span_exporter)
    par_for = one(trace, "PAR_FOR")
    bodies = [s for s in trace.children[par_for.span_id] if s.category == "process"]
    assert len(bodies) == 2
    for b in bodies:
        [seq_for] = [s for s in trace.children[b.span_id] if s.name == "SEQ_FOR"]
        leaves = [s for s in trace.children[seq_for.span_id] if s.category == "process"]
        assert len(leaves) == 3
    assert len(trace.processes) == 2 + 2 * 3

