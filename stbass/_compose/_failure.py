"""Failure analysis: retrying a process, and reports over many results.

:func:`retry_process` runs a process again after a failure, with the backoff a
:class:`~stbass.RetryPolicy` describes. :class:`FailureReport` collects the results
of many runs (a batch, a PAR, a retry loop) and tells what went wrong and how
often; :class:`FailureAggregator` puts several reports side by side.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, final

import anyio

from ._seqpar import CompositionResult, ProcessCancelledError
from ._process import Process, ProcessContext
from ._result import Failure, ProcessResult, RetryPolicy

#: Name of the attribute :func:`retry_process` sets on the error of the failure it
#: returns when every attempt failed: the number of attempts made.
ATTEMPTS_ATTR: Final = "stbass_attempts"

# Error types that usually go away when tried again later.
_TRANSIENT_TYPES: Final = (ConnectionError, TimeoutError, OSError)


# ----------------------------------------------------------------------- retry


def _check_retry_on(retry_on: object) -> tuple[type[BaseException], ...] | None:
    if retry_on is None:
        return None
    items = (retry_on,) if isinstance(retry_on, type) else retry_on
    if not isinstance(items, tuple) or not items:
        raise TypeError(
            "retry_process: retry_on must be an exception class or a non-empty tuple "
            f"of them, got {retry_on!r}"
        )
    for item in items:
        if not (isinstance(item, type) and issubclass(item, BaseException)):
            raise TypeError(
                f"retry_process: retry_on must hold exception classes, got {item!r}"
            )
    return items


async def retry_process(
    process: Process,
    ctx: ProcessContext,
    policy: RetryPolicy,
    *,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] | None = None,
    report: FailureReport | None = None,
) -> ProcessResult[Any]:
    """Run *process* in *ctx* until it succeeds or *policy* runs out of attempts.

    After failed attempt ``i`` (counting from 0) it sleeps ``policy.delay_for(i)``
    seconds with :func:`anyio.sleep`, so it runs on asyncio and trio alike. Every
    attempt uses the same *ctx*: ``ctx.last_checkpoint`` survives from one attempt
    to the next, so a process can resume from its last checkpoint.

    Returns the first successful result, or the **last failure** once every
    attempt has failed. That failure's error then carries the number of attempts
    made as ``failure.error.stbass_attempts`` and a note (``add_note``) saying
    ``gave up after N attempts``, which also shows in ``failure.traceback_str``.

    *retry_on* (an exception class or a tuple of them) limits retrying to those
    errors; any other failure is returned at once. *report*, when given, receives
    every failed attempt (and the final success), so a :class:`FailureReport`
    sees flaky processes that retrying hid.

    Cancellation is never caught: cancelling the caller cancels the running
    attempt or the sleep between two attempts.

    >>> import anyio
    >>> from stbass import Process, ProcessContext, ProcessResult, RetryPolicy
    >>> calls = []
    >>> @Process
    ... async def flaky(ctx: ProcessContext) -> ProcessResult:
    ...     calls.append(1)
    ...     if len(calls) < 3:
    ...         raise ConnectionError("try again")
    ...     return ProcessResult.ok("done")
    >>> policy = RetryPolicy(max_attempts=5, base_delay=0.001)
    >>> anyio.run(retry_process, flaky, ProcessContext("flaky"), policy)
    ProcessResult.ok('done')
    """
    if not isinstance(process, Process):
        raise TypeError(
            f"retry_process: process must be a Process, got {type(process).__name__}"
            + (" (decorate the async function with @Process)" if callable(process) else "")
        )
    if not isinstance(ctx, ProcessContext):
        raise TypeError(
            f"retry_process: ctx must be a ProcessContext, got {type(ctx).__name__}"
        )
    if not isinstance(policy, RetryPolicy):
        raise TypeError(
            f"retry_process: policy must be a RetryPolicy (see FailurePolicy.retry), "
            f"got {type(policy).__name__}"
        )
    retryable = _check_retry_on(retry_on)
    if report is not None and not isinstance(report, FailureReport):
        raise TypeError(
            f"retry_process: report must be a FailureReport, got {type(report).__name__}"
        )

    attempt = 0
    while True:
        result = await process.execute(ctx)
        attempt += 1
        if report is not None:
            report.add(result)
        if result.is_ok:
            return result
        failure = result.failure
        give_up = attempt >= policy.max_attempts or (
            retryable is not None and not isinstance(failure.error, retryable)
        )
        if give_up:
            return ProcessResult.fail(_mark_attempts(failure, attempt))
        await anyio.sleep(policy.delay_for(attempt - 1))


def _mark_attempts(failure: Failure, attempts: int) -> Failure:
    error = failure.error
    with contextlib.suppress(AttributeError, TypeError):
        setattr(error, ATTEMPTS_ATTR, attempts)
    plural = "attempt" if attempts == 1 else "attempts"
    note = f"stbass.retry_process: gave up on {failure.process_name!r} after {attempts} {plural}"
    notes: list[str] = getattr(error, "__notes__", [])
    if note not in notes:
        error.add_note(note)
    # Rebuild the traceback text so that it shows the note too.
    if error.__traceback__ is not None:
        return dataclasses.replace(failure, traceback_str=None)
    return failure


def attempts_of(failure: Failure) -> int:
    """How many attempts :func:`retry_process` made before returning *failure*
    (1 for a failure that did not come out of ``retry_process``)."""
    value = getattr(failure.error, ATTEMPTS_ATTR, 1)
    return value if isinstance(value, int) else 1


# ----------------------------------------------------------------------- reports


def _is_cancelled_by(failure: Failure, reason: str) -> bool:
    error = failure.error
    return isinstance(error, ProcessCancelledError) and error.reason == reason


def is_timeout(failure: Failure) -> bool:
    """A failure counts as a timeout when its error is a :class:`TimeoutError`
    (what ``anyio.fail_after`` raises), a ``TimerExpired``, or a
    ``ProcessCancelledError`` with reason ``"deadline"``."""
    error = failure.error
    if isinstance(error, TimeoutError) or _is_cancelled_by(failure, "deadline"):
        return True
    return any(cls.__name__ == "TimerExpired" for cls in type(error).__mro__)


@final
@dataclass(frozen=True)
class RepeatedFailure:
    """One process failing the same way several times: what
    :attr:`FailurePatterns.repeat_timeouts` and ``repeat_errors`` list.

    >>> RepeatedFailure("fetch", "TimeoutError", 3)
    RepeatedFailure(process_name='fetch', error_type='TimeoutError', count=3)
    """

    process_name: str
    error_type: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        """``{"process_name", "error_type", "count"}``."""
        return {"process_name": self.process_name, "error_type": self.error_type, "count": self.count}


@final
class FailurePatterns(dict[str, Any]):
    """What :meth:`FailureReport.pattern_analysis` finds.

    It is the dict 0.1 returned, with the richer 0.2 values beside it as
    attributes:

    ======================= ============================== ==================================
    what                    ``patterns[key]`` (0.1 dict)   attribute (0.2)
    ======================= ============================== ==================================
    ``repeat_timeouts``     process names                  :class:`RepeatedFailure` tuple
    ``repeat_errors``       ``(process, error type)``      :class:`RepeatedFailure` tuple
    ``cascade_failures``    ``True`` if there is any       the cascading :class:`Failure` s
    ``root_causes``         (not a key)                    the other :class:`Failure` s
    ======================= ============================== ==================================

    * repeat timeouts: processes that timed out at least *threshold* times,
      most frequent first. A timeout is a failure whose error is a
      ``TimeoutError`` (what ``anyio.fail_after`` raises), a
      :class:`~stbass.TimerExpired`, or a :class:`~stbass.ProcessCancelledError`
      with reason ``"deadline"``.
    * repeat errors: processes that failed with the same (non-timeout,
      non-cancellation) error type at least *threshold* times, most frequent first.
    * cascade failures: failures that are consequences of another failure:
      a child cancelled by ``HALT`` because a sibling failed
      (``ProcessCancelledError`` with reason ``"halt"``), or a process one of whose
      children also failed in the same report (another failure names it as
      ``parent_process``).
    * root causes: every other failure, in the order added.

    >>> patterns = FailurePatterns((RepeatedFailure("fetch", "TimeoutError", 3),), (), (), ())
    >>> patterns["repeat_timeouts"], patterns["cascade_failures"]
    (['fetch'], False)
    >>> patterns.repeat_timeouts[0].count
    3
    >>> FailurePatterns().has_patterns
    False
    """

    __slots__ = ("_repeat_timeouts", "_repeat_errors", "_cascade_failures", "_root_causes")

    def __init__(
        self,
        repeat_timeouts: Iterable[RepeatedFailure] = (),
        repeat_errors: Iterable[RepeatedFailure] = (),
        cascade_failures: Iterable[Failure] = (),
        root_causes: Iterable[Failure] = (),
    ) -> None:
        self._repeat_timeouts = tuple(repeat_timeouts)
        self._repeat_errors = tuple(repeat_errors)
        self._cascade_failures = tuple(cascade_failures)
        self._root_causes = tuple(root_causes)
        super().__init__(
            repeat_timeouts=list(dict.fromkeys(r.process_name for r in self._repeat_timeouts)),
            repeat_errors=[(r.process_name, r.error_type) for r in self._repeat_errors],
            cascade_failures=bool(self._cascade_failures),
        )

    @property
    def repeat_timeouts(self) -> tuple[RepeatedFailure, ...]:
        """Processes that timed out repeatedly, with their counts."""
        return self._repeat_timeouts

    @property
    def repeat_errors(self) -> tuple[RepeatedFailure, ...]:
        """Processes that failed with the same error type repeatedly, with counts."""
        return self._repeat_errors

    @property
    def cascade_failures(self) -> tuple[Failure, ...]:
        """The failures that are consequences of another failure."""
        return self._cascade_failures

    @property
    def root_causes(self) -> tuple[Failure, ...]:
        """Every failure that is not a cascade, in the order added."""
        return self._root_causes

    @property
    def has_patterns(self) -> bool:
        """True when any repeat or cascade was found."""
        return bool(self._repeat_timeouts or self._repeat_errors or self._cascade_failures)

    def to_dict(self) -> dict[str, Any]:
        """The 0.2 JSON-serialisable form, with counts (failures as their summaries)."""
        return {
            "repeat_timeouts": [r.to_dict() for r in self._repeat_timeouts],
            "repeat_errors": [r.to_dict() for r in self._repeat_errors],
            "cascade_failures": [f.summary for f in self._cascade_failures],
            "root_causes": [f.summary for f in self._root_causes],
        }

    def __repr__(self) -> str:
        return (
            f"FailurePatterns(repeat_timeouts={self._repeat_timeouts!r}, "
            f"repeat_errors={self._repeat_errors!r}, "
            f"cascade_failures={self._cascade_failures!r}, root_causes={self._root_causes!r})"
        )


def _failure_dict(failure: Failure) -> dict[str, Any]:
    placement = failure.placement
    return {
        "process_name": failure.process_name,
        "process_id": failure.process_id,
        "parent_process": failure.parent_process,
        "error_type": failure.error_type,
        "message": str(failure.error),
        "summary": failure.summary,
        "started_at": failure.started_at.isoformat() if failure.started_at else None,
        "failed_at": failure.failed_at.isoformat(),
        "elapsed_s": failure.elapsed_s,
        "placement": placement.summary if placement is not None else None,
        "checkpoint": None if failure.checkpoint is None else repr(failure.checkpoint),
        "attempts": attempts_of(failure),
        "timeout": is_timeout(failure),
    }


def _check_name(owner: str, name: object) -> str | None:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"{owner}: name must be a str or None, got {type(name).__name__}")
    return name


def _check_threshold(threshold: object) -> int:
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise TypeError(f"threshold must be an int, got {type(threshold).__name__}")
    if threshold < 2:
        raise ValueError(f"threshold must be at least 2, got {threshold}")
    return threshold


class FailureReport:
    """Counts and patterns over the results of many process runs.

    Add :class:`~stbass.ProcessResult` objects (successes count towards the total)
    or bare :class:`~stbass.Failure` objects with :meth:`add`, or a whole
    ``PARResult``/``SEQResult`` or any iterable of them with :meth:`extend`.

    >>> from stbass import Failure, ProcessResult
    >>> report = FailureReport("batch-1")
    >>> report.add(ProcessResult.ok(1))
    >>> report.add(Failure(TimeoutError("slow"), process_name="fetch"))
    >>> report.failure_rate
    0.5
    >>> report.common_failure_types
    {'TimeoutError': 1}
    """

    __slots__ = ("name", "_total", "_failures")

    def __init__(self, name: str | None = None) -> None:
        self.name = _check_name("FailureReport", name)
        self._total = 0
        self._failures: list[Failure] = []

    def __repr__(self) -> str:
        return f"<FailureReport {self.name!r}: {self.failed} of {self.total} failed>"

    # ------------------------------------------------------------- adding

    def add(self, result: ProcessResult[Any] | Failure) -> None:
        """Count one run: a :class:`~stbass.ProcessResult` (ok or failed) or a
        :class:`~stbass.Failure`."""
        if isinstance(result, ProcessResult):
            if result.is_fail:
                self._failures.append(result.failure)
        elif isinstance(result, Failure):
            self._failures.append(result)
        else:
            hint = " (use extend() for a PARResult/SEQResult)" if isinstance(
                result, CompositionResult
            ) else ""
            raise TypeError(
                f"FailureReport.add: result must be a ProcessResult or a Failure, "
                f"got {type(result).__name__}{hint}"
            )
        self._total += 1

    def extend(
        self, results: CompositionResult | Iterable[ProcessResult[Any] | Failure]
    ) -> None:
        """Add every result of a ``PARResult``/``SEQResult``, or of an iterable.

        Checks every item before adding any, so a bad item leaves the report as
        it was.
        """
        items: list[Any]
        if isinstance(results, CompositionResult):
            items = list(results.results)
        elif isinstance(results, (ProcessResult, Failure, str, bytes)) or not isinstance(
            results, Iterable
        ):
            raise TypeError(
                "FailureReport.extend: results must be a PARResult/SEQResult or an "
                f"iterable of ProcessResult/Failure, got {type(results).__name__}"
            )
        else:
            items = list(results)
        for i, item in enumerate(items):
            if not isinstance(item, (ProcessResult, Failure)):
                raise TypeError(
                    f"FailureReport.extend: results[{i}] must be a ProcessResult or a "
                    f"Failure, got {type(item).__name__}"
                )
        for item in items:
            self.add(item)

    # ------------------------------------------------------------- counts

    @property
    def total(self) -> int:
        """Number of results added."""
        return self._total

    @property
    def total_processes(self) -> int:
        """Number of results added (the 0.1 name of :attr:`total`)."""
        return self._total

    @property
    def failed(self) -> int:
        """Number of failures added."""
        return len(self._failures)

    @property
    def succeeded(self) -> int:
        """Number of successes added."""
        return self._total - len(self._failures)

    @property
    def failures(self) -> tuple[Failure, ...]:
        """The failures, in the order added."""
        return tuple(self._failures)

    @property
    def failure_rate(self) -> float:
        """``failed / total``; ``0.0`` for an empty report."""
        return len(self._failures) / self._total if self._total else 0.0

    @property
    def common_failure_types(self) -> dict[str, int]:
        """Error type name to count, most common first (ties in the order first
        seen); ``list(....items())`` gives the ranked pairs."""
        return dict(Counter(f.error_type for f in self._failures).most_common())

    @property
    def slowest_failure(self) -> Failure | None:
        """The failure with the longest ``elapsed`` (failures with an unknown start
        are skipped); ``None`` when there is none."""
        timed = [f for f in self._failures if f.elapsed is not None]
        if not timed:
            return None
        return max(timed, key=lambda f: f.elapsed_s or 0.0)

    def failures_by_process(self) -> list[tuple[str, int]]:
        """``(process name, failure count)`` pairs, most failures first."""
        return Counter(f.process_name for f in self._failures).most_common()

    # ------------------------------------------------------------- analysis

    def pattern_analysis(self, *, threshold: int = 2) -> FailurePatterns:
        """Find repeats (the same process failing the same way *threshold* or more
        times) and cascades; see :class:`FailurePatterns` for the definitions.

        The result is the 0.1 dict (``"repeat_timeouts"``: process names,
        ``"repeat_errors"``: ``(process, error type)`` pairs,
        ``"cascade_failures"``: a bool) with the 0.2 details as attributes.
        """
        threshold = _check_threshold(threshold)
        timeouts: Counter[tuple[str, str]] = Counter()
        errors: Counter[tuple[str, str]] = Counter()
        for f in self._failures:
            key = (f.process_name, f.error_type)
            if is_timeout(f):
                timeouts[key] += 1
            elif not isinstance(f.error, ProcessCancelledError):
                errors[key] += 1

        cascades: list[Failure] = []
        roots: list[Failure] = []
        parents = Counter(g.parent_process for g in self._failures if g.parent_process)
        for f in self._failures:
            own = 1 if f.parent_process == f.process_name else 0
            child_failed = parents[f.process_name] - own > 0
            if child_failed or _is_cancelled_by(f, "halt"):
                cascades.append(f)
            else:
                roots.append(f)

        def repeated(counts: Counter[tuple[str, str]]) -> tuple[RepeatedFailure, ...]:
            return tuple(
                RepeatedFailure(name, etype, n)
                for (name, etype), n in counts.most_common()
                if n >= threshold
            )

        return FailurePatterns(
            repeat_timeouts=repeated(timeouts),
            repeat_errors=repeated(errors),
            cascade_failures=tuple(cascades),
            root_causes=tuple(roots),
        )

    def recommendations(self) -> list[str]:
        """Advice in plain words, driven by :meth:`pattern_analysis`; empty when
        nothing stands out."""
        patterns = self.pattern_analysis()
        advice: list[str] = []

        def matching(r: RepeatedFailure) -> list[Failure]:
            return [
                f
                for f in self._failures
                if f.process_name == r.process_name and f.error_type == r.error_type
            ]

        def retried(r: RepeatedFailure) -> int:
            return max(attempts_of(f) for f in matching(r))

        for r in patterns.repeat_timeouts:
            gave_up = retried(r)
            if gave_up > 1:
                advice.append(
                    f"process {r.process_name!r} hit a timeout {r.count} times, even with "
                    f"retry_process ({gave_up} attempts): give it a longer deadline, "
                    f"split its work, or fall back to another process"
                )
            else:
                advice.append(
                    f"process {r.process_name!r} hit a timeout {r.count} times: give it a "
                    f"longer deadline, split its work, or wrap it in retry_process with "
                    f"backoff"
                )
        transient = {cls.__name__ for cls in _TRANSIENT_TYPES}
        for r in patterns.repeat_errors:
            names = {cls.__name__ for f in matching(r) for cls in type(f.error).__mro__}
            if names & transient:
                gave_up = retried(r)
                if gave_up > 1:
                    hint = (
                        f"retrying ({gave_up} attempts) was not enough: use a longer "
                        f"backoff or add a fallback"
                    )
                else:
                    hint = "retry it with retry_process and exponential backoff, or add a fallback"
                advice.append(
                    f"process {r.process_name!r} failed {r.count} times with "
                    f"{r.error_type}, which is often transient: {hint}"
                )
            else:
                advice.append(
                    f"process {r.process_name!r} failed {r.count} times with "
                    f"{r.error_type}: this looks deterministic (a bug or bad input), "
                    f"so retrying will not help; fix the cause"
                )
        if patterns.cascade_failures:
            roots = ", ".join(sorted({f.process_name for f in patterns.root_causes})) or "unknown"
            advice.append(
                f"{len(patterns.cascade_failures)} failure(s) were knock-on effects of "
                f"other failures (root causes: {roots}): fix those first; use "
                f"FailurePolicy.COLLECT or .optional() if the other processes should "
                f"finish anyway"
            )
        if self._total >= 4 and self.failure_rate >= 0.5:
            advice.append(
                f"{self.failure_rate:.0%} of runs failed: look for a shared cause "
                f"(a dependency that is down, a bad configuration) before retrying"
            )
        return advice

    # ------------------------------------------------------------- output

    def to_dict(self) -> dict[str, Any]:
        """Everything in the report as JSON-serialisable data."""
        slowest = self.slowest_failure
        return {
            "name": self.name,
            "total_processes": self.total,
            "total": self.total,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failure_rate": self.failure_rate,
            "common_failure_types": [
                {"error_type": t, "count": n} for t, n in self.common_failure_types.items()
            ],
            "failures_by_process": [
                {"process_name": p, "count": n} for p, n in self.failures_by_process()
            ],
            "slowest_failure": _failure_dict(slowest) if slowest is not None else None,
            "patterns": self.pattern_analysis().to_dict(),
            "recommendations": self.recommendations(),
            "failures": [_failure_dict(f) for f in self._failures],
        }

    def summary(self) -> str:
        """Several lines of text: counts, error types, the slowest failure,
        patterns and recommendations."""
        title = f"Failure report {self.name!r}" if self.name else "Failure report"
        lines = [
            f"{title}: {self.failed} of {self.total} failed ({self.failure_rate:.1%})"
        ]
        if self._failures:
            types = ", ".join(f"{t} x{n}" for t, n in self.common_failure_types.items())
            lines.append(f"  error types: {types}")
            procs = ", ".join(f"{p} x{n}" for p, n in self.failures_by_process())
            lines.append(f"  failing processes: {procs}")
            slowest = self.slowest_failure
            if slowest is not None:
                lines.append(
                    f"  slowest failure: {slowest.summary} after {slowest.elapsed_s:.3f}s"
                )
            patterns = self.pattern_analysis()
            for r in patterns.repeat_timeouts:
                lines.append(f"  repeated timeout: {r.process_name} x{r.count}")
            for r in patterns.repeat_errors:
                lines.append(f"  repeated error: {r.process_name} {r.error_type} x{r.count}")
            if patterns.cascade_failures:
                lines.append(f"  cascade failures: {len(patterns.cascade_failures)}")
            advice = self.recommendations()
            if advice:
                lines.append("  recommendations:")
                lines.extend(f"    - {a}" for a in advice)
        return "\n".join(lines)


class FailureAggregator:
    """Several :class:`FailureReport` objects together (one per batch, per run,
    per day).

    >>> from stbass import Failure, ProcessResult
    >>> a, b = FailureReport("a"), FailureReport("b")
    >>> a.add(Failure(ValueError("x"), process_name="parse"))
    >>> b.add(Failure(ValueError("y"), process_name="parse"))
    >>> b.add(ProcessResult.ok())
    >>> agg = FailureAggregator()
    >>> agg.add_report(a); agg.add_report(b)
    >>> agg.worst_processes(1)
    ['parse']
    >>> agg.worst_process_counts(1)
    [('parse', 2)]
    """

    __slots__ = ("_reports",)

    def __init__(self) -> None:
        self._reports: list[FailureReport] = []

    def __repr__(self) -> str:
        return f"<FailureAggregator: {len(self._reports)} reports>"

    def add_report(self, report: FailureReport) -> None:
        """Add *report* (kept by reference: later additions to it count too)."""
        if not isinstance(report, FailureReport):
            raise TypeError(
                f"FailureAggregator.add_report: report must be a FailureReport, "
                f"got {type(report).__name__}"
            )
        if any(r is report for r in self._reports):
            raise ValueError(
                f"FailureAggregator.add_report: report {report.name!r} was already added"
            )
        self._reports.append(report)

    @property
    def reports(self) -> tuple[FailureReport, ...]:
        """The reports, in the order added."""
        return tuple(self._reports)

    @property
    def total(self) -> int:
        """Results over every report."""
        return sum(r.total for r in self._reports)

    @property
    def total_processes(self) -> int:
        """Results over every report (the 0.1 name of :attr:`total`)."""
        return self.total

    @property
    def failed(self) -> int:
        """Failures over every report."""
        return sum(r.failed for r in self._reports)

    @property
    def failure_rate(self) -> float:
        """``failed / total`` over every report; ``0.0`` when empty."""
        total = self.total
        return self.failed / total if total else 0.0

    @property
    def common_failure_types(self) -> dict[str, int]:
        """Error type name to count over every report, most common first."""
        counts: Counter[str] = Counter()
        for r in self._reports:
            counts.update(r.common_failure_types)
        return dict(counts.most_common())

    def worst_processes(self, n: int = 5) -> list[str]:
        """The names of the *n* processes with the most failures over every
        report, most failures first (the counts: :meth:`worst_process_counts`)."""
        return [name for name, _ in self.worst_process_counts(n)]

    def worst_process_counts(self, n: int = 5) -> list[tuple[str, int]]:
        """The *n* processes with the most failures over every report, as
        ``(name, failures)`` pairs, most failures first."""
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"worst_processes: n must be an int, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"worst_processes: n must be at least 1, got {n}")
        counts: Counter[str] = Counter()
        for r in self._reports:
            counts.update(f.process_name for f in r.failures)
        return counts.most_common(n)

    def to_dict(self) -> dict[str, Any]:
        """Totals, the worst processes and every report, JSON-serialisable."""
        return {
            "reports": len(self._reports),
            "total": self.total,
            "failed": self.failed,
            "failure_rate": self.failure_rate,
            "common_failure_types": [
                {"error_type": t, "count": c} for t, c in self.common_failure_types.items()
            ],
            "worst_processes": [
                {"process_name": p, "count": c} for p, c in self.worst_process_counts()
            ],
            "per_report": [r.to_dict() for r in self._reports],
        }

    def overall_summary(self) -> str:
        """Several lines: totals over every report, one line per report, the most
        common error types and the worst processes."""
        lines = [
            f"{len(self._reports)} reports: {self.failed} of {self.total} failed "
            f"({self.failure_rate:.1%})"
        ]
        for i, r in enumerate(self._reports):
            label = r.name if r.name is not None else f"#{i + 1}"
            lines.append(f"  {label}: {r.failed} of {r.total} failed ({r.failure_rate:.1%})")
        if self.failed:
            types = ", ".join(f"{t} x{c}" for t, c in self.common_failure_types.items())
            lines.append(f"  error types: {types}")
            worst = ", ".join(f"{p} x{c}" for p, c in self.worst_process_counts())
            lines.append(f"  worst processes: {worst}")
        return "\n".join(lines)
