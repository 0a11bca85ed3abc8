"""The deadline law of PAR (SPEC §9): a PAR with deadline d ends by d plus a small
bound. Virtual time on trio's ``MockClock`` (exact), real time on asyncio and trio
(a generous bound, since the machine may be loaded)."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from stbass import PAR, SEQ
from stbass.testing import CANCELLED_BY_DEADLINE, Leaf, Outcome

pytestmark = pytest.mark.anyio

BACKENDS_WITH_MOCK_CLOCK = [
    pytest.param(("asyncio", {"debug": True}), id="asyncio"),
    pytest.param(("trio", {}), id="trio"),
    pytest.param(
        ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}), id="trio-mockclock"
    ),
]

#: (deadline, tolerance, child stage delays) for virtual and real clocks
VIRTUAL = (1.0, 1e-9, (0.0, 0.25, 0.5, 3.0, 60.0))
REAL = (0.05, 2.0, (0.0, 0.001, 0.002, 0.5, 4.0))


def _virtual(anyio_backend: Any) -> bool:
    return isinstance(anyio_backend, tuple) and "clock" in anyio_backend[1]


@pytest.mark.parametrize("anyio_backend", BACKENDS_WITH_MOCK_CLOCK)
@given(
    stages=st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=3), max_size=5),
    collect=st.booleans(),
)
async def test_par_with_deadline_ends_by_the_deadline(
    anyio_backend: Any, stages: list[list[int]], collect: bool
) -> None:
    """PAR[d](P1, ..., Pn) ends by start + d + ε

    Each child is a SEQ of waiting leaves. Equal (virtual time, exact): the PAR
    ends at min(d, longest child); a child whose total wait is below d succeeds
    with its value, every other child fails as cancelled by the deadline.
    Real time: every child longer than the PAR's end time is cancelled by the
    deadline (no upper bound on the end time: that would be a timing assertion).
    """
    virtual = _virtual(anyio_backend)
    deadline, tolerance, delays = VIRTUAL if virtual else REAL
    children = [
        SEQ(*(Leaf(i, delay=delays[k]).build() for k in ks)) for i, ks in enumerate(stages)
    ]
    totals = [sum(delays[k] for k in ks) for ks in stages]
    from stbass import FailurePolicy

    par = PAR(
        *children,
        deadline=deadline,
        on_failure=FailurePolicy.COLLECT if collect else FailurePolicy.HALT,
    )
    with anyio.fail_after(30):
        start = anyio.current_time()
        result = await par.run()
        elapsed = anyio.current_time() - start
    if virtual:
        # An upper bound in real time would be a timing assertion (a loaded
        # machine can stall a process for seconds); virtual time is exact.
        assert elapsed <= deadline + tolerance, f"PAR with deadline {deadline} took {elapsed}"
    outcomes = [Outcome.of(r) for r in result.results]
    for i, (total, o) in enumerate(zip(totals, outcomes)):
        if virtual:
            want = Outcome.ok(i) if total < deadline else Outcome.failed(CANCELLED_BY_DEADLINE)
            assert o == want, f"child {i} waiting {total}s gave {o!r}"
            assert elapsed == pytest.approx(min(deadline, max(totals, default=0.0)))
        elif total > elapsed:
            assert o == Outcome.failed(CANCELLED_BY_DEADLINE), f"child {i} gave {o!r}"
        else:
            assert o in (Outcome.ok(i), Outcome.failed(CANCELLED_BY_DEADLINE))
