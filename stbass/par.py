"""Parallel composition: :class:`PAR` runs processes at the same time in one task
group and returns a :class:`PARResult`; a child cancelled by ``HALT`` or a
deadline fails with :class:`ProcessCancelledError`.

The 0.1 module, kept: ``from stbass.par import PAR`` works as it did.

>>> from stbass.par import PAR, PARResult
"""

from ._compose._seqpar import PAR as PAR
from ._compose._seqpar import PARResult as PARResult
from ._compose._seqpar import ProcessCancelledError as ProcessCancelledError

__all__ = ("PAR", "PARResult", "ProcessCancelledError")
