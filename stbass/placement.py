"""Placement: :class:`Placement`, :class:`PLACED_PAR` and the execution backends.

>>> from stbass.placement import Placement, PLACED_PAR, BackendRegistry, LocalBackend
"""

from ._placement import PLACED_PAR as PLACED_PAR
from ._placement import BackendRegistry as BackendRegistry
from ._placement import BackendUnavailableError as BackendUnavailableError
from ._placement import ExecutionBackend as ExecutionBackend
from ._placement import LocalBackend as LocalBackend
from ._placement import Placement as Placement

__all__ = (
    "PLACED_PAR",
    "BackendRegistry",
    "BackendUnavailableError",
    "ExecutionBackend",
    "LocalBackend",
    "Placement",
)
