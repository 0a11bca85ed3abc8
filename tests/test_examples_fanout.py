"""The fan-out examples (research_fanout.py, worker_pool.py) run on both backends."""

from __future__ import annotations

import runpy
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest

from testing_backends import TIMER_BACKENDS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str) -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name), run_name=name.removesuffix(".py"))


class TestResearchFanout:
    # Its waits are all timers: on trio's virtual clock the 60 s researcher and
    # the deadline cost nothing. On a real clock the researchers are slowed down
    # so that a loaded machine (or asyncio's debug mode, slow to start tasks)
    # cannot reorder them or push them past the deadline.
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    @staticmethod
    def _slower(ns: dict[str, Any], factor: float) -> Any:
        return tuple(replace(r, delay=r.delay * factor) for r in ns["RESEARCHERS"])

    @staticmethod
    def _three_quick(ns: dict[str, Any]) -> Any:
        """ada, dee and eli answer at 0.05, 0.15 and 0.25 s; the rest take 30 s."""
        quick = {"ada": 0.05, "dee": 0.15, "eli": 0.25, "fay": 0.1}
        return tuple(replace(r, delay=quick.get(r.name, 30.0)) for r in ns["RESEARCHERS"])

    @pytest.mark.anyio
    async def test_synthesizes_as_soon_as_enough_findings_are_in(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        ns = _load("research_fanout.py")
        with anyio.fail_after(30):
            synthesis = await ns["main"](deadline=60.0, enough=5, researchers=self._slower(ns, 3))
        assert synthesis.complete
        # completion order, not declaration order
        assert [f.researcher for f in synthesis.findings] == ["ada", "dee", "eli", "bo", "hal"]
        # the quorum was reached: the slowest and the stuck one were cancelled, unneeded
        assert synthesis.not_needed == ["cy", "gus"] and synthesis.timed_out == []
        assert list(synthesis.failed) == ["fay"]
        assert "RateLimitedError" in synthesis.failed["fay"]
        out = capsys.readouterr().out
        assert "Got 5 of the 5 findings wanted" in out
        assert "Not needed (enough answers were in): cy, gus" in out

    @pytest.mark.anyio
    async def test_at_the_deadline_it_keeps_what_arrived(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        ns = _load("research_fanout.py")
        with anyio.fail_after(30):
            synthesis = await ns["main"](deadline=1.0, enough=5, researchers=self._three_quick(ns))
        assert not synthesis.complete
        assert [f.researcher for f in synthesis.findings] == ["ada", "dee", "eli"]
        assert synthesis.timed_out == ["bo", "cy", "gus", "hal"]
        assert synthesis.not_needed == [] and list(synthesis.failed) == ["fay"]
        assert "a partial answer: the deadline came first" in capsys.readouterr().out

    @pytest.mark.anyio
    async def test_the_quorum_result_keeps_the_findings_of_a_failed_quorum(self) -> None:
        ns = _load("research_fanout.py")
        team = ns["research_team"](self._three_quick(ns), 5, 1.0)
        with anyio.fail_after(30):
            result = await team.run(ns["QUESTION"])
        assert result.is_fail and result.value is None  # no quorum
        assert [f.researcher for f in result.winner_values] == ["ada", "dee", "eli"]
        assert result.winners == [0, 3, 4]


@pytest.mark.anyio
@pytest.mark.parametrize("strategy", ["ready_first", "round_robin"])
async def test_worker_pool_does_every_job_exactly_once(
    strategy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    main = _load("worker_pool.py")["main"]
    with anyio.fail_after(30):
        done = await main(jobs=40, workers=4, strategy=strategy)
    assert sorted(d.job for d in done) == list(range(40))
    per_worker = Counter(d.worker for d in done)
    assert sum(per_worker.values()) == 40
    if strategy == "round_robin":
        assert per_worker == {0: 10, 1: 10, 2: 10, 3: 10}
        assert all(d.job % 4 == d.worker for d in done)
    assert "40 jobs done by 4 workers" in capsys.readouterr().out


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("script", ["research_fanout.py", "worker_pool.py"])
def test_examples_run_from_the_command_line(script: str, backend: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--backend", backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    expected = "Not needed (enough answers were in): cy, gus" if script == "research_fanout.py" else "40 jobs done"
    assert expected in proc.stdout
