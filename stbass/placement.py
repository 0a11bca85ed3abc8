"""Placement: :class:`Placement`, :class:`PLACED_PAR` and the execution backends.

>>> from stbass.placement import Placement, PLACED_PAR, BackendRegistry, LocalBackend
"""

from ._compose._placement import PLACED_PAR as PLACED_PAR
from ._compose._placement import BackendRegistry as BackendRegistry
from ._compose._placement import BackendUnavailableError as BackendUnavailableError
from ._compose._placement import ExecutionBackend as ExecutionBackend
from ._compose._placement import LocalBackend as LocalBackend
from ._compose._placement_value import Placement as Placement

__all__ = (
    "PLACED_PAR",
    "BackendRegistry",
    "BackendUnavailableError",
    "ExecutionBackend",
    "LocalBackend",
    "Placement",
)
