"""ALT and PRI_ALT: exactly-once commit, fairness, priority, timers, output guards."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import anyio
import pytest

from testing_backends import TIMER_BACKENDS
from stbass import (
    ALT,
    DEADLINE,
    PRI_ALT,
    SKIP,
    TIMER,
    AllGuardsDisabledError,
    Chan,
    ChannelClosedError,
    ChannelTypeError,
    Guard,
    TimerExpired,
)
from stbass._core._alt_random import ALT_RANDOM

pytestmark = pytest.mark.anyio

EPS = 1e-6  # clock arithmetic in floating point


async def until_parked(*chans: Chan[int]) -> None:
    """Let the scheduler run until a sender is parked on each of *chans*."""
    with anyio.fail_after(10):
        while not all(c.statistics().waiting_senders for c in chans):
            await anyio.lowlevel.checkpoint()


async def test_alt_consumes_exactly_one_value_and_leaves_the_others() -> None:
    chans = [Chan(int, name=f"c{i}") for i in range(3)]
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i, ch in enumerate(chans):
                tg.start_soon(ch.send, i)
            await anyio.wait_all_tasks_blocked()
            index, value = await ALT(*chans).choose()
            assert value == index
            left = [c.statistics().waiting_senders for c in chans]
            assert left == [0 if i == index else 1 for i in range(3)]
            rest = sorted([await c.recv() for i, c in enumerate(chans) if i != index])
            assert rest == sorted(set(range(3)) - {index})


async def test_alt_returns_the_handler_result() -> None:
    a = Chan(int, name="a")
    async with anyio.create_task_group() as tg:
        tg.start_soon(a.send, 20)
        got = await ALT(Guard(a, handler=lambda v: v + 1))
    assert got == 21


async def test_pri_alt_takes_the_first_ready_guard_in_declaration_order() -> None:
    chans = [Chan(int, name=f"p{i}") for i in range(4)]
    async with anyio.create_task_group() as tg:
        for i in (3, 1, 2):
            tg.start_soon(chans[i].send, i)
        await anyio.wait_all_tasks_blocked()
        order = [await PRI_ALT(*chans) for _ in range(3)]
    assert order == [1, 2, 3]


async def test_alt_is_fair_among_ready_guards() -> None:
    """Chi-square over 3,000 ALTs with three always-ready guards."""
    ALT_RANDOM.seed(12345)
    chans = [Chan(int, name=f"f{i}") for i in range(3)]
    counts = [0, 0, 0]

    async def always_send(i: int) -> None:
        while True:
            await chans[i].send(i)

    alt = ALT(*chans)
    async with anyio.create_task_group() as tg:
        for i in range(3):
            tg.start_soon(always_send, i)
        for _ in range(3000):
            await until_parked(*chans)
            counts[await alt] += 1
        tg.cancel_scope.cancel()
    expected = 1000
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 13.82, f"counts {counts} reject uniformity (chi2={chi2:.2f}, p<0.001)"


async def test_skip_is_chosen_only_when_nothing_else_is_ready() -> None:
    ch = Chan(int, name="s")
    assert await ALT(Guard(ch), Guard(SKIP, handler=lambda _: "skipped")) == "skipped"
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 1)
        await anyio.wait_all_tasks_blocked()
        for _ in range(20):  # random choice must never pick SKIP while ch is ready
            got = await ALT(SKIP, ch)
            assert got == 1
            tg.start_soon(ch.send, 1)
            await until_parked(ch)
        tg.cancel_scope.cancel()


async def test_waiting_alt_is_parked_not_spinning() -> None:
    ch = Chan(int, name="idle")
    got: list[int] = []

    async def waiter() -> None:
        got.append(await ALT(ch, Chan(int, name="other")))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            # A polling ALT would never let every task block: this would time out.
            await anyio.wait_all_tasks_blocked()
            assert ch.statistics().waiting_receivers == 1
            await ch.send(5)
    assert got == [5]


async def test_cancelled_alt_withdraws_all_offers() -> None:
    a, b = Chan(int, name="a"), Chan(int, name="b")
    with anyio.move_on_after(0):
        await ALT(a, Guard.send(b, 1))
    assert a.statistics().waiting_receivers == 0
    assert b.statistics().waiting_senders == 0


async def test_output_guard_matches_a_plain_receiver() -> None:
    out = Chan(str, name="out")
    got: list[str] = []

    async def receiver() -> None:
        got.append(await out.recv())

    async with anyio.create_task_group() as tg:
        tg.start_soon(receiver)
        await anyio.wait_all_tasks_blocked()
        result = await ALT(Guard.send(out, "x", handler=lambda v: f"sent {v}"), Chan(int, name="n"))
    assert result == "sent x" and got == ["x"]


async def test_parked_output_guard_is_taken_by_a_later_receiver() -> None:
    out = Chan(str, name="out")
    results: list[object] = []

    async def offer() -> None:
        results.append(await ALT(Guard.send(out, "late"), Chan(int, name="never")))

    async with anyio.create_task_group() as tg:
        tg.start_soon(offer)
        await anyio.wait_all_tasks_blocked()
        assert await out.recv() == "late"
    assert results == ["late"]


@pytest.mark.parametrize("sender_first", [True, False])
async def test_two_alts_on_opposite_ends_of_a_channel_match(sender_first: bool) -> None:
    ch = Chan(int, name="both")
    results: dict[str, object] = {}

    async def send_side() -> None:
        results["send"] = await ALT(
            Guard.send(ch, 9, handler=lambda v: ("sent", v)), Chan(int, name="x")
        )

    async def recv_side() -> None:
        results["recv"] = await ALT(Guard(ch, handler=lambda v: ("got", v)), Chan(int, name="y"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(send_side if sender_first else recv_side)
            await anyio.wait_all_tasks_blocked()
            tg.start_soon(recv_side if sender_first else send_side)
    assert results == {"send": ("sent", 9), "recv": ("got", 9)}


async def test_output_guard_value_is_type_checked_before_any_rendezvous() -> None:
    ch = Chan(int, name="typed-out")
    with pytest.raises(ChannelTypeError, match="'typed-out'"):
        await ALT(Guard.send(ch, "not an int"))
    assert ch.statistics().waiting_senders == 0


async def test_closed_channel_guard_raises_channel_closed() -> None:
    a, b = Chan(int, name="open"), Chan(int, name="shut")
    b.close()
    with pytest.raises(ChannelClosedError) as info:
        await ALT(a, b)
    assert info.value.channel == "shut"


async def test_closing_a_channel_wakes_a_waiting_alt() -> None:
    a = Chan(int, name="a")
    errors: list[str | None] = []

    async def waiter() -> None:
        try:
            await ALT(a, Chan(int, name="b"))
        except ChannelClosedError as exc:
            errors.append(exc.channel)

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        a.close()
    assert errors == ["a"]


async def test_all_guards_disabled_raises() -> None:
    ch = Chan(int, name="c")
    with pytest.raises(AllGuardsDisabledError, match="2 guards"):
        await ALT(Guard(ch, precondition=False), Guard(SKIP, precondition=lambda: False))


async def test_callable_precondition_is_checked_again_before_commit() -> None:
    ch = Chan(int, name="c")
    allowed = [True]
    calls = [0]

    def open_gate() -> bool:
        calls[0] += 1
        return allowed[0]

    results: list[object] = []

    async def waiter() -> None:
        results.append(await ALT(Guard(ch, precondition=open_gate), TIMER(3600)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await anyio.wait_all_tasks_blocked()
        assert calls[0] == 1  # evaluated when the ALT started
        allowed[0] = False
        tg.start_soon(ch.send, 1)
        await anyio.wait_all_tasks_blocked()
        assert results == []  # the disabled guard was not committed
        assert ch.statistics().waiting_senders == 1
        tg.cancel_scope.cancel()


async def test_a_value_that_arrives_is_not_lost_when_the_alt_is_reused() -> None:
    ch = Chan(int, name="reuse")
    alt = ALT(ch)
    async with anyio.create_task_group() as tg:
        tg.start_soon(ch.send, 1)
        assert await alt == 1
        tg.start_soon(ch.send, 2)
        assert await alt == 2


def test_guard_rejects_bad_input() -> None:
    ch = Chan(int, name="c")

    async def async_handler(v: int) -> int:
        return v

    with pytest.raises(TypeError, match="coroutine function"):
        Guard(ch, handler=async_handler)
    with pytest.raises(TypeError, match="Chan, TIMER, DEADLINE or SKIP"):
        Guard(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="precondition"):
        Guard(ch, precondition="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="handler must be callable"):
        Guard(ch, handler=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="guard 1"):
        ALT(ch, "nope")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="at least one guard"):
        ALT()
    with pytest.raises(TypeError, match="expected a Chan"):
        Guard.send("c", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TIMER("5")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TIMER(-1)
    with pytest.raises(TypeError):
        DEADLINE(5)  # type: ignore[arg-type]


def test_reprs_are_readable_python() -> None:
    ch = Chan(int, name="c")
    assert repr(ALT(ch, TIMER(1.5, name="t"), SKIP)) == (
        "ALT(Guard(Chan(int, name='c')), Guard(TIMER(1.5, name='t')), Guard(SKIP))"
    )
    assert repr(PRI_ALT(Guard.send(ch, 3))) == "PRI_ALT(Guard.send(Chan(int, name='c'), 3))"


class TestTimers:
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    async def test_timer_fires_when_nothing_else_is_ready(self, anyio_backend: object) -> None:
        ch = Chan(int, name="slow")
        start = anyio.current_time()
        got = await ALT(ch, TIMER(0.5, name="timeout"))
        elapsed = anyio.current_time() - start
        assert isinstance(got, TimerExpired)
        assert got.timer_name == "timeout"
        assert got.elapsed.total_seconds() >= 0.5 - EPS and elapsed >= 0.5 - EPS
        assert got.deadline == pytest.approx(got.started_at + 0.5)
        assert ch.statistics().waiting_receivers == 0  # offer withdrawn
        if "clock" in str(anyio_backend):
            assert elapsed == pytest.approx(0.5)  # virtual time: exact

    async def test_earliest_timer_wins(self, anyio_backend: object) -> None:
        got = await PRI_ALT(
            Guard(TIMER(0.3, name="late")), Guard(TIMER(0.1, name="early")), Chan(int, name="x")
        )
        assert isinstance(got, TimerExpired) and got.timer_name == "early"

    async def test_channel_beats_a_timer_when_the_sender_comes_first(
        self, anyio_backend: object
    ) -> None:
        ch = Chan(int, name="fast")
        async with anyio.create_task_group() as tg:

            async def send_soon() -> None:
                await anyio.sleep(0.05)
                await ch.send(1)

            tg.start_soon(send_soon)
            assert await ALT(ch, TIMER(10)) == 1

    async def test_deadline_guard_fires_at_its_time(self, anyio_backend: object) -> None:
        when = datetime.now(timezone.utc) + timedelta(seconds=0.2)
        got = await ALT(Chan(int, name="x"), DEADLINE(when, name="cutoff"))
        assert isinstance(got, TimerExpired) and got.timer_name == "cutoff"

    async def test_past_deadline_is_ready_at_once(self, anyio_backend: object) -> None:
        when = datetime.now(timezone.utc) - timedelta(seconds=1)
        got = await ALT(Chan(int, name="x"), DEADLINE(when))
        assert isinstance(got, TimerExpired)

    async def test_timer_wait(self, anyio_backend: object) -> None:
        got = await TIMER(0.2, name="nap").wait()
        assert got.timer_name == "nap" and got.elapsed.total_seconds() >= 0.2 - EPS
