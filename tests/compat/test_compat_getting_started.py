"""stbass 0.1 compatibility: the 0.1 getting-started program, as its page wrote
it, runs on asyncio (``asyncio.run``) and, being backend-neutral, on trio."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from stbass import PAR, Chan, Process, ProcessContext, ProcessResult


@Process
async def producer(ctx: ProcessContext) -> ProcessResult:
    data = {"query": "hello world"}
    await ctx.send("data_chan", data)
    return ProcessResult.ok("sent successfully")


@Process
async def consumer(ctx: ProcessContext) -> ProcessResult:
    data = await ctx.recv("data_chan")
    return ProcessResult.ok(f"processed: {data}")


async def main() -> Any:
    ch = Chan(dict, name="data_chan")
    return await PAR(
        producer.with_channels(data_chan=ch),
        consumer.with_channels(data_chan=ch),
    ).run()


def test_getting_started_under_asyncio_run() -> None:
    result = asyncio.run(main())
    assert result.is_ok
    assert result.value == ["sent successfully", "processed: {'query': 'hello world'}"]


@pytest.mark.anyio
async def test_getting_started_on_both_backends() -> None:
    with anyio.fail_after(10):
        result = await main()
    assert result.is_ok
    assert result.value[1] == "processed: {'query': 'hello world'}"
