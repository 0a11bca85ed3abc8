"""Choice compositions: ``IF``, ``WHILE``, ``RACE``, ``HEDGE``, ``QUORUM``.

>>> from stbass.choice import RACE, QUORUM
"""

from ._compose._choice import HEDGE as HEDGE
from ._compose._choice import IF as IF
from ._compose._choice import QUORUM as QUORUM
from ._compose._choice import RACE as RACE
from ._compose._choice import WHILE as WHILE
from ._compose._choice import ChoiceResult as ChoiceResult
from ._compose._choice import IFResult as IFResult
from ._compose._choice import MaxIterationsError as MaxIterationsError
from ._compose._choice import NoBranchError as NoBranchError
from ._compose._choice import QUORUMResult as QUORUMResult
from ._compose._choice import RACEResult as RACEResult
from ._compose._choice import WHILEResult as WHILEResult

__all__ = (
    "ChoiceResult",
    "HEDGE",
    "IF",
    "IFResult",
    "MaxIterationsError",
    "NoBranchError",
    "QUORUM",
    "QUORUMResult",
    "RACE",
    "RACEResult",
    "WHILE",
    "WHILEResult",
)
