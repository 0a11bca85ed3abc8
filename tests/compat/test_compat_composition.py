"""stbass 0.1 compatibility: composition edge cases a 0.1 program meets.

* a second ``async with SEQ(...)``/``PAR(...)`` block runs the composition again;
* a ``ProcessContext`` deadline passed to ``PAR/SEQ/PAR_FOR/SEQ_FOR.run(ctx)`` is
  enforced;
* a ``CancelledError`` raised inside one PAR child (awaiting a cancelled
  future, an asyncio-only situation) is that child's failure, not a
  cancellation of its siblings, while a native ``Task.cancel()`` of the caller
  still propagates.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from stbass import (
    PAR,
    PAR_FOR,
    SEQ,
    SEQ_FOR,
    FailurePolicy,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
)
from testing_backends import TIMER_BACKENDS

pytestmark = pytest.mark.anyio


def _counter() -> tuple[list[int], Process]:
    runs: list[int] = []

    @Process
    async def count(ctx: ProcessContext) -> int:
        await anyio.lowlevel.checkpoint()
        runs.append(len(runs) + 1)
        return len(runs)

    return runs, count


@pytest.mark.parametrize("kind", [SEQ, PAR])
async def test_a_second_async_with_block_runs_again(kind: Any) -> None:
    runs, count = _counter()
    composition = kind(count)
    with anyio.fail_after(10):
        async with composition as c:
            pass
        first = c.result
        async with composition as c:
            pass
        second = c.result
    assert runs == [1, 2]
    assert first is not second
    assert first.is_ok and second.is_ok


async def test_processes_added_inside_async_with_run_at_the_end_of_the_block() -> None:
    runs, count = _counter()
    with anyio.fail_after(10):
        async with SEQ() as pipeline:  # the 0.1 idiom
            pipeline.add(count, count)
            assert runs == []  # nothing runs before the block ends
    assert runs == [1, 2]
    assert pipeline.result is not None and pipeline.result.value == 2


@Process
async def forever(ctx: ProcessContext) -> str:
    await anyio.sleep_forever()
    return "never"  # pragma: no cover


@Process
async def quick(ctx: ProcessContext) -> str:
    await anyio.lowlevel.checkpoint()
    return "quick"


def _assert_cut_by_deadline(result: Any) -> None:
    assert result.is_fail
    errors = [f.error for f in result.failures]
    assert errors and all(isinstance(e, ProcessCancelledError) for e in errors)
    assert all(e.reason == "deadline" for e in errors)
    assert all("None" not in str(e) for e in errors)


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
async def test_a_context_deadline_is_enforced_by_par() -> None:
    ctx = ProcessContext("main", deadline=anyio.current_time() + 0.05)
    with anyio.fail_after(10):
        result = await PAR(quick, forever, on_failure=FailurePolicy.COLLECT).run(ctx)
    _assert_cut_by_deadline(result)
    assert result.value == ["quick", None]


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
async def test_a_context_deadline_is_enforced_by_seq() -> None:
    with anyio.fail_after(10):
        ctx = ProcessContext("main", deadline=anyio.current_time() + 0.05)
        result = await SEQ(quick, forever, quick).run(ctx)
    _assert_cut_by_deadline(result)
    assert [r.is_ok for r in result.results] == [True, False]  # the third never starts


@pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)
@pytest.mark.parametrize("kind", [PAR_FOR, SEQ_FOR])
async def test_a_context_deadline_is_enforced_by_replicators(kind: Any) -> None:
    async def body(i: int, ctx: ProcessContext) -> ProcessResult:
        await anyio.sleep_forever()
        return ProcessResult.ok(i)  # pragma: no cover

    with anyio.fail_after(10):
        ctx = ProcessContext("main", deadline=anyio.current_time() + 0.05)
        result = await kind(3, body).run(ctx)
    _assert_cut_by_deadline(result)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("policy", [FailurePolicy.COLLECT, FailurePolicy.HALT])
async def test_a_cancelled_error_raised_inside_a_child_is_its_own_failure(
    policy: FailurePolicy,
) -> None:
    # asyncio only: trio has no cancelled futures a body could await.
    release = anyio.Event()

    @Process
    async def awaits_a_cancelled_future(ctx: ProcessContext) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        try:
            await future
        finally:
            release.set()

    @Process
    async def sibling(ctx: ProcessContext) -> str:
        if policy is FailurePolicy.COLLECT:
            await release.wait()
            return "sibling done"
        await anyio.sleep_forever()
        return "never"  # pragma: no cover

    with anyio.fail_after(10):
        result = await PAR(awaits_a_cancelled_future, sibling, on_failure=policy).run()
    first = result.failures[0]
    assert first.process_name == "awaits_a_cancelled_future"
    assert isinstance(first.error, asyncio.CancelledError)
    assert "deadline" not in first.summary
    if policy is FailurePolicy.COLLECT:
        assert result.value == [None, "sibling done"]  # the sibling was not cancelled
    else:
        # HALT cancels the sibling because of that failure, and says so
        cancelled = result.failures[1].error
        assert isinstance(cancelled, ProcessCancelledError) and cancelled.reason == "halt"


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("kind", [SEQ, PAR, PAR_FOR])
async def test_a_native_task_cancel_of_the_caller_propagates(kind: Any) -> None:
    # 0.1 code cancels with asyncio (Task.cancel, wait_for): that must not be
    # mistaken for a child raising CancelledError itself.
    started = anyio.Event()

    @Process
    async def waits(ctx: ProcessContext) -> None:
        started.set()
        await anyio.sleep_forever()

    composition = (
        kind(2, lambda i, ctx: waits.execute(ctx)) if kind is PAR_FOR else kind(waits, waits)
    )
    with anyio.fail_after(10):
        task = asyncio.get_running_loop().create_task(composition.run())
        await started.wait()
        await anyio.wait_all_tasks_blocked()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.cancelled()


async def test_cancelling_a_composition_from_outside_still_propagates() -> None:
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:

            async def cancel_soon() -> None:
                await anyio.wait_all_tasks_blocked()
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_soon)
                await PAR(forever, forever).run()
                pytest.fail("PAR.run returned after its caller was cancelled")  # pragma: no cover
    assert scope.cancelled_caught
