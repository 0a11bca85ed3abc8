"""Every ``python`` code block in docs/laws.md and docs/testing.md runs as
written: each block is executed on its own, then every ``test_*`` function it
defines is called (they are plain functions that run both backends themselves)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(page: str) -> list[tuple[str, str]]:
    text = (DOCS / page).read_text()
    return [(f"{page}[{i}]", code) for i, code in enumerate(BLOCK.findall(text))]


CASES = blocks("laws.md") + blocks("testing.md")


def test_the_pages_have_code() -> None:
    assert len(blocks("laws.md")) >= 3
    assert len(blocks("testing.md")) >= 3


@pytest.mark.parametrize(("where", "code"), CASES, ids=[w for w, _ in CASES])
def test_code_block_runs_as_written(where: str, code: str) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{where}"}
    exec(compile(code, where, "exec"), namespace)
    for name, obj in list(namespace.items()):
        if name.startswith("test_") and callable(obj):
            obj()
