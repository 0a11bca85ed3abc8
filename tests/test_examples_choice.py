"""The choice examples (hedged_search.py, quorum_vote.py) run on both backends."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from testing_backends import TIMER_BACKENDS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name), run_name=name.removesuffix(".py"))


class TestOnTimers:
    # Their waits are all timers: on trio's virtual clock the stuck replicas cost nothing.
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    @pytest.mark.anyio
    async def test_hedged_search_asks_the_next_replica_only_when_needed(self) -> None:
        main = _load("hedged_search.py")["main"]
        with anyio.fail_after(30):
            answers = await main(after=0.5)  # (a margin a loaded machine keeps)
        assert [(a.query, a.replica, a.started) for a in answers] == [
            ("anyio", "replica-a", 1),  # the first answered in time: nobody else was asked
            ("occam", "replica-b", 2),  # the first stalled: the hedge asked the second
            ("trio", "replica-b", 2),  # the first was down: the second was asked at once
        ]
        assert answers[1].hits[0] == "occam: result 1 (from replica-b)"

    @pytest.mark.anyio
    async def test_hedged_search_moves_on_at_once_when_a_replica_is_down(self) -> None:
        ns = _load("hedged_search.py")
        # ``after`` far beyond the guard: only the immediate move past a failure passes
        with anyio.fail_after(30):
            result = await ns["hedged_search"](3600.0).run("trio")
        assert result.winner == 1 and result.started == 2

    @pytest.mark.anyio
    async def test_quorum_vote_reads_the_newest_value_from_a_majority(self) -> None:
        main = _load("quorum_vote.py")["main"]
        with anyio.fail_after(30):
            healthy, degraded = await main()
        assert healthy.ok and healthy.value is not None and healthy.value.version == 2
        assert healthy.answered == ["r2", "r1", "r4"]  # completion order
        assert healthy.cancelled == ["r3", "r5"]  # the stuck one and the slowest
        assert not degraded.ok and degraded.error == "3 replicas down (r2, r4, r5)"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("script", ["hedged_search.py", "quorum_vote.py"])
def test_choice_examples_run_from_the_command_line(script: str, backend: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--backend", backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    expected = "after asking 2 replica(s)" if script == "hedged_search.py" else "no quorum"
    assert expected in proc.stdout
