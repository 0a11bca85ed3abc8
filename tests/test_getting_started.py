"""The first page of the docs: its example runs verbatim on both backends."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "getting_started.py"


@pytest.mark.anyio
async def test_getting_started_example_succeeds(capsys: pytest.CaptureFixture[str]) -> None:
    namespace = runpy.run_path(str(EXAMPLE), run_name="getting_started")
    await namespace["main"]()
    out = capsys.readouterr().out
    assert "Pipeline succeeded!" in out
    assert "processed: {'query': 'hello world'}" in out


def test_getting_started_runs_verbatim_under_asyncio_run() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.splitlines()[0] == "Pipeline succeeded!"


def test_getting_started_runs_under_trio_run_with_only_the_last_line_changed(
    tmp_path: Path,
) -> None:
    source = EXAMPLE.read_text()
    assert source.rstrip().endswith("asyncio.run(main())")
    trio_source = source.rstrip()[: -len("asyncio.run(main())")] + "import trio; trio.run(main)\n"
    script = tmp_path / "getting_started_trio.py"
    script.write_text(trio_source)
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.splitlines()[0] == "Pipeline succeeded!"
