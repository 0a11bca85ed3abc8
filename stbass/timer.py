"""Timer guards: :class:`TIMER`, :class:`DEADLINE` and :class:`TimerExpired`.

>>> from stbass.timer import TIMER, DEADLINE, TimerExpired
"""

from ._core._timer import DEADLINE as DEADLINE
from ._core._timer import TIMER as TIMER
from ._core._timer import TimerExpired as TimerExpired

__all__ = ("DEADLINE", "TIMER", "TimerExpired")
