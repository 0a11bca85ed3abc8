"""Alternation: :class:`ALT`, :class:`PRI_ALT`, :class:`Guard` and :data:`SKIP`.

>>> from stbass.alt import ALT, PRI_ALT, Guard, SKIP
"""

from ._core._alt import ALT as ALT
from ._core._alt import PRI_ALT as PRI_ALT
from ._core._alt import SKIP as SKIP
from ._core._alt import AllGuardsDisabledError as AllGuardsDisabledError
from ._core._alt import Guard as Guard

__all__ = ("ALT", "PRI_ALT", "SKIP", "AllGuardsDisabledError", "Guard")
