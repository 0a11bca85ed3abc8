"""Replicators: :class:`PAR_FOR` and :class:`SEQ_FOR` (occam's ``PAR i = 0 FOR n``).

>>> from stbass.replicator import PAR_FOR, SEQ_FOR
"""

from ._compose._replicator import PAR_FOR as PAR_FOR
from ._compose._replicator import SEQ_FOR as SEQ_FOR

__all__ = ("PAR_FOR", "SEQ_FOR")
