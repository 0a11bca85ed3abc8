"""Static type checks of the public API (run by ``mypy --strict`` in scripts/test.sh;
never executed). Each ``assert_type`` fails the type check if inference changes."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from stbass import (
    ALT,
    PAR,
    SEQ,
    Chan,
    Guard,
    PARResult,
    Process,
    ProcessContext,
    ProcessResult,
    SEQResult,
)


async def channel_types() -> None:
    ints = Chan(int, name="ints")
    assert_type(ints, Chan[int])
    assert_type(await ints.recv(), int)
    await ints.send(3)
    await ints.send("3")  # type: ignore[arg-type]
    generic = Chan[str]("names")
    assert_type(generic, Chan[str])
    assert_type(await generic.recv(), str)
    async for item in ints:
        assert_type(item, int)


async def results_and_compositions(ctx: ProcessContext) -> None:
    ok = ProcessResult.ok(5)
    assert_type(ok, ProcessResult[int])
    assert_type(ok.value, int)
    bare: ProcessResult = ProcessResult.ok("x")  # a bare annotation means ProcessResult[Any]
    assert_type(bare, ProcessResult[Any])

    @Process
    async def body(ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(1)

    assert_type(body, Process)
    assert_type(await PAR(body, body).run(), PARResult)
    assert_type(await SEQ(body).run(1), SEQResult)
    assert_type(await body.execute(ctx), ProcessResult[Any])


async def alt_types() -> None:
    ch = Chan(int, name="c")
    guard = Guard(ch, handler=lambda v: str(v))
    assert_type(guard, Guard[str])
    value: Any = await ALT(guard, ch)
    index, raw = await ALT(ch).choose()
    assert_type(index, int)
    del value, raw
