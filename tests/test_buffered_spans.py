"""Spans of buffered channels: a send that completed into the buffer and the
receive that later took the value are still linked, and the send span records
the buffer depth (``stbass.channel.buffered``)."""

from __future__ import annotations

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import ALT, Chan, Guard
from stbass import _names as N

pytestmark = pytest.mark.anyio


async def test_buffered_send_and_its_receive_are_linked(
    span_exporter: InMemorySpanExporter,
) -> None:
    ch = Chan(int, name="jobs", capacity=4)
    with anyio.fail_after(10):
        for i in range(3):
            await ch.send(i)  # no receiver yet: each completes into the buffer
        got = [await ch.recv() for _ in range(3)]
    assert got == [0, 1, 2]
    spans = span_exporter.get_finished_spans()
    sends = [s for s in spans if s.name == "send jobs"]
    recvs = [s for s in spans if s.name == "receive jobs"]
    assert len(sends) == len(recvs) == 3
    for send, recv in zip(sends, recvs, strict=True):
        assert [lk.context.span_id for lk in recv.links] == [send.context.span_id]
        assert send.attributes is not None and recv.attributes is not None
        assert send.attributes[N.MESSAGE_SEQ] == recv.attributes[N.MESSAGE_SEQ]
    # the depth right after each send: 1, 2, 3 values waiting
    assert [s.attributes[N.CHANNEL_BUFFERED] for s in sends if s.attributes] == [1, 2, 3]


async def test_a_sender_pulled_in_from_a_full_buffer_is_linked_to_its_receive(
    span_exporter: InMemorySpanExporter,
) -> None:
    ch = Chan(str, name="full", capacity=1)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            await ch.send("first")
            tg.start_soon(ch.send, "second")  # waits: the buffer is full
            await anyio.wait_all_tasks_blocked()
            assert await ch.recv() == "first"  # pulls "second" into the buffer
            assert await ALT(Guard(ch)) == "second"  # an ALT takes from the buffer
    spans = span_exporter.get_finished_spans()
    send_ids = {
        s.attributes[N.MESSAGE_SEQ]: s.context.span_id
        for s in spans
        if s.name == "send full" and s.attributes
    }
    recvs = [s for s in spans if s.name == "receive full"]
    assert len(recvs) == 2
    for recv in recvs:
        assert recv.attributes is not None
        assert [lk.context.span_id for lk in recv.links] == [
            send_ids[recv.attributes[N.MESSAGE_SEQ]]
        ]


async def test_rendezvous_send_spans_carry_no_buffer_depth(
    span_exporter: InMemorySpanExporter,
) -> None:
    ch = Chan(int, name="plain")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ch.send, 1)
            assert await ch.recv() == 1
    (send,) = [s for s in span_exporter.get_finished_spans() if s.name == "send plain"]
    assert send.attributes is not None and N.CHANNEL_BUFFERED not in send.attributes
