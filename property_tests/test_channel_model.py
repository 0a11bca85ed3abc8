"""Model-based test of channels (SPEC §4.2, §4.3, §4.5): generated programs of
sends, recvs, ALTs (input and output guards), cancellations and closes, run for
real on asyncio and trio and checked against a reference model of rendezvous
channels — and of buffered ones: each channel has a capacity of 0, 1 or 2, and
a ``capacity=n`` channel must behave as a zero-buffer channel followed by an
``n``-place buffer process.

A program is a few tasks, each a list of operations on a few channels. A
controller script cancels chosen operations at generated moments: after
``k`` scheduler checkpoints (mid-flight, where commits and cancellations race) or
once every task is blocked (while the operation waits, or before it has
started). When the script is done and the program is stuck, every task is
cancelled. The model then requires, from the log of what each operation
returned or raised:

* exactly-once: the values received are exactly the values whose send returned
  (a plain ``send`` that returned, or an ALT that reported an output guard), each
  received once, on the channel it was sent on: no loss, no duplication, and a
  send that raised was received by nobody; a recv/ALT that raised took nothing;
* rendezvous: a send and the receive that took its value overlap in time;
  through a buffer (capacity ``n > 0``) the receive only ends after the send
  began, and a task may take back its own value;
* per-sender FIFO: a receiver sees one sender's values in the order sent (per
  channel, for buffered channels: two buffers may be drained in any order);
* close: a plain send that starts after ``close()`` returned raises, and so does
  a plain recv on a rendezvous channel (a buffered one is drained first);
* progress: whenever every task is blocked, no open channel has a waiting
  sender and a waiting receiver from different tasks (they should have met),
  no send waits on a buffer with room and no receive waits on a buffer that
  holds a value (the buffer process would have taken or offered it);
* buffer: a value left in a buffer at the end counts as delivered (it was sent
  and nobody took it), and the buffer never holds more than its capacity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from stbass import ALT, PRI_ALT, SKIP, Chan, ChannelClosedError, Guard
from stbass.testing import wait_all_tasks_blocked

pytestmark = pytest.mark.anyio

MAX_CHANS = 3


# ------------------------------------------------------------------ programs


@dataclass(frozen=True)
class Send:
    chan: int

    def __repr__(self) -> str:
        return f"Send({self.chan})"


@dataclass(frozen=True)
class Recv:
    chan: int

    def __repr__(self) -> str:
        return f"Recv({self.chan})"


@dataclass(frozen=True)
class AltOp:
    """An ALT (``fair``) or PRI_ALT over guards ``("recv"|"send", chan)``, maybe with SKIP."""

    guards: tuple[tuple[str, int], ...]
    fair: bool = True
    skip: bool = False


@dataclass(frozen=True)
class Close:
    chan: int

    def __repr__(self) -> str:
        return f"Close({self.chan})"


Op = Send | Recv | AltOp | Close


@dataclass(frozen=True)
class CancelAt:
    """Controller step: wait (``ticks`` checkpoints, or until all tasks are
    blocked when ``ticks`` is None), then cancel operation *op* of *task*."""

    task: int
    op: int
    ticks: int | None


@dataclass
class Program:
    nchans: int
    tasks: list[list[Op]]
    script: list[CancelAt]
    #: the capacity of each channel (0: rendezvous)
    caps: tuple[int, ...] = ()

    def capacity(self, chan: int) -> int:
        return self.caps[chan] if chan < len(self.caps) else 0


@st.composite
def programs(draw: st.DrawFn) -> Program:
    nchans = draw(st.integers(1, MAX_CHANS), label="nchans")
    chan = st.integers(0, nchans - 1)
    guard = st.tuples(st.sampled_from(("recv", "send")), chan)
    alt = st.builds(
        AltOp, st.lists(guard, min_size=1, max_size=3).map(tuple), st.booleans(), st.booleans()
    )
    # closes are rarer than the rest, or every program would end closed at once
    op = st.one_of(
        st.builds(Send, chan), st.builds(Recv, chan), alt,
        st.builds(Send, chan), st.builds(Recv, chan), alt,
        st.builds(Close, chan),
    )
    tasks = draw(st.lists(st.lists(op, min_size=1, max_size=4), min_size=2, max_size=4), label="tasks")
    script = draw(
        st.lists(
            st.builds(
                CancelAt,
                st.integers(0, len(tasks) - 1),
                st.integers(0, 3),
                st.none() | st.integers(0, 6),
            ),
            max_size=4,
        ),
        label="script",
    )
    caps = draw(
        st.lists(st.sampled_from((0, 0, 1, 2)), min_size=nchans, max_size=nchans).map(tuple),
        label="caps",
    )
    return Program(nchans, tasks, script, caps)


# ------------------------------------------------------------------ running


@dataclass
class Record:
    task: int
    index: int
    op: Op
    start: int
    end: int | None = None
    #: "ok" | "closed" | "cancelled" | "error:<type>"
    status: str = "pending"
    #: the value received (recv / ALT input guard), or the value sent
    value: Any = None
    #: the ALT guard reported (index into guards, len(guards) for SKIP)
    chosen: int | None = None
    offered: dict[int, int] = field(default_factory=dict)


class Run:
    def __init__(self, program: Program) -> None:
        self.program = program
        self.chans: list[Chan[int]] = [
            Chan(int, name=f"k{j}", capacity=program.capacity(j)) for j in range(program.nchans)
        ]
        self.leftover: list[tuple[int, int]] = []  # (value, channel) still buffered at the end
        self.clock = 0
        self.records: list[Record] = []
        self.scopes: dict[tuple[int, int], anyio.CancelScope] = {}
        self.pending: dict[tuple[int, int], Record] = {}
        self.closed_at: dict[int, int] = {}
        self.done_tasks = 0

    def tick(self) -> int:
        self.clock += 1
        return self.clock

    def scope_for(self, task: int, index: int) -> anyio.CancelScope:
        return self.scopes.setdefault((task, index), anyio.CancelScope())

    async def task(self, t: int) -> None:
        for i, op in enumerate(self.program.tasks[t]):
            if isinstance(op, Close):
                self.chans[op.chan].close()
                self.closed_at.setdefault(op.chan, self.tick())
                continue
            rec = Record(t, i, op, self.tick())
            self.records.append(rec)
            self.pending[(t, i)] = rec
            with self.scope_for(t, i):
                try:
                    await self.perform(rec)
                except ChannelClosedError:
                    rec.status = "closed"
                except Exception as exc:  # a wrong error is a finding: keep it
                    rec.status = f"error:{type(exc).__name__}:{exc}"
            if rec.status == "pending":
                rec.status = "cancelled"
            rec.end = self.tick()
            del self.pending[(t, i)]
        self.done_tasks += 1

    async def perform(self, rec: Record) -> None:
        op = rec.op
        value = 1000 * (rec.task + 1) + 10 * rec.index
        if isinstance(op, Send):
            await self.chans[op.chan].send(value)
            rec.value = value
            rec.status = "ok"
        elif isinstance(op, Recv):
            got = await self.chans[op.chan].recv()
            rec.value = got
            rec.status = "ok"
        elif isinstance(op, AltOp):
            guards: list[Any] = []
            for g, (kind, ch) in enumerate(op.guards):
                if kind == "recv":
                    guards.append(Guard(self.chans[ch]))
                else:
                    rec.offered[g] = value + g
                    guards.append(Guard.send(self.chans[ch], value + g))
            if op.skip:
                guards.append(SKIP)
            alt = ALT(*guards) if op.fair else PRI_ALT(*guards)
            index, got = await alt.choose()
            rec.chosen = index
            rec.value = got
            rec.status = "ok"

    def offers(self, rec: Record) -> tuple[set[int], set[int]]:
        """Channels this pending operation offers to (send, recv) on."""
        op = rec.op
        if isinstance(op, Send):
            return {op.chan}, set()
        if isinstance(op, Recv):
            return set(), {op.chan}
        assert isinstance(op, AltOp)
        sends = {ch for kind, ch in op.guards if kind == "send"}
        recvs = {ch for kind, ch in op.guards if kind == "recv"}
        return sends, recvs

    def check_progress(self) -> None:
        """All tasks blocked: no open channel may hold a sender and a receiver of
        different tasks that could have met."""
        waiting = [r for key, r in self.pending.items() if not self.scope_for(*key).cancel_called]
        for a in waiting:
            a_send, _ = self.offers(a)
            for b in waiting:
                if a.task == b.task:
                    continue
                _, b_recv = self.offers(b)
                for ch in a_send & b_recv:
                    if not self.chans[ch].closed:
                        raise AssertionError(
                            f"stuck: task {a.task} op {a.index} {a.op!r} offers to send and "
                            f"task {b.task} op {b.index} {b.op!r} to receive on open channel "
                            f"k{ch}, yet neither moved"
                        )

        for a in waiting:
            a_send, a_recv = self.offers(a)
            for ch in a_send | a_recv:
                chan = self.chans[ch]
                stats = chan.statistics()
                assert stats.buffered <= stats.capacity, f"k{ch} holds more than its capacity"
                if chan.closed or not stats.capacity:
                    continue
                if ch in a_send and stats.buffered < stats.capacity:
                    raise AssertionError(
                        f"stuck: task {a.task} op {a.index} {a.op!r} waits to send on k{ch}, "
                        f"whose buffer has room ({stats.buffered}/{stats.capacity})"
                    )
                if ch in a_recv and stats.buffered:
                    raise AssertionError(
                        f"stuck: task {a.task} op {a.index} {a.op!r} waits to receive on k{ch}, "
                        f"whose buffer holds {stats.buffered} value(s)"
                    )

    def drain(self) -> None:
        """Take what the buffers still hold (sent, received by nobody)."""
        for ch, chan in enumerate(self.chans):
            for _ in range(chan.statistics().buffered):
                self.leftover.append((chan.recv_nowait(), ch))

    async def controller(self, tg: Any) -> None:
        ntasks = len(self.program.tasks)
        for step in self.program.script:
            if step.ticks is None:
                await wait_all_tasks_blocked()
                if self.done_tasks < ntasks:
                    self.check_progress()
            else:
                for _ in range(step.ticks):
                    await anyio.lowlevel.checkpoint()
            self.scope_for(step.task, step.op).cancel()
        while True:
            await wait_all_tasks_blocked()
            if self.done_tasks == ntasks:
                return
            self.check_progress()
            # stuck: cancel every operation still waiting, one round at a time
            for key in list(self.pending):
                self.scope_for(*key).cancel()


async def execute(program: Program) -> Run:
    run = Run(program)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for t in range(len(program.tasks)):
                tg.start_soon(run.task, t)
            tg.start_soon(run.controller, tg)
    run.drain()
    return run


# ------------------------------------------------------------------- model


def check(run: Run) -> None:
    sent: dict[int, tuple[Record, int]] = {}  # value -> (sender record, channel)
    offered: dict[int, tuple[Record, int]] = {}  # every value anyone tried to send
    received: list[tuple[int, Record, int]] = []  # (value, receiver record, channel)
    for rec in run.records:
        assert not rec.status.startswith("error"), f"{rec!r} raised an unexpected error"
        op = rec.op
        value = 1000 * (rec.task + 1) + 10 * rec.index
        if isinstance(op, Send):
            offered[value] = (rec, op.chan)
            if rec.status == "ok":
                sent[value] = (rec, op.chan)
        elif isinstance(op, Recv):
            if rec.status == "ok":
                received.append((rec.value, rec, op.chan))
        elif isinstance(op, AltOp):
            for g, v in rec.offered.items():
                offered[v] = (rec, op.guards[g][1])
            if rec.status == "ok":
                assert rec.chosen is not None
                if rec.chosen == len(op.guards):
                    assert op.skip and rec.value is None, f"{rec!r}: bad SKIP"
                    continue
                kind, ch = op.guards[rec.chosen]
                if kind == "send":
                    assert rec.value == rec.offered[rec.chosen]
                    sent[rec.value] = (rec, ch)
                else:
                    received.append((rec.value, rec, ch))

    leftover = [v for v, _ in run.leftover]
    got_values = [v for v, _, _ in received] + leftover
    dups = {v for v in got_values if got_values.count(v) > 1}
    assert not dups, f"values received more than once: {sorted(dups)}"
    phantom = [v for v in got_values if v not in sent]
    for v in phantom:
        origin = offered.get(v)
        assert False, (
            f"value {v} was received but its send did not complete "
            f"(sender: {origin[0] if origin else 'nobody'})"
        )
    lost = set(sent) - set(got_values)
    assert not lost, f"sends returned but nobody received: {[sent[v][0] for v in sorted(lost)]}"
    for v, ch in run.leftover:
        assert sent[v][1] == ch, f"value {v} sent on k{sent[v][1]} was left in k{ch}"
    for v, rrec, ch in received:
        srec, sch = sent[v]
        assert sch == ch, f"value {v} sent on k{sch} arrived on k{ch}"
        assert srec.end is not None and rrec.end is not None
        if run.program.capacity(ch):
            # through the buffer process: the receive ends after the send began
            assert srec.start < rrec.end, f"{rrec!r} took {v} before {srec!r} began"
            continue
        assert srec.task != rrec.task, f"task {srec.task} received its own value {v}"
        assert srec.start < rrec.end and rrec.start < srec.end, (
            f"no rendezvous: send {srec!r} and receive {rrec!r} do not overlap"
        )
    # per-sender FIFO, as seen by each receiver task (per channel through buffers)
    for rtask in range(len(run.program.tasks)):
        seen: dict[tuple[int, int], int] = {}
        for v, rrec, ch in sorted(received, key=lambda e: e[1].index):
            if rrec.task != rtask:
                continue
            srec, _ = sent[v]
            stream = (srec.task, ch if run.program.capacity(ch) else -1)
            last = seen.get(stream, -1)
            assert srec.index > last, f"task {rtask} got task {srec.task}'s values out of order"
            seen[stream] = srec.index
    # close: plain ops that start after close() returned raise
    for rec in run.records:
        if isinstance(rec.op, Recv) and run.program.capacity(rec.op.chan):
            continue  # a buffered channel lets receivers drain after close
        if isinstance(rec.op, (Send, Recv)):
            closed = run.closed_at.get(rec.op.chan)
            if closed is not None and rec.start > closed:
                assert rec.status in ("closed", "cancelled"), (
                    f"{rec!r} started after k{rec.op.chan} was closed but did not raise"
                )


@given(program=programs())
async def test_channels_match_the_rendezvous_model(anyio_backend: Any, program: Program) -> None:
    """Channels behave as the model says — a rendezvous, or for ``capacity=n`` a
    rendezvous followed by an n-place buffer — under generated sends, recvs, ALTs
    with input and output guards, cancellations and closes (see module doc)."""
    note(f"program: {program!r}")
    run = await execute(program)
    note("\n".join(repr(r) for r in run.records))
    check(run)
