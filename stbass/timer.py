"""Timer guards: :class:`TIMER`, :class:`DEADLINE` and :class:`TimerExpired`.

>>> from stbass.timer import TIMER, DEADLINE, TimerExpired
"""

from ._timer import DEADLINE as DEADLINE
from ._timer import TIMER as TIMER
from ._timer import TimerExpired as TimerExpired

__all__ = ("DEADLINE", "TIMER", "TimerExpired")
