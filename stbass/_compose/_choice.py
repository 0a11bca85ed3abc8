"""Choice compositions: IF, WHILE, RACE, HEDGE and QUORUM.

``IF`` and ``WHILE`` are occam's conditional and loop over the value a
composition passes along (like SEQ's stages); ``RACE``, ``HEDGE`` and
``QUORUM`` run children on the same input and stop as soon as the outcome is
decided, cancelling the rest. Like SEQ and PAR they are values (build once, run
many times), are themselves Processes (nest anywhere), emit one composition
span each, and start no task that outlives ``run()``.

The decision in RACE, HEDGE and QUORUM is taken synchronously when a child's
result arrives: there is no ``await`` between "is there a winner yet?" and "this
child is the winner", so there is exactly one winner (QUORUM: exactly ``k``)
even when several children finish in the same scheduler turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final, TypeVar, Union, final

import anyio

from .. import _names as N
from .._core import _hook
from .._core._util import is_coroutine_function
from ._process import Process, ProcessContext
from ._result import Failure, ProcessResult, _now
from ._seqpar import (
    Composition,
    CompositionResult,
    ProcessCancelledError,
    _parent_name,
    check_deadline,
    check_processes,
    execute_with_input,
    own_cancellation,
)


class _NoInput:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_INPUT"


#: "this composition was given no input value" (run bare, or nested in a PAR)
NO_INPUT: Final[Any] = _NoInput()

_R = TypeVar("_R")

#: an IF branch's predicate: a bool, or a plain callable of the input value
Predicate = Union[bool, Callable[[Any], Any]]


class NoBranchError(Exception):
    """An :class:`IF` had no branch whose predicate held, and no ``otherwise``.

    ``if_name`` names the IF; ``input_value`` is the value its predicates saw.

    >>> import anyio
    >>> @Process
    ... async def small(ctx: ProcessContext) -> str:
    ...     return "small"
    >>> result = anyio.run(IF((lambda v: v < 10, small)).run, 42)
    >>> result.failures[0].error
    NoBranchError('IF: no branch holds for input 42, and there is no otherwise')
    """

    def __init__(self, message: str, *, if_name: str = "IF", input_value: Any = None) -> None:
        super().__init__(message)
        self.if_name = if_name
        self.input_value = input_value


class MaxIterationsError(Exception):
    """A :class:`WHILE` whose condition still held after ``max_iterations`` runs of
    its body. ``while_name``, ``max_iterations`` and ``last_value`` say which and
    where it stopped.

    >>> import anyio
    >>> @Process
    ... async def inc(ctx: ProcessContext) -> int:
    ...     return await ctx.recv("input") + 1
    >>> result = anyio.run(WHILE(lambda v: v < 100, inc, max_iterations=3).run, 0)
    >>> result.failures[0].error
    MaxIterationsError('WHILE: the condition still holds after 3 iterations (value 3)')
    """

    def __init__(
        self, message: str, *, while_name: str = "WHILE", max_iterations: int = 0,
        last_value: Any = None,
    ) -> None:
        super().__init__(message)
        self.while_name = while_name
        self.max_iterations = max_iterations
        self.last_value = last_value


# ------------------------------------------------------------------ checks


def _check_callable(owner: str, what: str, fn: object, *, allow_bool: bool) -> Any:
    if allow_bool and isinstance(fn, bool):
        return fn
    if not callable(fn) or isinstance(fn, Process):
        expected = "a bool or a plain callable" if allow_bool else "a plain callable"
        raise TypeError(f"{owner}: {what} must be {expected}, got {type(fn).__name__} {fn!r}")
    if is_coroutine_function(fn):
        raise TypeError(
            f"{owner}: {what} must be a plain (not async) callable, got "
            f"{getattr(fn, '__qualname__', fn)!r}"
        )
    return fn


def _check_count(owner: str, what: str, value: object, *, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {what} must be an int, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{owner}: {what} must be {bound}, got {value}")
    return value


def _check_after(owner: str, after: object) -> float:
    if isinstance(after, bool) or not isinstance(after, (int, float)):
        raise TypeError(f"{owner}: after must be a number of seconds, got {type(after).__name__}")
    if after != after or after < 0 or after == float("inf"):
        raise ValueError(f"{owner}: after must be a finite non-negative number, got {after!r}")
    return float(after)


def _name_of(fn: Any) -> str:
    if isinstance(fn, bool):
        return repr(fn)
    return str(getattr(fn, "__name__", None) or repr(fn))


# ----------------------------------------------------------------- results


class ChoiceResult(CompositionResult):
    """What IF, WHILE, RACE, HEDGE and QUORUM share: ``is_ok``, ``value``,
    ``results`` (one per child that ran or was cancelled), ``failures`` (real
    failures; a loser cancelled because the outcome was decided is not one).

    >>> import anyio
    >>> @Process
    ... async def one(ctx: ProcessContext) -> int:
    ...     return 1
    >>> isinstance(anyio.run(RACE(one).run), ChoiceResult)
    True
    """

    __slots__ = ("_value", "_failure", "_results", "_unfinished")

    #: ``None`` entries are filled in by ``_unfinished`` on first read
    _results: list[Any]

    def __init__(
        self,
        results: Sequence[ProcessResult[Any] | None],
        value: Any,
        failure: Failure | None,
        failures: list[Failure] | None = None,
        unfinished: _Unfinished | None = None,
    ) -> None:
        self._unfinished = unfinished
        if failures is None:
            super().__init__(results, [False] * len(results), failure)
        else:
            # RACE, HEDGE and QUORUM: *unfinished* fills the ``None`` entries
            # of *results* (the losers) when ``results`` is first read.
            self._results = results if isinstance(results, list) else list(results)
            self._optional = [False] * len(results)
            self.cause = failure
            self.failures = failures
        self._value = value
        self._failure = failure
        if failure is not None and failure not in self.failures:
            self.failures.insert(0, failure)

    @property
    def results(self) -> list[ProcessResult[Any]]:
        """One result per child, in declaration order."""
        unfinished = self._unfinished
        if unfinished is not None:
            # Built on first read, not when the outcome is decided: a RACE of
            # n children whose results nobody reads costs no n - 1 failures.
            self._unfinished = None
            unfinished.fill(self._results)
        return self._results

    @results.setter
    def results(self, results: list[ProcessResult[Any]]) -> None:  # by CompositionResult
        self._results = results

    @property
    def is_ok(self) -> bool:
        """True when the composition succeeded."""
        return self._failure is None

    @property
    def value(self) -> Any:
        """The composition's value (``None`` when it failed)."""
        return self._value

    def as_process_result(self) -> ProcessResult[Any]:
        """This outcome as one :class:`~stbass.ProcessResult` (what a parent sees)."""
        if self._failure is None:
            return ProcessResult.ok(self._value)
        return ProcessResult.fail(self._failure)


@final
class IFResult(ChoiceResult):
    """What ``IF.run`` returns: ``branch`` (the index of the branch that ran,
    ``"otherwise"``, or ``None`` when none ran), ``value`` and ``results``.

    >>> import anyio
    >>> @Process
    ... async def neg(ctx: ProcessContext) -> int:
    ...     return -(await ctx.recv("input"))
    >>> result = anyio.run(IF((lambda v: v > 0, neg)).run, 5)
    >>> result, result.branch
    (IFResult(is_ok=True, value=-5, branch=0), 0)
    """

    __slots__ = ("branch",)

    def __init__(
        self,
        results: Sequence[ProcessResult[Any]],
        value: Any,
        failure: Failure | None,
        branch: int | str | None,
    ) -> None:
        super().__init__(results, value, failure)
        self.branch = branch

    def __repr__(self) -> str:
        return f"IFResult(is_ok={self.is_ok}, value={self._value!r}, branch={self.branch!r})"


@final
class WHILEResult(ChoiceResult):
    """What ``WHILE.run`` returns: ``iterations`` (how many times the body ran),
    ``value`` (the last body output, or the input if the body never ran) and
    ``results`` (one per iteration).

    >>> import anyio
    >>> @Process
    ... async def double(ctx: ProcessContext) -> int:
    ...     return 2 * await ctx.recv("input")
    >>> anyio.run(WHILE(lambda v: v < 100, double).run, 3)
    WHILEResult(is_ok=True, value=192, iterations=6)
    """

    __slots__ = ("iterations",)

    def __init__(
        self,
        results: Sequence[ProcessResult[Any]],
        value: Any,
        failure: Failure | None,
        iterations: int,
    ) -> None:
        super().__init__(results, value, failure)
        self.iterations = iterations

    def __repr__(self) -> str:
        return (
            f"WHILEResult(is_ok={self.is_ok}, value={self._value!r}, "
            f"iterations={self.iterations})"
        )


@final
class RACEResult(ChoiceResult):
    """What ``RACE.run`` and ``HEDGE.run`` return: ``winner`` (the index of the
    child whose success decided, ``None`` if none succeeded), ``value`` (its
    value), ``results`` in declaration order (the losers that were still running
    are failed with :class:`~stbass.ProcessCancelledError`, reason ``"lost"``),
    ``cancelled`` (their indices), ``started`` (how many children were started:
    all of them for RACE) and ``failures`` (every real failure).

    >>> import anyio
    >>> @Process
    ... async def fast(ctx: ProcessContext) -> str:
    ...     return "fast"
    >>> @Process
    ... async def slow(ctx: ProcessContext) -> str:
    ...     await anyio.sleep_forever()
    >>> result = anyio.run(RACE(slow, fast).run)
    >>> result
    RACEResult(is_ok=True, value='fast', winner=1)
    >>> result.cancelled, result.results[0].failure.error.reason
    ([0], 'lost')
    """

    __slots__ = ("winner", "cancelled", "started")

    def __init__(
        self,
        results: Sequence[ProcessResult[Any] | None],
        value: Any,
        failure: Failure | None,
        failures: list[Failure],
        winner: int | None,
        cancelled: list[int],
        started: int,
        unfinished: _Unfinished | None = None,
    ) -> None:
        super().__init__(results, value, failure, failures, unfinished)
        self.winner = winner
        self.cancelled = cancelled
        self.started = started

    def __repr__(self) -> str:
        return f"RACEResult(is_ok={self.is_ok}, value={self._value!r}, winner={self.winner!r})"


@final
class QUORUMResult(ChoiceResult):
    """What ``QUORUM.run`` returns: ``winners`` (the indices of the first ``k``
    children to succeed, in completion order), ``value`` (their values, in the
    same order), ``results`` in declaration order, ``cancelled`` and ``failures``
    as in :class:`RACEResult`.

    A QUORUM that fails (too many failures, or its ``deadline``) has no
    ``value``: fewer than ``k`` answers are not a quorum. What did arrive is
    kept: ``winners`` lists the children that succeeded, in completion order,
    and :attr:`winner_values` their values.

    >>> import anyio
    >>> @Process
    ... async def yes(ctx: ProcessContext) -> str:
    ...     return "yes"
    >>> anyio.run(QUORUM(2, yes, yes, yes).run)
    QUORUMResult(is_ok=True, value=['yes', 'yes'], winners=[0, 1])
    """

    __slots__ = ("winners", "cancelled")

    def __init__(
        self,
        results: Sequence[ProcessResult[Any] | None],
        value: Any,
        failure: Failure | None,
        failures: list[Failure],
        winners: list[int],
        cancelled: list[int],
        unfinished: _Unfinished | None = None,
    ) -> None:
        super().__init__(results, value, failure, failures, unfinished)
        self.winners = winners
        self.cancelled = cancelled

    @property
    def winner_values(self) -> list[Any]:
        """The values of :attr:`winners`, in completion order: the ``k`` values
        of a QUORUM that succeeded (its ``value``), or the fewer that arrived
        before it failed.

        >>> import anyio
        >>> @Process
        ... async def yes(ctx: ProcessContext) -> str:
        ...     return "yes"
        >>> @Process
        ... async def down(ctx: ProcessContext) -> str:
        ...     raise ConnectionError("down")
        >>> result = anyio.run(QUORUM(2, yes, down, down).run)
        >>> result.is_ok, result.value, result.winner_values
        (False, None, ['yes'])
        """
        return [self._results[i]._value for i in self.winners]

    def __repr__(self) -> str:
        return (
            f"QUORUMResult(is_ok={self.is_ok}, value={self._value!r}, winners={self.winners!r})"
        )


# --------------------------------------------------------------- the base


class _Choice(Composition):
    """Entry points shared by the choice compositions: ``run(input_value)`` at the
    top, ``execute`` nested in a PAR (no input), ``_run_as_stage`` inside SEQ."""

    #: the composition's span name (``RACE``, ``IF``, ...)
    span_name: str = ""

    async def run(self, input_value: Any = NO_INPUT) -> Any:
        """Run with *input_value* (given to the children on ``"input"``)."""
        if isinstance(input_value, ProcessContext):
            return await self._checkpointed(input_value, NO_INPUT)
        return await self._checkpointed(None, input_value)

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> CompositionResult:
        return await self._checkpointed(ctx, NO_INPUT if input_value is None else input_value)

    async def _run_as_stage(self, ctx: ProcessContext, input_value: Any) -> CompositionResult:
        return await self._checkpointed(ctx, input_value)

    async def execute(self, ctx: ProcessContext) -> ProcessResult[Any]:
        outcome = await self._checkpointed(ctx, NO_INPUT)
        return outcome.as_process_result()

    async def _run_choice(self, ctx: ProcessContext | None, input_value: Any) -> ChoiceResult:
        raise NotImplementedError

    async def _checkpointed(self, ctx: ProcessContext | None, input_value: Any) -> ChoiceResult:
        await anyio.lowlevel.checkpoint()  # every composition run is a checkpoint
        return await self._run_choice(ctx, input_value)

    def _suffix(self) -> str:
        return ".optional()" if self.is_optional else ""


def _child_ctx(p: Process, parent: str, deadline: float | None) -> ProcessContext:
    return ProcessContext(
        p.name, channels=p.channels, parent=parent, placement=p.placement, deadline=deadline
    )


async def _run_child(p: Process, ctx: ProcessContext, input_value: Any) -> ProcessResult[Any]:
    if input_value is NO_INPUT:
        return await p.execute(ctx)
    return await execute_with_input(p, ctx, input_value)


def _own_failure(exc: Exception, name: str, parent: str | None) -> Failure:
    return Failure(exc, process_name=name, parent_process=parent)


# --------------------------------------------------------------------- IF


class IF(_Choice):
    """occam's IF: run the first branch whose predicate holds for the input.

    Each branch is ``(predicate, process)``; a predicate is a bool or a plain
    callable of the input value. The chosen process runs with the input (on its
    ``"input"`` channel) and its result is the IF's. No branch holds and no
    ``otherwise``: the IF fails with :class:`NoBranchError`. A predicate that
    raises is the IF's failure.

    >>> import anyio
    >>> @Process
    ... async def small(ctx: ProcessContext) -> str:
    ...     return "small"
    >>> @Process
    ... async def large(ctx: ProcessContext) -> str:
    ...     return "large"
    >>> route = IF((lambda n: n < 10, small), otherwise=large)
    >>> anyio.run(route.run, 3).value, anyio.run(route.run, 30).value
    ('small', 'large')
    """

    span_name = "IF"

    def __init__(self, *branches: tuple[Predicate, Process], otherwise: Process | None = None) -> None:
        super().__init__(name="IF")
        checked: list[tuple[Predicate, Process]] = []
        for i, branch in enumerate(branches):
            if not isinstance(branch, tuple) or len(branch) != 2:
                raise TypeError(
                    f"IF: branch {i} must be a (predicate, process) pair, "
                    f"got {type(branch).__name__} {branch!r}"
                )
            pred, proc = branch
            pred = _check_callable("IF", f"the predicate of branch {i}", pred, allow_bool=True)
            (proc,) = check_processes(f"IF branch {i}", [proc])
            checked.append((pred, proc))
        self.branches = checked
        if otherwise is not None:
            (otherwise,) = check_processes("IF otherwise", [otherwise])
        self.otherwise = otherwise
        self.result: IFResult | None = None

    def __repr__(self) -> str:
        args = [f"({_name_of(pred)}, {proc!r})" for pred, proc in self.branches]
        if self.otherwise is not None:
            args.append(f"otherwise={self.otherwise!r}")
        return f"IF({', '.join(args)})" + self._suffix()

    async def run(self, input_value: Any = NO_INPUT) -> IFResult:
        """Run the first branch whose predicate holds; returns an :class:`IFResult`."""
        return await super().run(input_value)  # type: ignore[no-any-return]

    async def _run_choice(self, ctx: ProcessContext | None, input_value: Any) -> IFResult:
        parent = ctx.process_name if ctx is not None else _parent_name("IF")
        deadline = ctx.deadline if ctx is not None else None
        value = None if input_value is NO_INPUT else input_value
        attrs = {N.COMPOSITION: "IF", N.CHILDREN: len(self.branches) + (self.otherwise is not None)}
        with _hook.span("IF", attrs) as rec:
            chosen: int | str | None = None
            proc: Process | None = None
            failure: Failure | None = None
            for i, (pred, p) in enumerate(self.branches):
                try:
                    holds = pred if isinstance(pred, bool) else pred(value)
                except Exception as exc:
                    failure = _own_failure(exc, self.name, parent)
                    break
                if holds:
                    chosen, proc = i, p
                    break
            else:
                if self.otherwise is not None:
                    chosen, proc = "otherwise", self.otherwise
                else:
                    error = NoBranchError(
                        f"{self.name}: no branch holds for input {value!r}, "
                        f"and there is no otherwise",
                        if_name=self.name,
                        input_value=value,
                    )
                    failure = _own_failure(error, self.name, parent)
            if proc is None:
                await anyio.lowlevel.checkpoint()
                assert failure is not None
                rec.failed(failure.error, failure.summary)
                return IFResult([], None, failure, None)
            rec.set(N.BRANCH, chosen)
            result = await _run_child(proc, _child_ctx(proc, parent, deadline), input_value)
            if result.is_fail:
                rec.failed(result.failure.error, result.failure.summary)
                return IFResult([result], None, result.failure, chosen)
            return IFResult([result], result._value, None, chosen)


# ------------------------------------------------------------------ WHILE


class WHILE(_Choice):
    """occam's WHILE over a passed value: ``value = input``; while
    ``condition(value)``: ``value = body(value)``.

    The body gets ``value`` on its ``"input"`` channel and its output becomes
    the next value (as between SEQ stages). ``condition`` is a bool or a plain
    callable. With ``max_iterations``, a condition still true after that many
    runs of the body fails the WHILE with :class:`MaxIterationsError`. A failing
    body or a raising condition is the WHILE's failure.
    ``WHILE(False, p)`` is the identity.

    >>> import anyio
    >>> @Process
    ... async def halve(ctx: ProcessContext) -> int:
    ...     return await ctx.recv("input") // 2
    >>> anyio.run(WHILE(lambda n: n > 1, halve).run, 40)
    WHILEResult(is_ok=True, value=1, iterations=5)
    """

    span_name = "WHILE"

    def __init__(
        self,
        condition: Predicate,
        body: Process,
        *,
        max_iterations: int | None = None,
    ) -> None:
        super().__init__(name="WHILE")
        self.condition = _check_callable("WHILE", "condition", condition, allow_bool=True)
        (self.body,) = check_processes("WHILE body", [body])
        if max_iterations is not None:
            max_iterations = _check_count("WHILE", "max_iterations", max_iterations, low=0, high=None)
        self.max_iterations = max_iterations
        self.result: WHILEResult | None = None

    def __repr__(self) -> str:
        args = [_name_of(self.condition), repr(self.body)]
        if self.max_iterations is not None:
            args.append(f"max_iterations={self.max_iterations}")
        return f"WHILE({', '.join(args)})" + self._suffix()

    async def run(self, input_value: Any = NO_INPUT) -> WHILEResult:
        """Loop the body while the condition holds; returns a :class:`WHILEResult`."""
        return await super().run(input_value)  # type: ignore[no-any-return]

    async def _run_choice(self, ctx: ProcessContext | None, input_value: Any) -> WHILEResult:
        parent = ctx.process_name if ctx is not None else _parent_name("WHILE")
        deadline = ctx.deadline if ctx is not None else None
        value = None if input_value is NO_INPUT else input_value
        cond = self.condition
        body = self.body
        limit = self.max_iterations
        attrs = {N.COMPOSITION: "WHILE", N.CHILDREN: 1, N.MAX_ITERATIONS: limit}
        with _hook.span("WHILE", attrs) as rec:
            results: list[ProcessResult[Any]] = []
            failure: Failure | None = None
            while True:
                try:
                    go = cond if isinstance(cond, bool) else cond(value)
                except Exception as exc:
                    failure = _own_failure(exc, self.name, parent)
                    break
                if not go:
                    break
                if limit is not None and len(results) >= limit:
                    error = MaxIterationsError(
                        f"{self.name}: the condition still holds after {limit} iterations "
                        f"(value {value!r})",
                        while_name=self.name,
                        max_iterations=limit,
                        last_value=value,
                    )
                    failure = _own_failure(error, self.name, parent)
                    break
                result = await execute_with_input(body, _child_ctx(body, parent, deadline), value)
                results.append(result)
                if result.is_fail:
                    failure = result.failure
                    break
                value = result._value
            if not results:
                await anyio.lowlevel.checkpoint()
            rec.set(N.ITERATIONS, len(results))
            if failure is not None:
                rec.failed(failure.error, failure.summary)
                return WHILEResult(results, None, failure, len(results))
            return WHILEResult(results, value, None, len(results))


# ------------------------------------------------------ RACE, HEDGE, QUORUM


class _Slot:
    __slots__ = ("process", "ctx", "result", "started", "entered")

    def __init__(self, process: Process, ctx: ProcessContext) -> None:
        self.process = process
        self.ctx = ctx
        self.result: ProcessResult[Any] | None = None
        #: its task was started
        self.started = False
        #: its task began running the process
        self.entered = False


class _Decision:
    """The mutable state of one RACE/HEDGE/QUORUM run, read and written only
    synchronously (between awaits) by the children's tasks."""

    __slots__ = ("winners", "failed", "running", "decided", "impossible", "wake")

    def __init__(self) -> None:
        self.winners: list[int] = []
        self.failed = 0
        self.running = 0
        self.decided = False
        self.impossible = False
        self.wake: anyio.Event | None = None


class _FirstSuccesses(_Choice):
    """The engine of RACE, HEDGE and QUORUM: run the children (HEDGE: staggered)
    until ``k`` have succeeded or ``k`` successes are impossible."""

    procs: list[Process]
    deadline: float | None
    #: HEDGE: seconds between starts (``None``: start every child at once)
    after: float | None = None

    def _attrs(self) -> dict[str, Any]:
        return {}

    async def _decide(
        self,
        ctx: ProcessContext | None,
        input_value: Any,
        k: int,
        after: float | None,
        build: Callable[[list[_Slot], _Decision, Any], _R],
    ) -> _R:
        span_name = self.span_name
        parent = ctx.process_name if ctx is not None else _parent_name(span_name)
        outer_deadline = ctx.deadline if ctx is not None else None
        abs_deadline = None
        if self.deadline is not None:
            abs_deadline = anyio.current_time() + self.deadline
        if outer_deadline is not None:
            abs_deadline = (
                outer_deadline if abs_deadline is None else min(abs_deadline, outer_deadline)
            )
        procs = self.procs
        n = len(procs)
        attrs = {
            N.COMPOSITION: span_name,
            N.CHILDREN: n,
            N.DEADLINE_S: self.deadline,
            **self._attrs(),
        }
        with _hook.span(span_name, attrs) as rec:
            slots = [_Slot(p, _child_ctx(p, parent, abs_deadline)) for p in procs]
            state = _Decision()
            cancelled = anyio.get_cancelled_exc_class()
            async with anyio.create_task_group() as tg:
                if self.deadline is not None:
                    tg.cancel_scope.deadline = anyio.current_time() + self.deadline

                def decide(reason: str) -> None:
                    state.decided = True
                    busy = after is not None  # HEDGE: the launcher may be waiting
                    for other in slots:
                        if other.result is None:
                            other.ctx._cancel_reason = reason
                            busy = busy or other.entered
                    # A task that has not begun yet sees ``decided`` and returns
                    # without running its process: only cancel what is running.
                    if busy:
                        tg.cancel_scope.cancel()

                async def run_child(index: int, slot: _Slot) -> None:
                    if state.decided:
                        return  # lost before it began
                    slot.entered = True
                    try:
                        result = await _run_child(slot.process, slot.ctx, input_value)
                    except cancelled as exc:
                        # A CancelledError the body raised itself (asyncio: it
                        # awaited a cancelled future) is its failure, as in PAR.
                        result = own_cancellation(slot.process, slot.ctx, exc)
                    # From here to the end: no await, so the decision is atomic.
                    slot.result = result
                    state.running -= 1
                    if state.decided:
                        return
                    if result.is_ok:
                        state.winners.append(index)
                        if len(state.winners) == k:
                            decide("lost")
                    else:
                        state.failed += 1
                        if state.failed > n - k:
                            state.impossible = True
                            decide("halt")
                        elif state.running == 0 and state.wake is not None:
                            state.wake.set()

                if after is None:
                    state.running = n
                    for i, slot in enumerate(slots):
                        slot.started = True
                        tg.start_soon(run_child, i, slot)
                else:

                    async def launch() -> None:
                        for i, slot in enumerate(slots):
                            slot.started = True
                            state.running += 1
                            tg.start_soon(run_child, i, slot)
                            if i == n - 1:
                                return
                            state.wake = anyio.Event()
                            with anyio.move_on_after(after):
                                await state.wake.wait()

                    tg.start_soon(launch)
            return build(slots, state, rec)

    def _finish(
        self, slots: list[_Slot], state: _Decision, rec: Any
    ) -> tuple[list[ProcessResult[Any] | None], list[Failure], Failure | None, list[int],
               _Unfinished | None]:
        """The results of the children (``None`` for those that did not finish),
        the real failures, the cause (when no decision by success), the indices
        of the cancelled losers, and what fills in their results."""
        results: list[ProcessResult[Any] | None] = [slot.result for slot in slots]
        unfinished = [i for i, result in enumerate(results) if result is None]
        if state.decided and not state.impossible:  # won
            own = [r._failure for r in results if r is not None and r._failure is not None]
            if not unfinished:
                return results, own, None, [], None
            rec.set(N.CANCELLED_LOSERS, unfinished)
            fill = _Unfinished(slots, unfinished, self.name, state.winners, "lost", _now())
            return results, own, None, unfinished, fill
        if state.impossible:
            reason = "halt"
        else:
            reason = "deadline"
        _Unfinished(slots, unfinished, self.name, state.winners, reason, _now(), self.deadline).fill(
            results
        )
        mine = set(unfinished)
        done: list[ProcessResult[Any]] = results  # type: ignore[assignment]  # all filled
        own = [r.failure for i, r in enumerate(done) if r.is_fail and i not in mine]
        failures = [r.failure for r in done if r.is_fail]
        cause = own[0] if own else (failures[0] if failures else None)
        if cause is not None:
            rec.failed(cause.error, cause.summary)
        return results, failures, cause, [], None

    async def _race(self, ctx: ProcessContext | None, input_value: Any, after: float | None) -> RACEResult:
        return await self._decide(ctx, input_value, 1, after, self._race_result)

    def _race_result(self, slots: list[_Slot], state: _Decision, rec: Any) -> RACEResult:
        results, failures, cause, cancelled, fill = self._finish(slots, state, rec)
        if self.after is not None:  # HEDGE
            started = sum(s.started for s in slots)
            rec.set(N.STARTED, started)
        else:
            started = len(slots)
        if cause is None and state.winners:
            winner = state.winners[0]
            rec.set(N.WINNER, winner)
            value = slots[winner].result._value  # type: ignore[union-attr]
            return RACEResult(results, value, None, failures, winner, cancelled, started, fill)
        if cause is None:  # no child at all cannot happen (n >= 1); keep mypy calm
            raise AssertionError("RACE ended with neither a winner nor a failure")
        return RACEResult(results, None, cause, failures, None, cancelled, started)


class _Unfinished:
    """The children of a RACE/HEDGE/QUORUM that were cancelled or never
    started: :meth:`fill` makes their results (failed with
    :class:`ProcessCancelledError`). A decided RACE fills them in only when its
    ``results`` are first read, so the n - 1 losers of a RACE nobody inspects
    cost nothing but their task."""

    __slots__ = ("slots", "indices", "owner", "winners", "reason", "failed_at", "deadline")

    def __init__(
        self,
        slots: list[_Slot],
        indices: list[int],
        owner: str,
        winners: list[int],
        reason: str,
        failed_at: datetime,
        deadline: float | None = None,
    ) -> None:
        self.slots = slots
        self.indices = indices
        self.owner = owner
        self.winners = winners
        self.reason = reason
        #: when the outcome was decided (the same instant for every loser)
        self.failed_at = failed_at
        self.deadline = deadline

    def fill(self, results: list[ProcessResult[Any] | None]) -> None:
        """Put the result of every unfinished child into *results*."""
        reason = self.reason
        if reason == "lost":
            names = [repr(self.slots[i].process.name) for i in self.winners[:3]]
            if len(self.winners) > 3:
                names.append(f"{len(self.winners) - 3} more")
            why = f"{', '.join(names)} won the {self.owner}"
        elif reason == "halt":
            why = f"the {self.owner} can no longer succeed"
        elif self.deadline is not None:
            why = f"by the deadline of {self.deadline}s"
        else:
            why = "by the deadline of its context"
        for i in self.indices:
            slot = self.slots[i]
            result = slot.result = _cancelled(slot, why, reason, self.failed_at)
            results[i] = result


def _cancelled(slot: _Slot, why: str, reason: str, failed_at: datetime) -> ProcessResult[Any]:
    """The result of a child its RACE/HEDGE/QUORUM cancelled (or never started)."""
    name = slot.process.name
    verb = "was cancelled" if slot.started else "was not started"
    sep = " " if reason == "deadline" else ": "
    ctx = slot.ctx
    return ProcessResult.fail(
        ProcessCancelledError(f"process {name!r} {verb}{sep}{why}", reason=reason, process_name=name),
        process_name=name,
        process_id=ctx._process_id,  # made only if the process ran traced
        parent_process=ctx.parent,
        placement=ctx.placement,
        checkpoint=ctx.last_checkpoint,
        failed_at=failed_at,
    )


def _check_children(owner: str, procs: Sequence[object]) -> list[Process]:
    checked = list(check_processes(owner, procs))
    if not checked:
        raise ValueError(f"{owner}: needs at least one process")
    return checked


class RACE(_FirstSuccesses):
    """Run every child on the same input; the first to **succeed** wins.

    ``result.value`` is the winner's value and ``result.winner`` its index; the
    children still running are cancelled and appear in ``result.results`` as
    failed with :class:`~stbass.ProcessCancelledError` (reason ``"lost"``).
    There is exactly one winner even when several children succeed in the same
    scheduler turn. A failing child does not stop the others; when all fail,
    the RACE fails and ``result.failures`` holds every failure. ``deadline``
    (seconds) cancels everything still running then.

    >>> import anyio
    >>> @Process
    ... async def cache(ctx: ProcessContext) -> str:
    ...     raise KeyError("miss")
    >>> @Process
    ... async def search(ctx: ProcessContext) -> str:
    ...     await anyio.sleep(0.01)
    ...     return "found"
    >>> anyio.run(RACE(cache, search).run)
    RACEResult(is_ok=True, value='found', winner=1)
    """

    span_name = "RACE"

    def __init__(self, *processes: Process, deadline: float | None = None) -> None:
        super().__init__(name="RACE")
        self.procs = _check_children("RACE", processes)
        self.deadline = check_deadline("RACE", deadline)
        self.result: RACEResult | None = None

    def __repr__(self) -> str:
        args = [repr(p) for p in self.procs]
        if self.deadline is not None:
            args.append(f"deadline={self.deadline!r}")
        return f"RACE({', '.join(args)})" + self._suffix()

    async def run(self, input_value: Any = NO_INPUT) -> RACEResult:
        """Race the children; returns a :class:`RACEResult`."""
        return await super().run(input_value)  # type: ignore[no-any-return]

    async def _run_choice(self, ctx: ProcessContext | None, input_value: Any) -> RACEResult:
        return await self._race(ctx, input_value, None)


class HEDGE(_FirstSuccesses):
    """Start ``processes[0]``; every ``after`` seconds with no success yet, start
    the next one; the first success wins, as in :class:`RACE`.

    When every started child has failed, the next one starts at once rather than
    waiting out ``after``. Children never started appear in ``result.results`` as
    cancelled (reason ``"lost"``); ``result.started`` counts the started ones.
    ``HEDGE(p, p, p, after=0.2)`` hedges one process with two copies.

    >>> import anyio
    >>> @Process
    ... async def replica(ctx: ProcessContext) -> str:
    ...     return "answer"
    >>> result = anyio.run(HEDGE(replica, replica, after=0.5).run)
    >>> result, result.started
    (RACEResult(is_ok=True, value='answer', winner=0), 1)
    """

    span_name = "HEDGE"

    def __init__(self, *processes: Process, after: float, deadline: float | None = None) -> None:
        super().__init__(name="HEDGE")
        self.procs = _check_children("HEDGE", processes)
        self.after = _check_after("HEDGE", after)
        self.deadline = check_deadline("HEDGE", deadline)
        self.result: RACEResult | None = None

    def _attrs(self) -> dict[str, Any]:
        return {N.HEDGE_AFTER_S: self.after}

    def __repr__(self) -> str:
        args = [repr(p) for p in self.procs]
        args.append(f"after={self.after!r}")
        if self.deadline is not None:
            args.append(f"deadline={self.deadline!r}")
        return f"HEDGE({', '.join(args)})" + self._suffix()

    async def run(self, input_value: Any = NO_INPUT) -> RACEResult:
        """Hedge the children; returns a :class:`RACEResult`."""
        return await super().run(input_value)  # type: ignore[no-any-return]

    async def _run_choice(self, ctx: ProcessContext | None, input_value: Any) -> RACEResult:
        return await self._race(ctx, input_value, self.after)


class QUORUM(_FirstSuccesses):
    """Succeed as soon as ``k`` children succeed.

    ``result.value`` is the list of their values in completion order and
    ``result.winners`` their indices; the rest are cancelled (reason
    ``"lost"``). QUORUM fails as soon as ``k`` successes are impossible (more
    than ``n - k`` failures), cancelling the rest (reason ``"halt"``).
    ``0 < k <= n`` is checked at construction.

    >>> import anyio
    >>> @Process
    ... async def yes(ctx: ProcessContext) -> bool:
    ...     return True
    >>> @Process
    ... async def broken(ctx: ProcessContext) -> bool:
    ...     raise ConnectionError("replica down")
    >>> anyio.run(QUORUM(2, yes, broken, yes).run)
    QUORUMResult(is_ok=True, value=[True, True], winners=[0, 2])
    """

    span_name = "QUORUM"

    def __init__(self, k: int, *processes: Process, deadline: float | None = None) -> None:
        super().__init__(name="QUORUM")
        self.procs = _check_children("QUORUM", processes)
        self.k = _check_count("QUORUM", "k", k, low=1, high=len(self.procs))
        self.deadline = check_deadline("QUORUM", deadline)
        self.result: QUORUMResult | None = None

    def _attrs(self) -> dict[str, Any]:
        return {N.QUORUM_K: self.k}

    def __repr__(self) -> str:
        args = [str(self.k)] + [repr(p) for p in self.procs]
        if self.deadline is not None:
            args.append(f"deadline={self.deadline!r}")
        return f"QUORUM({', '.join(args)})" + self._suffix()

    async def run(self, input_value: Any = NO_INPUT) -> QUORUMResult:
        """Run until ``k`` children succeed; returns a :class:`QUORUMResult`."""
        return await super().run(input_value)  # type: ignore[no-any-return]

    async def _run_choice(self, ctx: ProcessContext | None, input_value: Any) -> QUORUMResult:
        return await self._decide(ctx, input_value, self.k, None, self._quorum_result)

    def _quorum_result(self, slots: list[_Slot], state: _Decision, rec: Any) -> QUORUMResult:
        results, failures, cause, cancelled, fill = self._finish(slots, state, rec)
        if cause is None and len(state.winners) >= self.k:
            winners = state.winners[: self.k]
            rec.set(N.WINNERS, winners)
            value = [slots[i].result._value for i in winners]  # type: ignore[union-attr]
            return QUORUMResult(results, value, None, failures, winners, cancelled, fill)
        if cause is None:
            raise AssertionError("QUORUM ended with neither k successes nor a failure")
        return QUORUMResult(results, None, cause, failures, list(state.winners), cancelled)
