"""Laws of ALT and PRI_ALT (SPEC §3.5, §9), on asyncio and trio.

Counterparts (senders for input guards, receivers for output guards) are parked
on their channels before the ALT starts (``wait_all_tasks_blocked``), so which
guards are ready is decided by the test, not by timing.
"""

from __future__ import annotations

import math
from typing import Any

import anyio
import pytest
from anyio.abc import TaskGroup
from hypothesis import given, settings
from hypothesis import strategies as st

from stbass import ALT, PRI_ALT, SKIP, TIMER, Chan, Guard
from stbass.testing import wait_all_tasks_blocked

pytestmark = pytest.mark.anyio

kinds_st = st.lists(st.sampled_from(("recv", "send")), min_size=1, max_size=5)


class Board:
    """The channels of one ALT and the counterparts parked on them."""

    def __init__(self, kinds: list[str]) -> None:
        self.kinds = kinds
        self.chans: list[Chan[int]] = [Chan(int, name=f"c{i}") for i in range(len(kinds))]
        self.received: dict[int, list[int]] = {i: [] for i in range(len(kinds))}

    def park(self, tg: TaskGroup, i: int) -> None:
        """Make guard *i* ready: a sender (input guard) or receiver (output guard) waits."""
        if self.kinds[i] == "recv":
            tg.start_soon(self.chans[i].send, 100 + i)
        else:

            async def receive() -> None:
                self.received[i].append(await self.chans[i].recv())

            tg.start_soon(receive)

    def guard(self, i: int, enabled: bool = True) -> Guard[Any]:
        if self.kinds[i] == "recv":
            return Guard(self.chans[i], precondition=enabled)
        return Guard.send(self.chans[i], 200 + i, precondition=enabled)

    def expected_value(self, i: int) -> int:
        return 100 + i if self.kinds[i] == "recv" else 200 + i


@given(data=st.data(), kinds=kinds_st, fair=st.booleans(), timer=st.booleans())
async def test_alt_with_exactly_one_ready_guard_is_deterministic(
    anyio_backend: Any, data: st.DataObject, kinds: list[str], fair: bool, timer: bool
) -> None:
    """ALT(g1 ? P1, ..., gn ? Pn) = gk ? Pk  when gk is the only ready guard

    Guards disabled by ``precondition=False`` are not ready even with a
    counterpart waiting, and the values waiting there stay for later receivers
    (SPEC §4.3). Equal: every run commits guard k with k's value, three runs out
    of three; the other counterparts are still waiting afterwards.
    """
    n = len(kinds)
    ready = data.draw(st.integers(0, n - 1), label="ready")
    disabled = data.draw(st.sets(st.sampled_from([i for i in range(n) if i != ready] or [ready])), label="disabled")
    disabled.discard(ready)
    board = Board(kinds)
    guards = [board.guard(i, enabled=i not in disabled) for i in range(n)]
    if timer:
        guards.append(Guard(TIMER(3600.0)))
    alt = ALT(*guards) if fair else PRI_ALT(*guards)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for j in disabled:
                board.park(tg, j)
            for _ in range(3):
                board.park(tg, ready)
                await wait_all_tasks_blocked()
                index, value = await alt.choose()
                assert index == ready
                assert value == board.expected_value(ready)
            await wait_all_tasks_blocked()
            if kinds[ready] == "send":
                assert board.received[ready] == [200 + ready] * 3
            # the disabled guards' counterparts are still there, untouched
            for j in sorted(disabled):
                if kinds[j] == "recv":
                    assert board.chans[j].recv_nowait() == 100 + j
                else:
                    assert board.received[j] == []
                    board.chans[j].send_nowait(-j)
            await wait_all_tasks_blocked()
            for j in disabled:
                if kinds[j] == "send":
                    assert board.received[j] == [-j]


@given(data=st.data(), kinds=kinds_st, skip=st.booleans())
async def test_pri_alt_takes_the_first_ready_guard(
    anyio_backend: Any, data: st.DataObject, kinds: list[str], skip: bool
) -> None:
    """PRI_ALT(g1 ? P1, ..., gn ? Pn) = gk ? Pk  with k = min{i | gi ready};
    SKIP (wherever it is placed) only when no other guard is ready

    Equal: the committed index and value are exactly those.
    """
    n = len(kinds)
    ready = data.draw(st.sets(st.integers(0, n - 1)), label="ready")
    board = Board(kinds)
    guards: list[Any] = [board.guard(i) for i in range(n)]
    skip_at = data.draw(st.integers(0, n), label="skip_at") if skip or not ready else None
    if skip_at is not None:
        guards.insert(skip_at, SKIP)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i in ready:
                board.park(tg, i)
            await wait_all_tasks_blocked()
            index, value = await PRI_ALT(*guards).choose()
            if ready:
                first = min(ready)
                expected_index = first + (1 if skip_at is not None and skip_at <= first else 0)
                assert index == expected_index
                assert value == board.expected_value(first)
            else:
                assert index == skip_at and value is None
            tg.cancel_scope.cancel()


def _chi2_sf(x: float, df: int) -> float:
    """P(X > x) for X chi-square distributed with *df* degrees of freedom
    (the closed forms for an integer *df*)."""
    h = x / 2
    if df % 2 == 0:
        term = total = 1.0
        for i in range(1, df // 2):
            term *= h / i
            total += term
        return math.exp(-h) * total
    total = math.erfc(math.sqrt(h))
    term = math.sqrt(h) / math.gamma(1.5)
    for i in range((df - 1) // 2):
        total += math.exp(-h) * term
        term *= h / (i + 1.5)
    return total


def _chi2_critical(df: int, alpha: float) -> float:
    """The x with P(X > x) = *alpha* (bisection; the survival function falls)."""
    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if _chi2_sf(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def test_chi2_critical_values_match_the_tables() -> None:
    """The fairness law's thresholds: published chi-square critical values."""
    tables = [
        (1, 0.05, 3.841),
        (2, 0.01, 9.210),
        (3, 0.0001, 21.108),
        (4, 0.001, 18.467),
        (5, 0.0001, 25.745),
    ]
    for df, p, table in tables:
        assert _chi2_critical(df, p) == pytest.approx(table, abs=1e-3)


def _fairness_alpha() -> float:
    # Each example is one chi-square test. Splitting a 0.1 % false-alarm budget
    # over the profile's examples keeps a whole run (10,000 examples under
    # `thorough`) from failing by chance, while a starved or biased guard still
    # gives a chi-square far beyond the threshold.
    current = settings.default
    return 1e-3 / (current.max_examples if current is not None else 100)


@given(kinds=st.lists(st.sampled_from(("recv", "send")), min_size=2, max_size=6))
async def test_alt_is_fair_among_ready_guards(anyio_backend: Any, kinds: list[str]) -> None:
    """ALT over k always-ready guards picks each with probability 1/k

    Checked with a chi-square goodness-of-fit test over 60·k ALTs (p = 0.001
    divided by the number of examples in the profile) and
    "no guard starved" (every guard chosen at least once). ALT's random source is
    registered with hypothesis, so a failing example replays exactly.
    """
    k = len(kinds)
    trials = 60 * k
    board = Board(kinds)
    counts = [0] * k
    alt = ALT(*(board.guard(i) for i in range(k)))
    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(k):
                board.park(tg, i)
            for _ in range(trials):
                await wait_all_tasks_blocked()
                index, value = await alt.choose()
                assert value == board.expected_value(index)
                counts[index] += 1
                board.park(tg, index)  # make it ready again
            tg.cancel_scope.cancel()
    assert all(c > 0 for c in counts), f"a guard was starved: {counts}"
    expected = trials / k
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    crit = _chi2_critical(k - 1, _fairness_alpha())
    assert chi2 < crit, f"ALT is not uniform: counts {counts}, chi2 {chi2:.1f}"
