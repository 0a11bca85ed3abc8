"""ChanArray, Distributor and Collector: delivery exactly once, close propagation."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from stbass import (
    PAR,
    Chan,
    ChannelClosedError,
    ChannelTopologyError,
    ChannelTypeError,
    FailurePolicy,
    Process,
    ProcessContext,
)
from stbass.replicator import PAR_FOR
from stbass.topology import ChanArray, Collector, Distributor

COLLECT = FailurePolicy.COLLECT


def producer(ch: Chan[Any], values: Sequence[Any], *, close: bool = True) -> Process:
    async def produce(ctx: ProcessContext) -> int:
        for v in values:
            await ch.send(v)
        if close:
            ch.close()
        return len(values)

    return Process(produce, name=f"produce-{ch.name}")


def reader(ch: Chan[Any], into: list[Any]) -> Process:
    async def read(ctx: ProcessContext) -> int:
        async for v in ch:
            into.append(v)
        return len(into)

    return Process(read, name=f"read-{ch.name}")


# ------------------------------------------------------------------ ChanArray


def test_chan_array_names_indexes_and_iterates() -> None:
    arr = ChanArray(int, 3, name_prefix="lane")
    assert len(arr) == 3
    assert [c.name for c in arr] == ["lane[0]", "lane[1]", "lane[2]"]
    assert arr[1] is arr.channels[1]
    assert arr[-1].name == "lane[2]"
    assert [c.name for c in arr[:2]] == ["lane[0]", "lane[1]"]
    assert all(c.type_spec is int for c in arr)
    assert len({id(c) for c in arr}) == 3
    assert repr(arr) == "ChanArray(int, 3, name_prefix='lane')"


def test_chan_array_default_prefixes_are_unique_and_close_closes_all() -> None:
    a, b = ChanArray(str, 2), ChanArray(str, 2)
    assert a.name_prefix != b.name_prefix
    assert a[0].name == f"{a.name_prefix}[0]"
    a.close()
    assert all(c.closed for c in a) and not any(c.closed for c in b)


def test_chan_array_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="count"):
        ChanArray(int, -1)
    for bad in ("3", 2.0, True, None):
        with pytest.raises(TypeError, match="count"):
            ChanArray(int, bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name_prefix"):
        ChanArray(int, 2, name_prefix=5)  # type: ignore[call-overload]
    assert len(ChanArray(int, 0)) == 0


@pytest.mark.anyio
async def test_chan_array_channels_are_typed() -> None:
    arr = ChanArray(int, 1, name_prefix="typed")
    with pytest.raises(ChannelTypeError, match=r"typed\[0\]"):
        await arr[0].send("nope")  # type: ignore[arg-type]


# ---------------------------------------------------------------- Distributor


@pytest.mark.anyio
async def test_round_robin_sends_value_k_to_target_k_mod_n() -> None:
    src = Chan(int, name="src")
    lanes = ChanArray(int, 3, name_prefix="rr")
    got: list[list[int]] = [[], [], []]
    with anyio.fail_after(10):
        result = await PAR(
            producer(src, range(10)),
            Distributor(src, lanes),
            *[reader(lanes[i], got[i]) for i in range(3)],
        ).run()
    assert result.is_ok
    assert got == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert result.results[1].value == 10  # values forwarded


@pytest.mark.anyio
async def test_broadcast_delivers_every_value_once_to_every_target() -> None:
    src = Chan(int, name="src")
    lanes = ChanArray(int, 4, name_prefix="bc")
    got: list[list[int]] = [[] for _ in range(4)]
    with anyio.fail_after(10):
        result = await PAR(
            producer(src, range(25)),
            Distributor(src, lanes, strategy="broadcast"),
            *[reader(lanes[i], got[i]) for i in range(4)],
        ).run()
    assert result.is_ok
    assert got == [list(range(25))] * 4


@pytest.mark.anyio
async def test_broadcast_is_not_held_up_by_the_order_of_readers() -> None:
    # Target 0's reader only starts after target 1 has taken the value:
    # a broadcast that sent to targets in a fixed order would deadlock here.
    src = Chan(int, name="src")
    lanes = ChanArray(int, 2, name_prefix="order")
    second_took = anyio.Event()
    got0: list[int] = []
    got1: list[int] = []

    @Process
    async def first(ctx: ProcessContext) -> None:
        await second_took.wait()
        got0.append(await lanes[0].recv())

    @Process
    async def second(ctx: ProcessContext) -> None:
        got1.append(await lanes[1].recv())
        second_took.set()

    with anyio.fail_after(10):
        result = await PAR(
            producer(src, [7]), Distributor(src, lanes, strategy="broadcast"), first, second
        ).run()
    assert result.is_ok and got0 == [7] and got1 == [7]


@pytest.mark.anyio
async def test_ready_first_delivers_every_value_exactly_once() -> None:
    src = Chan(int, name="src")
    lanes = ChanArray(int, 4, name_prefix="rf")
    got: list[list[int]] = [[] for _ in range(4)]
    with anyio.fail_after(10):
        result = await PAR(
            producer(src, range(200)),
            Distributor(src, lanes, strategy="ready_first"),
            *[reader(lanes[i], got[i]) for i in range(4)],
        ).run()
    assert result.is_ok
    everything = [v for lane in got for v in lane]
    assert sorted(everything) == list(range(200))
    assert all(lane == sorted(lane) for lane in got)  # per-channel order


@pytest.mark.anyio
async def test_ready_first_gives_each_value_to_the_reader_that_is_ready() -> None:
    # Only lane 2 has a reader waiting at any time: every value must go there,
    # none may be stuck on the lanes nobody reads.
    src = Chan(int, name="src")
    lanes = ChanArray(int, 3, name_prefix="ready")
    got: list[int] = []

    @Process
    async def only_lane_2(ctx: ProcessContext) -> None:
        for _ in range(5):
            got.append(await lanes[2].recv())
        src.close()

    with anyio.fail_after(10):
        result = await PAR(
            producer(src, range(5), close=False),
            Distributor(src, lanes, strategy="ready_first"),
            only_lane_2,
        ).run()
    assert result.is_ok
    assert got == [0, 1, 2, 3, 4]
    assert all(lane.closed for lane in lanes)
    assert all(lane.statistics().messages == 0 for lane in lanes[:2])


@pytest.mark.anyio
@pytest.mark.parametrize("strategy", ["round_robin", "broadcast", "ready_first"])
async def test_closing_the_source_closes_every_target(strategy: Any) -> None:
    src = Chan(int, name="src")
    lanes = ChanArray(int, 3, name_prefix="close")
    ended = [anyio.Event() for _ in range(3)]

    def waiter(i: int) -> Process:
        async def wait_closed(ctx: ProcessContext) -> None:
            with pytest.raises(ChannelClosedError):
                await lanes[i].recv()
            ended[i].set()

        return Process(wait_closed, name=f"wait{i}")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(PAR(Distributor(src, lanes, strategy), *[waiter(i) for i in range(3)]).run)
            await anyio.wait_all_tasks_blocked()
            assert not any(e.is_set() for e in ended)
            src.close()
    assert all(e.is_set() for e in ended)


@pytest.mark.anyio
@pytest.mark.parametrize("strategy", ["round_robin", "broadcast", "ready_first"])
async def test_a_target_closed_by_its_reader_leaves_the_rotation(strategy: Any) -> None:
    src = Chan(int, name="src")
    lanes = ChanArray(int, 3, name_prefix="leave")
    lanes[1].close()
    got: list[list[int]] = [[], [], []]
    with anyio.fail_after(10):
        result = await PAR(
            producer(src, range(12)),
            Distributor(src, lanes, strategy),
            reader(lanes[0], got[0]),
            reader(lanes[2], got[2]),
        ).run()
    assert result.is_ok
    assert got[1] == []
    if strategy == "broadcast":
        assert got[0] == got[2] == list(range(12))
    else:
        assert sorted(got[0] + got[2]) == list(range(12))


@pytest.mark.anyio
async def test_when_every_target_is_closed_the_distributor_fails_and_closes_its_source() -> None:
    src = Chan(int, name="src")
    lanes = ChanArray(int, 2, name_prefix="gone")
    lanes.close()
    producer_saw: list[BaseException] = []

    @Process
    async def produce(ctx: ProcessContext) -> None:
        try:
            for i in range(5):
                await src.send(i)
        except ChannelClosedError as exc:
            producer_saw.append(exc)

    with anyio.fail_after(10):
        result = await PAR(produce, Distributor(src, lanes), on_failure=COLLECT).run()
    failure = result.results[1].failure
    assert isinstance(failure.error, ChannelClosedError)
    assert "every target is closed" in str(failure.error)
    assert src.closed and producer_saw


@pytest.mark.anyio
async def test_distributor_rejects_a_second_distributor_on_the_same_source() -> None:
    src = Chan(int, name="shared-src")
    a, b = ChanArray(int, 1, name_prefix="a"), ChanArray(int, 1, name_prefix="b")
    with anyio.fail_after(10):
        result = await PAR(Distributor(src, a), Distributor(src, b)).run()
    assert result.is_fail
    (clash,) = [f for f in result.failures if isinstance(f.error, ChannelTopologyError)]
    assert "shared-src" in str(clash.error)


@pytest.mark.anyio
async def test_cancelling_a_running_topology_ends_it_without_hanging() -> None:
    src = Chan(int, name="src")
    lanes = ChanArray(int, 2, name_prefix="cancel")
    sink = Chan(int, name="sink")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(PAR(Distributor(src, lanes), Collector(lanes, sink)).run)
            await anyio.wait_all_tasks_blocked()  # running, waiting on src
            tg.cancel_scope.cancel()
    assert tg.cancel_scope.cancelled_caught
    assert src.closed and sink.closed and all(c.closed for c in lanes)


# ------------------------------------------------------------------ Collector


@pytest.mark.anyio
async def test_collector_forwards_everything_and_closes_the_sink_when_all_sources_close() -> None:
    sources = ChanArray(str, 3, name_prefix="in")
    sink = Chan(str, name="sink")
    got: list[str] = []
    with anyio.fail_after(10):
        result = await PAR(
            *[producer(sources[i], [f"{i}-{k}" for k in range(5 + i)]) for i in range(3)],
            Collector(sources, sink),
            reader(sink, got),
        ).run()
    assert result.is_ok
    assert sorted(got) == sorted(f"{i}-{k}" for i in range(3) for k in range(5 + i))
    for i in range(3):  # per-source order survives the merge
        mine = [v for v in got if v.startswith(f"{i}-")]
        assert mine == [f"{i}-{k}" for k in range(5 + i)]
    assert sink.closed
    assert result.results[3].value == 18


@pytest.mark.anyio
async def test_ordered_collector_takes_sources_in_turn_in_index_order() -> None:
    sources = ChanArray(int, 3, name_prefix="ord")
    sink = Chan(int, name="sink")
    got: list[int] = []
    lengths = [3, 1, 2]
    with anyio.fail_after(10):
        result = await PAR(
            *[producer(sources[i], [10 * i + k for k in range(lengths[i])]) for i in range(3)],
            Collector(sources, sink, ordered=True),
            reader(sink, got),
        ).run()
    assert result.is_ok
    assert got == [0, 10, 20, 1, 21, 2]


@pytest.mark.anyio
async def test_collector_does_not_close_the_sink_while_a_source_is_open() -> None:
    sources = ChanArray(int, 2, name_prefix="open")
    sink = Chan(int, name="sink")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(Collector(sources, sink).execute, ProcessContext("collector"))
            sources[0].close()
            await anyio.wait_all_tasks_blocked()
            assert not sink.closed
            sources[1].close()
            await anyio.wait_all_tasks_blocked()
            assert sink.closed


@pytest.mark.anyio
async def test_collector_fails_and_closes_its_sources_when_the_sink_is_closed() -> None:
    sources = ChanArray(int, 2, name_prefix="src")
    sink = Chan(int, name="closed-sink")
    sink.close()
    with anyio.fail_after(10):
        result = await PAR(
            producer(sources[0], [1, 2, 3]).optional(), Collector(sources, sink)
        ).run()
    assert isinstance(result.results[1].failure.error, ChannelClosedError)
    assert "closed-sink" in str(result.results[1].failure.error)
    assert all(s.closed for s in sources)


# ------------------------------------------------------------- whole pipelines


@pytest.mark.anyio
@pytest.mark.parametrize("strategy", ["round_robin", "ready_first"])
async def test_100_values_through_4_workers_and_a_collector_all_come_back(strategy: Any) -> None:
    jobs = Chan(int, name="jobs")
    inbox = ChanArray(int, 4, name_prefix="inbox")
    outbox = ChanArray(tuple, 4, name_prefix="outbox")
    results = Chan(tuple, name="results")
    got: list[tuple[int, int]] = []

    async def worker(i: int, ctx: ProcessContext) -> int:
        handled = 0
        async for job in inbox[i]:
            await outbox[i].send((i, job * job))
            handled += 1
        outbox[i].close()
        return handled

    with anyio.fail_after(20):
        result = await PAR(
            producer(jobs, range(100)),
            Distributor(jobs, inbox, strategy=strategy),
            PAR_FOR(4, worker),
            Collector(outbox, results),
            reader(results, got),
        ).run()
    assert result.is_ok
    assert sorted(v for _, v in got) == [k * k for k in range(100)]
    handled = result.results[2].value
    assert sum(handled) == 100
    if strategy == "round_robin":
        assert handled == [25, 25, 25, 25]
        assert all(v in {k * k for k in range(w, 100, 4)} for w, v in got)


@pytest.mark.anyio
async def test_broadcast_pipeline_gives_each_worker_every_value() -> None:
    jobs = Chan(int, name="jobs")
    inbox = ChanArray(int, 3, name_prefix="inbox")
    outbox = ChanArray(tuple, 3, name_prefix="outbox")
    results = Chan(tuple, name="results")
    got: list[tuple[int, int]] = []

    async def worker(i: int, ctx: ProcessContext) -> None:
        async for job in inbox[i]:
            await outbox[i].send((i, job))
        outbox[i].close()

    with anyio.fail_after(20):
        result = await PAR(
            producer(jobs, range(30)),
            Distributor(jobs, inbox, strategy="broadcast"),
            PAR_FOR(3, worker),
            Collector(outbox, results, ordered=True),
            reader(results, got),
        ).run()
    assert result.is_ok
    assert Counter(got) == Counter((i, j) for i in range(3) for j in range(30))
    # ordered collector: worker 0, 1, 2 in turn
    assert [w for w, _ in got[:6]] == [0, 1, 2, 0, 1, 2]


# ---------------------------------------------------------------- bad input


def test_distributor_and_collector_reject_bad_arguments() -> None:
    ch = Chan(int, name="c")
    lanes = ChanArray(int, 2, name_prefix="l")
    with pytest.raises(TypeError, match="source"):
        Distributor("c", lanes)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="targets"):
        Distributor(ch, ch)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"targets\[1\]"):
        Distributor(ch, [lanes[0], "x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="at least one"):
        Distributor(ch, [])
    with pytest.raises(ValueError, match="strategy"):
        Distributor(ch, lanes, strategy="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source cannot also be a target"):
        Distributor(ch, [ch, lanes[0]])
    with pytest.raises(ValueError, match="twice"):
        Distributor(ch, [lanes[0], lanes[0]])
    with pytest.raises(TypeError, match="sink"):
        Collector(lanes, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sources"):
        Collector(42, ch)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sink cannot also be a source"):
        Collector([ch, lanes[0]], ch)
    with pytest.raises(TypeError, match="ordered"):
        Collector(lanes, ch, ordered="yes")  # type: ignore[arg-type]


def test_topology_processes_have_short_reprs_and_are_processes() -> None:
    ch = Chan(int, name="c")
    lanes = ChanArray(int, 2, name_prefix="l")
    d = Distributor(ch, lanes, strategy="broadcast")
    assert isinstance(d, Process)
    assert repr(d) == (
        "Distributor(Chan(int, name='c'), [Chan(int, name='l[0]'), Chan(int, name='l[1]')], "
        "strategy='broadcast')"
    )
    c = Collector(lanes, ch, ordered=True)
    assert repr(c) == (
        "Collector([Chan(int, name='l[0]'), Chan(int, name='l[1]')], Chan(int, name='c'), "
        "ordered=True)"
    )
    assert d.with_name("fan-out").name == "fan-out"
