"""The fan-out examples (research_fanout.py, worker_pool.py) run on both backends."""

from __future__ import annotations

import runpy
import subprocess
import sys
from collections import Counter
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
    # the deadline cost nothing.
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    @pytest.mark.anyio
    async def test_synthesizes_what_came_back_within_the_deadline(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        main = _load("research_fanout.py")["main"]
        with anyio.fail_after(30):
            synthesis = await main(deadline=1.0, max_parallel=3)
        assert [f.researcher for f in synthesis.findings] == ["ada", "bo", "dee", "eli", "gus", "hal"]
        assert synthesis.timed_out == ["cy"]
        assert list(synthesis.failed) == ["fay"]
        assert "RateLimitedError" in synthesis.failed["fay"]
        assert synthesis.peak_parallel == 3
        out = capsys.readouterr().out
        assert "Synthesis:" in out and "Missed the deadline: cy" in out

    @pytest.mark.anyio
    async def test_max_parallel_one_still_respects_the_deadline(self) -> None:
        main = _load("research_fanout.py")["main"]
        with anyio.fail_after(30):
            synthesis = await main(deadline=1.0, max_parallel=1)
        assert synthesis.peak_parallel == 1
        # one at a time: the stuck researcher holds the only slot until the deadline,
        # so everyone queued behind it (index 3 onwards) misses it too
        assert [f.researcher for f in synthesis.findings] == ["ada", "bo"]
        assert synthesis.timed_out == ["cy", "dee", "eli", "fay", "gus", "hal"]


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
    expected = "Missed the deadline: cy" if script == "research_fanout.py" else "40 jobs done"
    assert expected in proc.stdout
