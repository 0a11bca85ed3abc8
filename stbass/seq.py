"""Sequential composition: :class:`SEQ` runs processes one after another, passing
each stage's value to the next, and returns a :class:`SEQResult`.

The 0.1 module, kept: ``from stbass.seq import SEQ`` works as it did.

>>> from stbass.seq import SEQ, SEQResult
"""

from ._compose._seqpar import SEQ as SEQ
from ._compose._seqpar import SEQResult as SEQResult

__all__ = ("SEQ", "SEQResult")
