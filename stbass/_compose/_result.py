"""Results of running a process: :class:`ProcessResult`, :class:`Failure`, and the
failure policies compositions follow (:class:`FailurePolicy`, :class:`RetryPolicy`)."""

from __future__ import annotations

import enum
import math
import traceback as _traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final, Generic, Literal, final

from typing_extensions import TypeVar

if TYPE_CHECKING:
    from ._placement_value import Placement

# A default lets users write a bare ``-> ProcessResult`` (as the docs do) under
# ``mypy --strict``; it means ``ProcessResult[Any]``.
T = TypeVar("T", default=Any)

_BACKOFFS: Final = ("exponential", "linear", "constant")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _new_id() -> str:
    return str(uuid.uuid4())


@final
@dataclass(frozen=True, eq=False)
class Failure:
    """Everything known about one failed process run.

    >>> f = Failure(ValueError("bad"), process_name="fetch")
    >>> f.summary
    '[fetch] ValueError: bad'

    ``process_id`` is a fresh UUID4 string when not given (never ``None``).
    """

    error: BaseException
    process_name: str = "unknown"
    process_id: str = field(default_factory=_new_id)
    started_at: datetime | None = None
    failed_at: datetime = field(default_factory=_now)
    placement: Placement | None = None
    parent_process: str | None = None
    channel_state: dict[str, Any] | None = None
    checkpoint: Any = None
    traceback_str: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.error, BaseException):
            raise TypeError(
                f"Failure.error must be an exception, got {type(self.error).__name__}"
            )
        if self.process_id is None:
            object.__setattr__(self, "process_id", _new_id())
        if self.traceback_str is None and self.error.__traceback__ is not None:
            text = "".join(_traceback.format_exception(self.error))
            object.__setattr__(self, "traceback_str", text)

    @property
    def elapsed(self) -> timedelta | None:
        """Time from start to failure as a :class:`datetime.timedelta` (as in 0.1),
        or ``None`` when the start is unknown; :attr:`elapsed_s` is the same in
        seconds.

        >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> Failure(ValueError("x"), started_at=t0, failed_at=t0 + timedelta(seconds=2)).elapsed
        datetime.timedelta(seconds=2)
        """
        if self.started_at is None:
            return None
        return self.failed_at - self.started_at

    @property
    def elapsed_s(self) -> float | None:
        """:attr:`elapsed` in seconds, or ``None`` when the start is unknown."""
        elapsed = self.elapsed
        return None if elapsed is None else elapsed.total_seconds()

    @property
    def error_type(self) -> str:
        """The class name of the error.

        >>> Failure(TimeoutError("slow"), process_name="fetch").error_type
        'TimeoutError'
        """
        return type(self.error).__name__

    @property
    def summary(self) -> str:
        """One line: ``[process] ErrorType: message``."""
        return f"[{self.process_name}] {self.error_type}: {self.error}"

    @property
    def detailed(self) -> str:
        """Several lines: summary, identity, timing, placement, checkpoint and traceback."""
        lines = [self.summary]
        lines.append(f"  process id: {self.process_id}")
        if self.parent_process is not None:
            lines.append(f"  parent: {self.parent_process}")
        if self.started_at is not None:
            lines.append(f"  started: {self.started_at.isoformat()}")
        lines.append(f"  failed: {self.failed_at.isoformat()}")
        if self.elapsed_s is not None:
            lines.append(f"  elapsed: {self.elapsed_s:.3f}s")
        if self.placement is not None:
            lines.append(f"  placement: {self.placement.summary}")
        if self.checkpoint is not None:
            lines.append(f"  last checkpoint: {self.checkpoint!r}")
        if self.channel_state:
            lines.append(f"  channels: {self.channel_state!r}")
        if self.traceback_str:
            lines.append("  traceback:")
            lines.extend("    " + ln for ln in self.traceback_str.rstrip().splitlines())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Failure({self.error!r}, process_name={self.process_name!r})"


_MISSING: Any = object()


@final
class ProcessResult(Generic[T]):
    """The outcome of a process: a value, or a :class:`Failure`. Immutable.

    >>> ProcessResult.ok(3).value
    3
    >>> ProcessResult.fail(ValueError("no")).is_fail
    True
    """

    __slots__ = ("_value", "_failure")

    _value: T
    _failure: Failure | None

    def __init__(self, value: T = _MISSING, failure: Failure | None = None) -> None:
        if (value is _MISSING) == (failure is None):
            if failure is None:
                value = None  # type: ignore[assignment]
            else:
                raise TypeError("a ProcessResult holds a value or a failure, not both")
        object.__setattr__(self, "_value", None if value is _MISSING else value)
        object.__setattr__(self, "_failure", failure)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("ProcessResult is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("ProcessResult is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        # Immutable with __slots__: pickle through the constructors.
        if self._failure is None:
            return (ProcessResult.ok, (self._value,))
        return (ProcessResult.fail, (self._failure,))

    @classmethod
    def ok(cls, value: T = None) -> ProcessResult[T]:  # type: ignore[assignment]
        """A successful result carrying *value*."""
        result = object.__new__(cls)  # one per process run: skip __init__'s checks
        _set_value(result, value)
        _set_failure(result, None)
        return result

    @classmethod
    def fail(cls, error: BaseException | Failure, **failure_fields: Any) -> ProcessResult[Any]:
        """A failed result. *error* is an exception (wrapped in a :class:`Failure`
        built with *failure_fields*) or a ready-made :class:`Failure`."""
        if isinstance(error, Failure):
            if failure_fields:
                raise TypeError("failure fields cannot be given with a ready Failure")
            return cls(failure=error)
        if not isinstance(error, BaseException):
            raise TypeError(
                f"ProcessResult.fail() takes an exception or a Failure, "
                f"got {type(error).__name__}"
            )
        return cls(failure=Failure(error, **failure_fields))

    @property
    def is_ok(self) -> bool:
        """True for a success (the result has a value, maybe ``None``).

        >>> ProcessResult.ok(None).is_ok
        True
        """
        return self._failure is None

    @property
    def is_fail(self) -> bool:
        """True for a failure (the result has a :attr:`failure`); the opposite of
        :attr:`is_ok`.

        >>> ProcessResult.fail(ValueError("no"), process_name="parse").is_fail
        True
        """
        return self._failure is not None

    @property
    def value(self) -> T:
        """The value; on a failure, re-raises the original error."""
        if self._failure is not None:
            raise self._failure.error
        return self._value

    @property
    def failure(self) -> Failure:
        """The failure; raises ``AttributeError`` on a success."""
        if self._failure is None:
            raise AttributeError("a successful ProcessResult has no failure")
        return self._failure

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProcessResult):
            return NotImplemented
        if self._failure is None or other._failure is None:
            return self._failure is other._failure and bool(self._value == other._value)
        return (
            type(self._failure.error) is type(other._failure.error)
            and self._failure.error.args == other._failure.error.args
            and self._failure.process_name == other._failure.process_name
        )

    def __hash__(self) -> int:
        return hash(("ProcessResult", self._failure is None))

    def __repr__(self) -> str:
        if self._failure is None:
            return f"ProcessResult.ok({self._value!r})"
        return f"ProcessResult.fail({self._failure.error!r})"


_set_value: Any = ProcessResult.__dict__["_value"].__set__
_set_failure: Any = ProcessResult.__dict__["_failure"].__set__


def success(value: Any) -> ProcessResult[Any]:
    """``ProcessResult.ok(value)`` for the engine's hot path (no classmethod call)."""
    result: ProcessResult[Any] = object.__new__(ProcessResult)
    _set_value(result, value)
    _set_failure(result, None)
    return result


@final
@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failing process up to *max_attempts* times, sleeping between tries.

    ``delay_for(attempt)`` is ``base_delay * 2**attempt`` (exponential),
    ``base_delay * (attempt + 1)`` (linear) or ``base_delay`` (constant), never
    more than *max_delay* seconds (one hour by default), so a long retry loop
    never overflows. Delays must be finite and not negative.

    >>> RetryPolicy(3, backoff="linear", base_delay=0.5).delay_for(1)
    1.0
    >>> RetryPolicy(10_000, base_delay=1.0).delay_for(5_000)
    3600.0
    """

    max_attempts: int = 3
    backoff: Literal["exponential", "linear", "constant"] = "exponential"
    base_delay: float = 1.0
    max_delay: float = 3600.0

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise TypeError(
                f"max_attempts must be an int, got {type(self.max_attempts).__name__}"
            )
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.backoff not in _BACKOFFS:
            raise ValueError(
                f"unknown backoff {self.backoff!r}; expected one of {', '.join(_BACKOFFS)}"
            )
        for label in ("base_delay", "max_delay"):
            delay = getattr(self, label)
            if isinstance(delay, bool) or not isinstance(delay, (int, float)):
                raise TypeError(f"{label} must be a number, got {type(delay).__name__}")
            if not math.isfinite(delay) or delay < 0:
                raise ValueError(
                    f"{label} must be a finite, non-negative number of seconds, got {delay!r}"
                )

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number *attempt* (counting from 0),
        at most :attr:`max_delay`."""
        base = float(self.base_delay)
        if self.backoff == "exponential":
            # 2.0**1024 overflows; past that the delay is capped anyway.
            raw = base * 2.0**attempt if attempt < 1024 else (math.inf if base else 0.0)
        elif self.backoff == "linear":
            raw = base * (attempt + 1)
        else:
            raw = base
        return float(min(raw, self.max_delay))


class FailurePolicy(enum.Enum):
    """What a composition does when a child fails.

    ``HALT`` cancels the rest as soon as a non-optional child fails; ``COLLECT``
    lets every child finish and reports all failures. ``FailurePolicy.retry(...)``
    builds a :class:`RetryPolicy` for :func:`stbass.retry_process`.

    >>> FailurePolicy.COLLECT
    FailurePolicy.COLLECT
    >>> result = await PAR(fetch_a, fetch_b, on_failure=FailurePolicy.COLLECT).run()  # doctest: +SKIP
    """

    HALT = "halt"
    COLLECT = "collect"

    @staticmethod
    def retry(
        max_attempts: int = 3,
        backoff: Literal["exponential", "linear", "constant"] = "exponential",
        base_delay: float = 1.0,
        max_delay: float = 3600.0,
    ) -> RetryPolicy:
        """The :class:`RetryPolicy` with these settings.

        >>> FailurePolicy.retry(5, backoff="constant", base_delay=0.1)
        RetryPolicy(max_attempts=5, backoff='constant', base_delay=0.1, max_delay=3600.0)
        """
        return RetryPolicy(
            max_attempts=max_attempts, backoff=backoff, base_delay=base_delay, max_delay=max_delay
        )

    def __repr__(self) -> str:
        return f"FailurePolicy.{self.name}"


def check_policy(on_failure: object, owner: str) -> FailurePolicy:
    if not isinstance(on_failure, FailurePolicy):
        raise TypeError(
            f"{owner}: on_failure must be FailurePolicy.HALT or FailurePolicy.COLLECT, "
            f"got {on_failure!r}"
        )
    return on_failure
