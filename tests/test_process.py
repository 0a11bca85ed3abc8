"""Process and ProcessContext (SPEC §3.1)."""

from __future__ import annotations



import anyio
import pytest

from stbass import Chan, Placement, Process, ProcessContext, ProcessResult

pytestmark = pytest.mark.anyio


@Process
async def plain(ctx: ProcessContext) -> ProcessResult[str]:
    """Says hello."""
    return ProcessResult.ok("hello")


@Process(name="custom-name")
async def named(ctx: ProcessContext) -> ProcessResult[str]:
    return ProcessResult.ok(ctx.process_name)


class Doubler(Process):
    async def run(self, ctx: ProcessContext) -> ProcessResult[int]:
        return ProcessResult.ok(2 * await ctx.recv("input"))


async def test_three_ways_to_make_a_process() -> None:
    assert plain.name == "plain" and plain.__doc__ == "Says hello."
    assert (await plain.execute(ProcessContext("plain"))).value == "hello"
    assert named.name == "custom-name"
    assert (await named.execute(ProcessContext(named.name))).value == "custom-name"
    d = Doubler()
    assert d.name == "Doubler"
    ch = Chan(int, name="in")
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 21)
        result = await d.execute(ProcessContext("Doubler", channels={"input": ch}))
    assert result.value == 42


async def test_execute_turns_exceptions_into_failures_with_context() -> None:
    placement = Placement(model="m", endpoint="local:1")

    @Process
    async def failing(ctx: ProcessContext) -> ProcessResult[None]:
        ctx.checkpoint({"step": 2})
        raise RuntimeError("it broke")

    ctx = ProcessContext("failing", parent="PAR", placement=placement)
    result = await failing.execute(ctx)
    assert result.is_fail
    f = result.failure
    assert f.process_name == "failing" and f.process_id == ctx.process_id
    assert f.parent_process == "PAR" and f.placement == placement
    assert f.checkpoint == {"step": 2}
    assert f.started_at is not None and f.elapsed is not None and f.elapsed.total_seconds() >= 0
    assert f.summary == "[failing] RuntimeError: it broke"
    assert f.traceback_str is not None and "it broke" in f.traceback_str
    assert "traceback" in f.detailed and "placement: model=m" in f.detailed
    with pytest.raises(RuntimeError, match="it broke"):
        _ = result.value


async def test_user_failures_are_enriched_with_the_process_identity() -> None:
    @Process
    async def says_no(ctx: ProcessContext) -> ProcessResult[None]:
        return ProcessResult.fail(ValueError("no"))

    result = await says_no.execute(ProcessContext("says_no", parent="SEQ"))
    assert result.failure.process_name == "says_no"
    assert result.failure.parent_process == "SEQ"


async def test_plain_return_values_are_wrapped() -> None:
    @Process
    async def returns_int(ctx: ProcessContext) -> int:
        return 5

    assert (await returns_int.execute(ProcessContext("r"))).value == 5


async def test_execute_never_swallows_cancellation() -> None:
    @Process
    async def waits(ctx: ProcessContext) -> ProcessResult[None]:
        await anyio.sleep_forever()
        return ProcessResult.ok()

    with anyio.move_on_after(0) as scope:
        await waits.execute(ProcessContext("waits"))
        raise AssertionError("execute returned after cancellation")
    assert scope.cancelled_caught


async def test_execute_never_swallows_keyboard_interrupt() -> None:
    @Process
    async def interrupted(ctx: ProcessContext) -> ProcessResult[None]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        await interrupted.execute(ProcessContext("i"))


async def test_unknown_channel_name_lists_the_existing_ones() -> None:
    ctx = ProcessContext("p", channels={"a": Chan(int, name="a"), "b": Chan(int, name="b")})
    with pytest.raises(KeyError, match=r"no channel 'c' \(its channels: 'a', 'b'\)"):
        await ctx.recv("c")
    with pytest.raises(KeyError, match="no channel 'c'"):
        ctx.get_channel("c")


def test_copies_leave_the_original_alone() -> None:
    ch = Chan(int, name="x")
    opt = plain.optional()
    bound = plain.with_channels(x=ch)
    renamed = plain.with_name("other")
    assert opt.is_optional and not plain.is_optional
    assert bound.channels == {"x": ch} and plain.channels == {}
    assert renamed.name == "other" and plain.name == "plain"
    assert repr(bound) == "plain.with_channels(x=Chan(int, name='x'))"
    assert repr(renamed.optional()) == "plain.with_name('other').optional()"


def test_bad_arguments_are_rejected_at_construction() -> None:
    def sync_fn(ctx: ProcessContext) -> None:
        return None

    with pytest.raises(TypeError, match="async function.*sync_fn"):
        Process(sync_fn)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="with_channels: 'x' must be a Chan"):
        plain.with_channels(x="nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="placement must be a Placement"):
        Process(plain.run, placement="gpu")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="channel 'y' must be a Chan"):
        ProcessContext("p", channels={"y": 3})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="non-empty str"):
        plain.with_name("")


async def test_subclass_without_run_says_so() -> None:
    result = await Process().execute(ProcessContext("empty"))
    assert result.is_fail and "has no body" in str(result.failure.error)


def test_ids_are_unique() -> None:
    ids = {ProcessContext("p").process_id for _ in range(100)}
    assert len(ids) == 100


async def test_decorated_process_is_callable_with_a_context() -> None:
    assert (await plain(ProcessContext("plain"))).value == "hello"


