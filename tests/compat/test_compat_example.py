"""examples/from_0_1.py, a program written in 0.1 idioms, runs unchanged: as a
script (``asyncio.run(main())`` and ``--backend trio``) and in-process on both
backends."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "from_0_1.py"

EXPECTED = [
    "values: ['ALPHA', 'BETA', None, 'DELTA', None]",
    "loaded: 5",
    "4 of 10 failed",
    "types: {'TimeoutError': 4}",
    "repeat timeouts: ['body[2]', 'body[4]']",
    "worst processes: ['body[2]', 'body[4]']",
]


def _check(out: str) -> None:
    lines = out.splitlines()
    for line in EXPECTED:
        assert line in lines, f"missing {line!r} in:\n{out}"
    advice = [line for line in lines if line.startswith("advice:")]
    assert len(advice) == 2 and all("timeout" in a for a in advice)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_01_example_runs_as_a_script(backend: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--backend", backend],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    _check(done.stdout)


@pytest.mark.anyio
async def test_the_01_example_runs_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(EXAMPLE), run_name="from_0_1")
    with anyio.fail_after(10):
        await namespace["main"]()
    _check(capsys.readouterr().out)
