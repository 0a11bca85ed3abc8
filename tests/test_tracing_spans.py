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



@pytest.mark.anyio
async def test_replicas_share_one_span_name_and_par_children_carry_their_index(
    span_exporter: InMemorySpanExporter,
) -> None:
    async def body(i: int, ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(i)

    with anyio.fail_after(10):
        result = await PAR_FOR(3, body).run()
    assert result.is_ok
    trace = spans_of(span_exporter)
    procs = trace.processes
    assert len(procs) == 3
    assert len({s.name for s in procs}) == 1 and "[" not in procs[0].name  # bounded cardinality
    assert sorted(s.attributes[N.REPLICA_INDEX] for s in procs) == [0, 1, 2]
    assert all(s.attributes[N.CHILD_INDEX] == s.attributes[N.REPLICA_INDEX] for s in procs)


@pytest.mark.anyio
async def test_child_index_is_on_each_par_child_and_not_on_processes_inside_it(
    span_exporter: InMemorySpanExporter,
) -> None:
    @Process
    async def leaf(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(1)

    @Process
    async def outer(ctx: ProcessContext) -> ProcessResult[int]:
        await SEQ(leaf).run()
        return ProcessResult.ok(2)

    with anyio.fail_after(10):
        assert (await PAR(leaf, outer).run()).is_ok
    trace = spans_of(span_exporter)
    by_index = {s.attributes.get(N.CHILD_INDEX): s.name for s in trace.processes}
    assert by_index[0] == "process leaf" and by_index[1] == "process outer"
    inner = [s for s in trace.processes if s.parent_span_id != one(trace, "PAR").span_id]
    assert len(inner) == 1 and N.CHILD_INDEX not in inner[0].attributes


@pytest.mark.anyio
async def test_unnamed_channels_get_a_bounded_name_and_messages_an_id(
    span_exporter: InMemorySpanExporter,
) -> None:
    ch = Chan(int)

    @Process
    async def producer(ctx: ProcessContext) -> ProcessResult[None]:
        await ch.send(7)
        return ProcessResult.ok(None)

    @Process
    async def consumer(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(await ch.recv())

    with anyio.fail_after(10):
        assert (await PAR(producer, consumer).run()).is_ok
    trace = spans_of(span_exporter)
    send, recv = one(trace, "send (anonymous)"), one(trace, "receive (anonymous)")
    for s in (send, recv):
        assert s.attributes[N.MESSAGING_DESTINATION] == ch.name
        assert s.attributes[N.MESSAGING_DESTINATION_ANONYMOUS] is True
        assert s.attributes[N.MESSAGING_SYSTEM] == "stbass"
    assert send.attributes[N.MESSAGING_OPERATION_TYPE] == "send"
    assert recv.attributes[N.MESSAGING_OPERATION_TYPE] == "receive"
    assert send.attributes[N.MESSAGING_MESSAGE_ID] == recv.attributes[N.MESSAGING_MESSAGE_ID]
    assert [lk.span_id for lk in recv.links] == [send.span_id]


@pytest.mark.anyio
async def test_closed_and_cancelled_channel_operations_set_error_type(
    span_exporter: InMemorySpanExporter,
) -> None:
    from stbass.channel import ChannelClosedError

    closed = Chan(int, name="closed")
    idle = Chan(int, name="idle")

    @Process
    async def reader(ctx: ProcessContext) -> ProcessResult[str]:
        closed.close()
        try:
            await closed.recv()
        except ChannelClosedError:
            pass
        with anyio.move_on_after(0):
            await idle.send(1)  # nobody receives: cancelled by the timeout
        return ProcessResult.ok("done")

    with anyio.fail_after(10):
        assert (await PAR(reader).run()).is_ok
    trace = spans_of(span_exporter)
    recv, send = one(trace, "receive closed"), one(trace, "send idle")
    assert recv.attributes[N.ERROR_TYPE] == "closed" and recv.attributes[N.OUTCOME] == "closed"
    assert send.attributes[N.ERROR_TYPE] == "cancelled"
    assert N.MESSAGING_MESSAGE_ID not in send.attributes
    assert recv.status_code == send.status_code == "UNSET"  # the process did not fail


@pytest.mark.anyio
async def test_an_unsampled_trace_records_no_channel_span() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

    from stbass import observe

    for ratio, expected in ((0.0, 0), (1.0, 5)):
        exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=ParentBasedTraceIdRatio(ratio))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        namespace = runpy.run_path(str(EXAMPLE), run_name="getting_started")
        with observe.use_tracer_provider(provider):
            with anyio.fail_after(10):
                await namespace["main"]()
        assert len(exporter.get_finished_spans()) == expected
