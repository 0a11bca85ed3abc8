"""Timers: ``TIMER`` (relative) and ``DEADLINE`` (absolute) guards, and the
``TimerExpired`` value a timer guard fires with.

Timers run on anyio's clock, so trio's ``MockClock`` makes them instant in tests.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Any, final

import anyio

from ._hook import CURRENT


class TimerExpired(Exception):
    """What a timer guard fires with (and what :meth:`TIMER.wait` returns).

    Attributes: ``started_at`` and ``deadline`` (on anyio's clock, in seconds),
    ``elapsed`` (a :class:`datetime.timedelta`, as in 0.1; ``elapsed_s`` is the
    same in seconds), ``timer_name`` and ``last_checkpoint`` of the running process.
    *elapsed* may be given as a ``timedelta`` or as seconds.

    >>> e = TimerExpired(started_at=10.0, deadline=12.5, elapsed=2.5, timer_name="llm")
    >>> e
    TimerExpired(timer_name='llm', elapsed=datetime.timedelta(seconds=2, microseconds=500000), deadline=12.5)
    >>> str(e)
    "timer 'llm' expired after 2.500s"
    >>> e.elapsed_s
    2.5

    An ALT whose timer guard fires returns it (or passes it to the guard's handler)::

        result = await ALT(Guard(replies), Guard(TIMER(2.0)))
        if isinstance(result, TimerExpired):
            ...  # no reply within 2 s
    """

    def __init__(
        self,
        *,
        started_at: float,
        deadline: float,
        elapsed: timedelta | float,
        timer_name: str | None = None,
        last_checkpoint: Any = None,
    ) -> None:
        if not isinstance(elapsed, timedelta):
            elapsed = timedelta(seconds=elapsed)
        label = f"timer {timer_name!r}" if timer_name else "timer"
        super().__init__(f"{label} expired after {elapsed.total_seconds():.3f}s")
        self.started_at = started_at
        self.deadline = deadline
        self.elapsed: timedelta = elapsed
        self.timer_name = timer_name
        self.last_checkpoint = last_checkpoint

    @property
    def elapsed_s(self) -> float:
        """``elapsed`` in seconds (what span attributes record).

        >>> TimerExpired(started_at=0.0, deadline=1.0, elapsed=1.25).elapsed_s
        1.25
        """
        return self.elapsed.total_seconds()

    def __repr__(self) -> str:
        return (
            f"TimerExpired(timer_name={self.timer_name!r}, elapsed={self.elapsed!r}, "
            f"deadline={self.deadline!r})"
        )


class _TimerBase:
    __slots__ = ("name", "_armed_at")

    name: str | None
    _armed_at: float

    def _arm(self) -> None:
        self._armed_at = time.monotonic()

    @property
    def elapsed(self) -> timedelta:
        """Time since the timer was created or last armed (the last time an ALT
        or :meth:`wait` started on it), as a :class:`datetime.timedelta`.

        >>> TIMER(5.0).elapsed < timedelta(seconds=5)
        True
        """
        return timedelta(seconds=time.monotonic() - self._armed_at)

    def deadline_from(self, now: float) -> float:
        """The instant on anyio's clock when the timer fires, for a wait that
        starts at *now* (an ``anyio.current_time()`` reading).

        >>> TIMER(2.5).deadline_from(100.0)
        102.5
        """
        raise NotImplementedError

    def expired(self, started_at: float, deadline: float) -> TimerExpired:
        """The :class:`TimerExpired` for a wait that started at *started_at* and
        was due at *deadline*, measured now; call it inside a running event loop.

        >>> import anyio
        >>> async def fire() -> TimerExpired:
        ...     timer = TIMER(0.0, name="t")
        ...     start = anyio.current_time()
        ...     return timer.expired(start, timer.deadline_from(start))
        >>> anyio.run(fire).timer_name
        't'
        """
        now = anyio.current_time()
        ctx = CURRENT.get()
        return TimerExpired(
            started_at=started_at,
            deadline=deadline,
            elapsed=timedelta(seconds=now - started_at),
            timer_name=self.name,
            last_checkpoint=ctx.last_checkpoint if ctx is not None else None,
        )

    async def wait(self) -> TimerExpired:
        """Sleep until the timer expires and return the :class:`TimerExpired`."""
        start = anyio.current_time()
        deadline = self.deadline_from(start)
        await anyio.sleep_until(deadline)
        return self.expired(start, deadline)


def _check_name(owner: str, name: object) -> str | None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{owner}: name must be a str, got {type(name).__name__}")
    return name


@final
class TIMER(_TimerBase):
    """A guard that fires *seconds* after the ALT starts.

    >>> TIMER(2.5, name="llm-timeout")
    TIMER(2.5, name='llm-timeout')
    """

    __slots__ = ("seconds",)

    def __init__(self, seconds: float, name: str | None = None) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise TypeError(f"TIMER: seconds must be a number, got {type(seconds).__name__}")
        if seconds < 0 or seconds != seconds:
            raise ValueError(f"TIMER: seconds must be a non-negative number, got {seconds!r}")
        self.seconds = float(seconds)
        self.name = _check_name("TIMER", name)
        self._arm()

    def deadline_from(self, now: float) -> float:
        """*now* plus the timer's seconds (and arms the timer: :attr:`elapsed`
        counts from here).

        >>> TIMER(2.5).deadline_from(100.0)
        102.5
        """
        self._arm()
        return now + self.seconds

    @property
    def remaining(self) -> timedelta:
        """Time left before the timer fires, counted from when it was created or
        last armed; ``timedelta(0)`` once it is due.

        >>> TIMER(60.0).remaining > timedelta(seconds=59)
        True
        """
        left = self.seconds - (time.monotonic() - self._armed_at)
        return timedelta(seconds=max(left, 0.0))

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name is not None else ""
        return f"TIMER({self.seconds!r}{extra})"


@final
class DEADLINE(_TimerBase):
    """A guard that fires at a wall-clock ``datetime`` (naive means UTC).

    >>> from datetime import datetime, timezone
    >>> DEADLINE(datetime(2030, 1, 1, tzinfo=timezone.utc), name="cutoff")  # doctest: +ELLIPSIS
    DEADLINE(datetime.datetime(2030, 1, 1, 0, 0, tzinfo=...), name='cutoff')
    """

    __slots__ = ("when",)

    def __init__(self, when: datetime, name: str | None = None) -> None:
        if not isinstance(when, datetime):
            raise TypeError(f"DEADLINE: expected a datetime, got {type(when).__name__}")
        self.when = when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)
        self.name = _check_name("DEADLINE", name)
        self._arm()

    @property
    def remaining(self) -> timedelta:
        """Time left until ``when`` (wall clock), ``timedelta(0)`` once it has passed.

        >>> soon = DEADLINE(datetime.now(timezone.utc) + timedelta(minutes=5))
        >>> timedelta(minutes=4) < soon.remaining <= timedelta(minutes=5)
        True
        """
        return max(self.when - datetime.now(timezone.utc), timedelta(0))

    def deadline_from(self, now: float) -> float:
        """The wall-clock instant ``when`` moved onto anyio's clock: *now* plus the
        seconds from the present moment until ``when`` (negative if past).

        >>> from datetime import datetime, timedelta, timezone
        >>> soon = DEADLINE(datetime.now(timezone.utc) + timedelta(seconds=60))
        >>> round(soon.deadline_from(1000.0))
        1060
        """
        self._arm()
        # Convert the wall-clock instant to anyio's clock, relative to now.
        remaining = (self.when - datetime.now(timezone.utc)).total_seconds()
        return now + remaining

    def __repr__(self) -> str:
        extra = f", name={self.name!r}" if self.name is not None else ""
        return f"DEADLINE({self.when!r}{extra})"
