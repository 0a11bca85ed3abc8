"""stbass 0.1 compatibility, ALT: usable where 0.1's ALT coroutine was, handlers
with zero or one argument, callable preconditions that are dynamic.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from stbass import ALT, PRI_ALT, SKIP, Chan, Guard

pytestmark = pytest.mark.anyio

@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("alt", [ALT, PRI_ALT])
async def test_asyncio_wait_for_takes_an_alt(alt: Any) -> None:
    with anyio.fail_after(10):
        got = await asyncio.wait_for(alt(Guard(SKIP, handler=lambda v: "skipped")), 5)
    assert got == "skipped"


async def test_a_one_argument_handler_gets_the_value() -> None:
    ch = Chan(int, name="numbers")
    got: list[Any] = []

    async def choose() -> None:
        got.append(await ALT(Guard(ch, handler=lambda v: v * 10)))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(choose)
            await ch.send(4)
    assert got == [40]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize("alt", [ALT, PRI_ALT])
async def test_asyncio_create_task_takes_an_alt(alt: Any) -> None:
    with anyio.fail_after(10):
        task = asyncio.get_running_loop().create_task(alt(Guard(SKIP, handler=lambda v: "s")))
        assert await task == "s"


async def test_a_task_group_starts_alt_as_a_task() -> None:
    ch = Chan(int, name="jobs")
    alt: Any = ALT
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(alt, Guard(ch))
            await ch.send(1)  # the ALT task takes it


async def test_a_zero_argument_handler() -> None:
    handler: Any = lambda: "skipped"  # noqa: E731 - zero arguments, as in 0.1
    with anyio.fail_after(10):
        got = await ALT(Guard(SKIP, handler=handler))
    assert got == "skipped"


async def test_a_callable_precondition_false_at_start_waits_then_fires() -> None:
    ch = Chan(int, name="late")
    enabled = False
    got: list[Any] = []

    async def choose() -> None:
        got.append(await ALT(Guard(ch, precondition=lambda: enabled)))

    async def enable_then_send() -> None:
        nonlocal enabled
        await anyio.wait_all_tasks_blocked()  # the ALT waits, its only guard disabled
        enabled = True
        await ch.send(5)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(choose)
            tg.start_soon(enable_then_send)
    assert got == [5]
