"""stbass 0.1 compatibility: replicator factories are any callable returning an
awaitable (0.1's ``lambda i, ctx: worker(i, items[i], ctx)`` idiom), on their
own, as a SEQ stage and nested; only what cannot be called is rejected."""

from __future__ import annotations

import functools
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
    ProcessContext,
    ProcessResult,
)

pytestmark = pytest.mark.anyio

ITEMS = ["a", "b", "c"]


async def worker(i: int, item: str, ctx: ProcessContext) -> ProcessResult:
    await anyio.lowlevel.checkpoint()
    return ProcessResult.ok(f"{i}:{item}")


async def test_par_for_with_a_lambda_factory() -> None:
    with anyio.fail_after(10):
        result = await PAR_FOR(count=3, factory=lambda i, ctx: worker(i, ITEMS[i], ctx)).run()
    assert result.is_ok
    assert result.value == ["0:a", "1:b", "2:c"]


async def test_seq_for_with_a_lambda_factory() -> None:
    with anyio.fail_after(10):
        result = await SEQ_FOR(count=3, factory=lambda i, ctx: worker(i, ITEMS[i], ctx)).run()
    assert result.is_ok and result.value == "2:c"
    assert [r.value for r in result.results] == ["0:a", "1:b", "2:c"]


async def test_a_partial_and_a_callable_object_are_factories() -> None:
    class Factory:
        def __call__(self, i: int, ctx: ProcessContext) -> Any:
            return worker(i, "obj", ctx)

    async def with_item(item: str, i: int, ctx: ProcessContext) -> ProcessResult:
        return await worker(i, item, ctx)

    with anyio.fail_after(10):
        by_object = await PAR_FOR(2, Factory()).run()
        by_partial = await PAR_FOR(2, functools.partial(with_item, "p")).run()
    assert by_object.value == ["0:obj", "1:obj"]
    assert by_partial.value == ["0:p", "1:p"]


async def test_a_lambda_factory_inside_a_seq_stage() -> None:
    @Process
    async def join(ctx: ProcessContext) -> str:
        return ",".join(await ctx.recv("input"))

    pipeline = SEQ(PAR_FOR(3, lambda i, ctx: worker(i, ITEMS[i], ctx)), join)
    with anyio.fail_after(10):
        result = await pipeline.run()
    assert result.is_ok
    assert result.value == "0:a,1:b,2:c"


async def test_nested_par_for_with_lambda_factories() -> None:
    def outer(i: int, ctx: ProcessContext) -> Any:
        return PAR_FOR(2, lambda j, inner: worker(j, f"{i}", inner)).run(ctx)

    with anyio.fail_after(10):
        result = await PAR_FOR(3, outer).run()
    assert result.is_ok
    assert result.value == [["0:0", "1:0"], ["0:1", "1:1"], ["0:2", "1:2"]]


@pytest.mark.parametrize("cls", [PAR_FOR, SEQ_FOR])
async def test_only_what_cannot_be_called_is_rejected(cls: Any) -> None:
    for bad in ("worker", 42, None):
        with pytest.raises(TypeError, match="factory must be a callable"):
            cls(3, bad)


async def test_a_count_callable_that_raises_is_a_failed_child_never_an_exception() -> None:
    def count() -> int:
        raise RuntimeError("the item list is unavailable")

    @Process
    async def sibling(ctx: ProcessContext) -> str:
        await anyio.lowlevel.checkpoint()
        return "sibling done"

    replicated = PAR_FOR(count, lambda i, ctx: worker(i, ITEMS[i], ctx))
    with anyio.fail_after(10):
        result = await PAR(replicated, sibling, on_failure=FailurePolicy.COLLECT).run()
        alone = await replicated.run()
    assert result.value == [None, "sibling done"]  # the sibling's result is kept
    assert len(result.failures) == 1
    assert isinstance(result.failures[0].error, RuntimeError)
    assert alone.is_fail and isinstance(alone.failures[0].error, RuntimeError)
