"""The checkpoint rules and asyncio's own cancellation tools again, with the
operations asyncio falls back to when anyio's cancel state cannot be read
(``stbass._core._park._AsyncioOps``: one yield before a commit instead of a
synchronous check, then no schedule point after it). Every test of
tests/test_checkpoints.py and tests/test_asyncio_cancellation.py runs here on
asyncio with those operations installed; tests/test_park.py checks that the
faster checked operations are the ones in use with the anyio this project
installs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import test_asyncio_cancellation as _cancellation
import test_checkpoints as _checkpoints

from stbass._core import _park

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("anyio_backend", [pytest.param(("asyncio", {}), id="asyncio")]),
]


@pytest.fixture(autouse=True)
def _yield_first_operations() -> Iterator[None]:
    previous = _park.use_asyncio_ops(_park._AsyncioOps())
    try:
        yield
    finally:
        _park.use_asyncio_ops(previous)


for _module in (_checkpoints, _cancellation):
    for _name, _test in vars(_module).items():
        if _name.startswith("test_") and callable(_test):
            globals()[_name] = _test
