"""The README's code sample runs as written and prints what its comment says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = "['sent successfully', \"processed: {'query': 'hello world'}\"]"


def readme_sample() -> str:
    """The first ``python`` code block of README.md."""
    text = (ROOT / "README.md").read_text()
    found = re.search(r"```python\n(.*?)```", text, re.DOTALL)
    assert found is not None, "README.md has no python code block"
    return found.group(1)


def test_readme_sample_runs_main(tmp_path: Path) -> None:
    sample = readme_sample()
    script = tmp_path / "readme_sample.py"
    script.write_text(sample)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_readme_sample_runs_on_either_backend(tmp_path: Path, backend: str) -> None:
    # The line the sample's comment offers for trio.
    sample = readme_sample().replace("anyio.run(main)", f"anyio.run(main, backend={backend!r})")
    assert f"backend={backend!r}" in sample
    script = tmp_path / "readme_sample.py"
    script.write_text(sample)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EXPECTED
