"""stbass.streams: operators between channels, pipeline(), ordering with k in
flight, back-pressure, closing, cancellation and on_error, on both backends."""

from __future__ import annotations

import runpy
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import PAR, SEQ, Chan, ChannelClosedError, Process, ProcessContext
from stbass import _names as N
from stbass.streams import (
    ItemError,
    PipelineResult,
    batch,
    branch,
    filter,
    flat_map,
    map,
    merge,
    partition,
    pipeline,
    rate_limit,
    tap,
)

from testing_backends import TIMER_BACKENDS

pytestmark = pytest.mark.anyio


async def run(p: Any) -> Any:
    with anyio.fail_after(10):
        return await p.run()


# ------------------------------------------------------------------ map


@pytest.mark.parametrize("k", [2, 4])
async def test_ordered_map_keeps_input_order_with_k_in_flight(k: int) -> None:
    gates = {i: anyio.Event() for i in range(2 * k)}
    in_flight = 0
    peak = 0

    async def work(i: int) -> int:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await gates[i].wait()
        in_flight -= 1
        return i * 10

    results: list[PipelineResult] = []

    async def go() -> None:
        results.append(await pipeline(range(2 * k), map(work, max_parallel=k)).run())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(go)
            await anyio.wait_all_tasks_blocked()
            assert in_flight == k  # k started, and no more
            for i in reversed(range(2 * k)):  # finish in the opposite order
                gates[i].set()
                await anyio.wait_all_tasks_blocked()
    assert results[0].value == [i * 10 for i in range(2 * k)]
    assert peak == k


async def test_unordered_map_sends_results_as_they_finish() -> None:
    gates = [anyio.Event() for _ in range(3)]

    async def work(i: int) -> int:
        await gates[i].wait()
        return i

    results: list[PipelineResult] = []

    async def go() -> None:
        results.append(await pipeline(range(3), map(work, max_parallel=3, ordered=False)).run())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(go)
            for i in (2, 0, 1):
                await anyio.wait_all_tasks_blocked()
                gates[i].set()
    assert results[0].value == [2, 0, 1]


async def test_sync_and_async_functions_both_work() -> None:
    async def slow_double(x: int) -> int:
        await anyio.lowlevel.checkpoint()
        return 2 * x

    result = await run(pipeline([1, 2, 3], map(slow_double), map(lambda x: x + 1)))
    assert result.value == [3, 5, 7]


# ------------------------------------------------------------------ back-pressure, closing, cancelling


async def test_a_slow_sink_slows_the_source() -> None:
    produced = 0

    async def numbers() -> AsyncIterator[int]:
        nonlocal produced
        for i in range(100):
            produced += 1
            yield i

    sink = Chan(int, name="sink")
    received: list[int] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline(numbers(), map(lambda x: x), filter(bool), sink=sink).run)
            await anyio.wait_all_tasks_blocked()
            # nobody reads the sink: at most one item per stage (source, map,
            # filter, sink) has left the source, plus the 0 that filter dropped
            assert produced <= 5
            async for item in sink:
                received.append(item)
                if item == 10:
                    await anyio.wait_all_tasks_blocked()
                    assert produced <= 15
    assert received == list(range(1, 100))


async def test_closing_the_source_closes_every_stage_and_the_sink() -> None:
    source = Chan(int, name="source")
    sink = Chan(str, name="sink")
    got: list[str] = []

    async def produce() -> None:
        for i in range(3):
            await source.send(i)
        source.close()

    async def consume() -> None:
        async for item in sink:
            got.append(item)

    p = pipeline(source, map(str), batch(2), flat_map(lambda b: b), sink=sink)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            tg.start_soon(consume)
            result = await p.run()
    assert got == ["0", "1", "2"]
    assert sink.closed and result.is_ok and result.value == 3


async def test_a_sink_closed_by_its_reader_stops_the_pipeline_without_failure() -> None:
    sink = Chan(int, name="sink")
    source = Chan(int, name="source")
    sent = []

    async def produce() -> None:
        try:
            for i in range(1000):
                await source.send(i)
                sent.append(i)
        except ChannelClosedError:
            pass

    async def take_two() -> None:
        await sink.recv()
        await sink.recv()
        sink.close()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            tg.start_soon(take_two)
            result = await pipeline(source, map(lambda x: x), tap(lambda x: None), sink=sink).run()
    assert result.is_ok and result.value == 2
    assert source.closed  # the stop travelled back to the source
    assert len(sent) < 10


async def test_cancelling_the_run_cancels_every_stage() -> None:
    cleaned = []

    async def stuck(x: int) -> int:
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.append(x)
        return x  # pragma: no cover

    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pipeline(range(10), map(stuck, max_parallel=3)).run)
                await anyio.wait_all_tasks_blocked()
                scope.cancel()
    assert scope.cancelled_caught
    assert sorted(cleaned) == [0, 1, 2]


# ------------------------------------------------------------------ on_error


async def test_on_error_halt_stops_the_pipeline_with_the_failure() -> None:
    source = Chan(int, name="source")
    sink = Chan(float, name="sink")

    async def produce() -> None:
        try:
            for i in (1, 2, 0, 4, 5):
                await source.send(i)
        except ChannelClosedError:
            pass

    async def consume() -> None:
        async for _ in sink:
            pass

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            tg.start_soon(consume)
            result = await pipeline(source, map(lambda x: 1 / x, name="invert"), sink=sink).run()
    assert not result.is_ok
    assert result.failure is not None
    assert result.failure.summary == "[invert] ZeroDivisionError: division by zero"
    assert sink.closed and source.closed


@pytest.mark.parametrize("k", [1, 3])
async def test_on_error_skip_reports_the_item_and_keeps_going(k: int) -> None:
    p = pipeline([1, 0, 2, 0, 4], map(lambda x: 8 // x, max_parallel=k, on_error="skip"))
    result = await run(p)
    assert result.is_ok
    assert result.value == [8, 4, 2]
    assert [(e.stage, e.item, type(e.error)) for e in result.errors] == [
        ("map", 0, ZeroDivisionError),
        ("map", 0, ZeroDivisionError),
    ]


async def test_on_error_collect_keeps_going_but_fails_the_result() -> None:
    def check(x: int) -> bool:
        if x < 0:
            raise ValueError(f"negative: {x}")
        return x > 1

    result = await run(pipeline([3, -1, 1, 2], filter(check, on_error="collect")))
    assert result.value == [3, 2]
    assert not result.is_ok
    assert result.errors[0].summary == "[filter] ValueError: negative: -1 (item -1, collected)"
    assert result.as_process_result().is_fail


async def test_item_errors_are_span_events_and_operators_are_child_spans(
    span_exporter: InMemorySpanExporter,
) -> None:
    await run(pipeline([1, 0], map(lambda x: 1 / x, on_error="skip"), tap(print)))
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    root = spans["pipeline"]
    assert root.attributes is not None and root.attributes[N.PIPELINE_ITEMS] == 1
    (event,) = root.events
    assert event.name == N.EVENT_PIPELINE_ITEM_FAILED
    assert event.attributes is not None
    assert event.attributes[N.PIPELINE_ITEM] == "0"
    assert event.attributes[N.PIPELINE_STAGE] == "map"
    for name in ("process map", "process tap"):
        parent = spans[name].parent
        assert parent is not None and parent.span_id == root.context.span_id


# ------------------------------------------------------------------ the other operators


async def test_filter_flat_map_and_tap() -> None:
    seen: list[str] = []

    async def words(line: str) -> AsyncIterator[str]:
        for w in line.split():
            yield w

    p = pipeline(
        ["a bb", "", "ccc d"], filter(bool), flat_map(words), tap(seen.append), map(len)
    )
    result = await run(p)
    assert result.value == [1, 2, 3, 1]
    assert seen == ["a", "bb", "ccc", "d"]


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
async def test_batch_timeout_sends_a_partial_batch_while_the_source_is_open() -> None:
    source = Chan(int, name="source")
    sink = Chan(list, name="sink")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline(source, batch(3, timeout=0.05), sink=sink).run)
            await source.send(1)
            await source.send(2)
            assert await sink.recv() == [1, 2]  # the source is still open
            for i in (3, 4, 5, 6):
                await source.send(i)
            assert await sink.recv() == [3, 4, 5]
            source.close()
            assert await sink.recv() == [6]


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
async def test_rate_limit_spaces_items_after_the_burst() -> None:
    started = anyio.current_time()
    result = await run(pipeline(range(6), rate_limit(50, burst=2)))
    elapsed = anyio.current_time() - started
    assert result.value == list(range(6))
    assert elapsed >= (6 - 2) / 50 * 0.99  # four items waited for a token


async def test_partition_keeps_per_key_order_and_runs_lanes_in_parallel() -> None:
    b_done = anyio.Event()
    order: list[str] = []

    async def handle(event: tuple[str, int]) -> str:
        user, n = event
        if event == ("a", 0):
            await b_done.wait()  # lane "a" waits until lane "b" got through
        order.append(f"{user}{n}")
        if event == ("b", 1):
            b_done.set()
        return f"{user}{n}"

    # (the dispatcher waits while a lane is busy: "b" items come before "a1")
    events = [("a", 0), ("b", 0), ("b", 1), ("a", 1), ("a", 2)]
    lanes = {"a": 0, "b": 1}
    result = await run(pipeline(events, partition(lambda e: lanes[e[0]], 2, map(handle))))
    assert order.index("b1") < order.index("a0")
    assert [x for x in result.value if x[0] == "a"] == ["a0", "a1", "a2"]
    assert [x for x in result.value if x[0] == "b"] == ["b0", "b1"]


async def test_partition_lane_errors_follow_the_lane_operator_policy() -> None:
    result = await run(
        pipeline([1, 0, 2, 0], partition(lambda x: x, 2, map(lambda x: 1 // x, on_error="skip")))
    )
    assert sorted(result.value) == [0, 1]
    assert [e.item for e in result.errors] == [0, 0]
    halted = await run(pipeline([1, 0, 2], partition(lambda x: x, 2, map(lambda x: 1 // x))))
    assert halted.failure is not None
    assert isinstance(halted.failure.error, ZeroDivisionError)


# ------------------------------------------------------------------ partition branches


async def test_partition_branches_go_to_separate_sinks_each_closed_at_the_end() -> None:
    evens = Chan(object, name="evens")
    odd: list[int] = []
    got: list[Any] = []

    async def read_evens() -> None:
        got.extend([x async for x in evens])  # ends only when the branch closes evens

    async def keep_odd(x: int) -> None:
        await anyio.lowlevel.checkpoint()
        odd.append(x)

    routed = partition(
        lambda x: "big" if x >= 6 else ("odd" if x % 2 else "even"),
        branches={
            "even": branch(map(lambda x: x * 10), sink=evens),
            "odd": branch(filter(lambda x: x != 3), sink=keep_odd),
            "big": branch(map(str)),  # no sink: joins the partition's output
        },
    )
    results: list[PipelineResult] = []

    async def go() -> None:
        results.append(await pipeline(range(9), routed, map(lambda x: f"<{x}>")).run())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_evens)
            tg.start_soon(go)
    assert got == [0, 20, 40]
    assert odd == [1, 5]
    assert results[0].is_ok and results[0].value == ["<6>", "<7>", "<8>"]
    assert evens.closed


@pytest.mark.parametrize("buffer", [0, 3])
async def test_a_slow_branch_holds_the_dispatcher_once_its_buffer_is_full(buffer: int) -> None:
    slow = Chan(object, name="slow")
    read: list[str] = []

    def source() -> Any:
        for item in ["s"] * 6 + ["f"]:
            read.append(item)
            yield item

    routed = partition(
        lambda x: 0 if x == "s" else 1, branches=[branch(sink=slow, buffer=buffer), branch()]
    )
    results: list[PipelineResult] = []

    async def go() -> None:
        results.append(await pipeline(source(), routed).run())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(go)
            await anyio.wait_all_tasks_blocked()
            # one item held by the branch, `buffer` waiting for it, one in the
            # dispatcher's hand: nothing more is read, and "f" waits too
            assert len(read) == buffer + 2
            assert not results
            drained = [await slow.recv() for _ in range(6)]
    assert drained == ["s"] * 6
    assert results[0].value == ["f"]


async def test_a_branch_reader_that_stops_stops_the_partition_without_failure() -> None:
    import itertools

    head = Chan(object, name="head")
    taken: list[Any] = []

    async def take_two() -> None:
        taken.append(await head.recv())
        taken.append(await head.recv())
        head.close()  # wants no more

    results: list[PipelineResult] = []

    async def go() -> None:
        routed = partition(lambda x: x % 2, branches=[head, branch()])
        results.append(await pipeline(itertools.count(), routed).run())  # endless source

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(take_two)
            tg.start_soon(go)
    assert taken == [0, 2]
    merged = results[0].value
    assert results[0].is_ok and merged == list(range(1, 2 * len(merged), 2))  # none lost


async def test_cancelling_a_partition_closes_its_branch_sinks_and_leaves_no_task() -> None:
    stuck = Chan(object, name="stuck")
    seen: list[int] = []
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            routed = partition(lambda x: 0, branches=[branch(map(seen.append), sink=stuck)])
            tg.start_soon(pipeline(range(10), routed).run)
            await anyio.wait_all_tasks_blocked()
            tg.cancel_scope.cancel()
    assert stuck.closed  # its reader is not left waiting
    assert seen == [0]  # the branch held one item when it was cancelled


async def test_a_failing_branch_sink_or_unknown_key_stops_the_pipeline() -> None:
    other = Chan(object, name="other", capacity=10)

    def full(x: int) -> None:
        raise RuntimeError(f"sink full at {x}")

    result = await run(pipeline(range(4), partition(lambda x: x % 2, branches=[branch(sink=full), other])))
    assert result.failure is not None and isinstance(result.failure.error, RuntimeError)
    assert str(result.failure.error) == "sink full at 0"
    assert other.closed
    unknown = await run(pipeline(["a", "b"], partition(str, branches={"a": branch()})))
    assert unknown.failure is not None
    assert "key 'b' matches no branch (branches: 'a')" in str(unknown.failure.error)


def test_bad_partition_branches_are_refused_at_construction() -> None:
    chan = Chan(object, name="c")
    cases: list[tuple[Any, type[Exception], str]] = [
        (lambda: partition(str), TypeError, "give n .* or branches="),
        (lambda: partition(str, 2, branches=[branch()]), TypeError, "not both"),
        (lambda: partition(str, branches=[]), ValueError, "branches must not be empty"),
        (lambda: partition(str, branches="ab"), TypeError, "branches must be a list or a dict"),  # type: ignore[arg-type]
        (lambda: partition(str, branches=[branch(), 3]), TypeError, "branch 1 must be a branch"),  # type: ignore[list-item]
        (lambda: partition(str, branches={"x": 3}), TypeError, "branch 'x' must be a branch"),  # type: ignore[dict-item]
        (lambda: partition(str, branches=[chan, branch(sink=chan)]), ValueError, "the same Chan sink"),
        (lambda: branch(str), TypeError, "branch: stage 0 must be a stream operator"),  # type: ignore[arg-type]
        (lambda: branch(sink=3), TypeError, "branch: sink must be a Chan or a function"),  # type: ignore[arg-type]
        (lambda: branch(buffer=-1), ValueError, "buffer must be 0 or more"),
    ]
    for make, exc, message in cases:
        with pytest.raises(exc, match=message):
            make()
    assert repr(partition(str, branches=[chan, branch(map(str), buffer=2)])) == (
        "partition(str, branches=[branch(sink=Chan(object, name='c')), branch(map(str), buffer=2)])"
    )


async def test_merge_fans_in_as_a_source_and_as_a_stage() -> None:
    async def letters() -> AsyncIterator[str]:
        for c in "xy":
            yield c

    first = await run(pipeline(merge([1, 2], letters())))
    assert sorted(map_str(first.value)) == ["1", "2", "x", "y"]
    second = await run(pipeline([1], merge(["a"]), map(str)))
    assert sorted(second.value) == ["1", "a"]


def map_str(items: list[Any]) -> list[str]:
    return [str(i) for i in items]


# ------------------------------------------------------------------ composition


async def test_sinks_and_nesting_in_seq_and_par() -> None:
    got: list[int] = []

    async def store(x: int) -> None:
        got.append(x)

    @Process
    async def other(ctx: ProcessContext) -> str:
        return "other"

    result = await run(PAR(pipeline(range(3), map(lambda x: x + 1), sink=store), other))
    assert result.is_ok and result.value == [3, "other"]
    assert got == [1, 2, 3]
    nested = await run(SEQ(pipeline(["a", "b"], map(str.upper)), other))
    assert nested.results[0].value == ["A", "B"]


async def test_an_operator_runs_between_bound_channels_in_a_par() -> None:
    raw = Chan(int, name="raw")
    cooked = Chan(int, name="cooked")

    @Process
    async def produce(ctx: ProcessContext) -> None:
        for i in range(3):
            await raw.send(i)
        raw.close()

    @Process
    async def consume(ctx: ProcessContext) -> list[int]:
        return [x async for x in cooked]

    stage = map(lambda x: x * x).with_channels(input=raw, output=cooked)
    result = await run(PAR(produce, stage, consume))
    assert result.value[2] == [0, 1, 4]


async def test_a_failing_source_or_sink_is_the_failure() -> None:
    def bad_source() -> Any:
        yield 1
        raise OSError("disk gone")

    result = await run(pipeline(bad_source(), map(str)))
    assert result.failure is not None and result.failure.summary == "[source] OSError: disk gone"

    def bad_sink(x: Any) -> None:
        raise RuntimeError("full")

    result = await run(pipeline([1], sink=bad_sink))
    assert result.failure is not None and result.failure.process_name == "sink"


def test_bad_arguments_are_refused_at_construction() -> None:
    cases: list[tuple[Any, type[Exception], str]] = [
        (lambda: map(42), TypeError, "map: fn must be callable"),  # type: ignore[arg-type]
        (lambda: map(str, max_parallel=0), ValueError, "max_parallel must be at least 1"),
        (lambda: map(str, on_error="ignore"), ValueError, "on_error must be"),  # type: ignore[arg-type]
        (lambda: batch(0), ValueError, "batch: n must be at least 1"),
        (lambda: batch(2, timeout=-1), ValueError, "timeout must be a positive"),
        (lambda: rate_limit(0), ValueError, "per_second must be a positive"),
        (lambda: partition(str, 2, str), TypeError, "stage 0 must be a stream operator"),  # type: ignore[arg-type]
        (lambda: pipeline(42), TypeError, "a source must be a Chan"),
        (lambda: pipeline("abc"), TypeError, "a str is one value, not a stream"),
        (lambda: pipeline([], str), TypeError, "stage 0 must be a stream operator"),  # type: ignore[arg-type]
        (lambda: pipeline([], sink=3), TypeError, "sink must be a Chan or a function"),  # type: ignore[arg-type]
    ]
    for make, exc, message in cases:
        with pytest.raises(exc, match=message):
            make()


def test_reprs_are_short_python() -> None:
    assert repr(map(str, max_parallel=4, on_error="skip")) == "map(str, max_parallel=4, on_error='skip')"
    assert repr(batch(10, timeout=0.5)) == "batch(10, timeout=0.5)"
    assert repr(pipeline([1], filter(bool))) == "pipeline(list, filter(bool))"
    assert ItemError("s", 1, ValueError("x"), "skip").summary == "[s] ValueError: x (item 1, skipped)"


# ------------------------------------------------------------------ the example

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def test_stream_enrich_example_bounds_lookups_keeps_user_order_and_skips_bad_events() -> None:
    main = runpy.run_path(str(EXAMPLES / "stream_enrich.py"), run_name="stream_enrich")["main"]
    with anyio.fail_after(30):
        result, world = await main(60)
    written = [s for b in world.batches + world.uk_batches for s in b]
    assert result.is_ok
    assert len(written) == 45  # 60 events - 3 invalid - 12 of the unknown user
    uk = [s for b in world.uk_batches for s in b]
    assert {s.user for s in uk} == {"ada"} and len(uk) == len([s for s in written if s.user == "ada"])
    assert all(len(b) <= 5 for b in world.uk_batches)
    assert all(s.country == "us" for b in world.batches for s in b)
    assert {e.item.user for e in result.errors} == {"tony"}
    assert all(e.stage == "enrich" for e in result.errors)
    assert 1 <= world.peak_lookups <= 8
    assert all(len(b) <= 10 for b in world.batches)
    for user in ("ada", "grace", "edsger", "barbara"):
        seqs = [s.seq for s in written if s.user == user]
        assert seqs == sorted(seqs)  # one lane per user: order kept
        totals = [s.running_total for s in written if s.user == user]
        assert totals == sorted(totals) and totals[-1] == world.totals[user]


def test_stream_enrich_example_runs_from_the_command_line_on_trio() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "stream_enrich.py"), "--backend", "trio"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "wrote 45 scored events" in proc.stdout


async def test_a_failing_call_in_a_parallel_map_halts_and_cancels_the_others() -> None:
    cleaned = []

    async def work(x: int) -> int:
        if x == 1:
            await anyio.wait_all_tasks_blocked()
            raise KeyError(x)
        try:
            await anyio.sleep_forever()
        finally:
            cleaned.append(x)
        return x  # pragma: no cover

    result = await run(pipeline(range(10), map(work, max_parallel=3, name="work")))
    assert result.failure is not None and result.failure.summary == "[work] KeyError: 1"
    assert sorted(cleaned) == [0, 2]


@pytest.mark.parametrize("ordered", [True, False])
async def test_a_parallel_map_reads_at_most_k_items_ahead_of_a_stalled_sink(ordered: bool) -> None:
    produced = 0

    async def numbers() -> AsyncIterator[int]:
        nonlocal produced
        for i in range(1000):
            produced += 1
            yield i

    sink = Chan(int, name="sink")
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(pipeline(numbers(), map(lambda x: x, max_parallel=8, ordered=ordered), sink=sink).run)
            await anyio.wait_all_tasks_blocked()
            # 8 in the map's window, one in the feeder's hands, one with the drainer
            assert produced <= 8 + 2
            tg.cancel_scope.cancel()


async def test_skip_in_flat_map_and_tap_drops_the_item_and_keeps_going() -> None:
    def explode(x: int) -> list[int]:
        if x == 2:
            raise ValueError("two")
        return [x, x]

    def audit(x: int) -> None:
        if x == 3:
            raise RuntimeError("three")

    result = await run(
        pipeline([1, 2, 3], flat_map(explode, on_error="skip"), tap(audit, on_error="skip"))
    )
    assert result.value == [1, 1]
    assert [(e.stage, e.item) for e in result.errors] == [("flat_map", 2), ("tap", 3), ("tap", 3)]
