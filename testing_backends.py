"""The backend parameters every test runs with (imported by the root conftest and
by tests that need virtual time). A module of its own, not ``conftest``: several
``conftest.py`` files share that module name."""

from __future__ import annotations

from typing import Any

import pytest
import trio.testing

BACKENDS = [
    pytest.param(("asyncio", {"debug": True}), id="asyncio"),
    pytest.param(("trio", {}), id="trio"),
]


def _mock_clock_trio() -> Any:
    return pytest.param(
        ("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}), id="trio-mockclock"
    )


# For tests whose waiting is all timers: asyncio in real time, trio in virtual time
# (a 5 s timeout then runs in microseconds). Use with
# ``pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)``.
TIMER_BACKENDS = [BACKENDS[0], BACKENDS[1], _mock_clock_trio()]
