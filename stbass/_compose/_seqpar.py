"""SEQ and PAR: sequential and parallel composition of processes.

Compositions are values: build one once, run it many times, nest it inside
another (a composition is itself a :class:`~stbass.Process`). ``PAR`` is one
anyio task group; nothing it starts outlives ``run()``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Self, final

import anyio

from .. import _names as N
from .._core import _hook
from .._core import _alt_random
from .._core._chan import Chan, ChannelClosedError
from .._core._hook import CURRENT
from ._deadlock import DONE, NOBODY, NOT_LEAF, NOT_PARKED, Watcher, helper_task
from ._process import Process, ProcessContext, current_context
from ._result import Failure, FailurePolicy, ProcessResult, check_policy


class ProcessCancelledError(Exception):
    """A child was cancelled by its composition: by HALT after a sibling failed, or
    by the composition's deadline. ``reason`` is ``"halt"`` or ``"deadline"``.

    It is the error of the cancelled child's :class:`Failure`:

    >>> import anyio
    >>> @Process
    ... async def fails(ctx: ProcessContext) -> None:
    ...     raise ValueError("boom")
    >>> @Process
    ... async def waits(ctx: ProcessContext) -> None:
    ...     await anyio.sleep_forever()
    >>> result = anyio.run(PAR(fails, waits).run)
    >>> cancelled = result.failures[1].error
    >>> cancelled.reason, cancelled.process_name
    ('halt', 'waits')
    """

    def __init__(self, message: str, *, reason: str, process_name: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.process_name = process_name


def check_processes(owner: str, procs: Iterable[object]) -> tuple[Process, ...]:
    checked = []
    for i, p in enumerate(procs):
        if not isinstance(p, Process):
            hint = ""
            if callable(p):
                hint = " (decorate the async function with @Process)"
            raise TypeError(
                f"{owner}: argument {i} must be a Process, got {type(p).__name__} {p!r}{hint}"
            )
        checked.append(p)
    return tuple(checked)


def check_deadline(owner: str, deadline: object) -> float | None:
    if deadline is None:
        return None
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)):
        raise TypeError(
            f"{owner}: deadline must be a number of seconds, got {type(deadline).__name__}"
        )
    if deadline < 0 or deadline != deadline:
        raise ValueError(f"{owner}: deadline must be a non-negative number, got {deadline!r}")
    return float(deadline)


def _parent_name(owner: str) -> str:
    ctx = current_context()
    return ctx.process_name if ctx is not None else owner


class Composition(Process):
    """Base of SEQ, PAR and the replicators: a process made of processes."""

    on_failure: FailurePolicy
    #: the result of the latest ``async with`` block (``None`` before the first)
    result: Any = None

    async def run(self, ctx: ProcessContext) -> Any:
        raise NotImplementedError

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> CompositionResult:
        raise NotImplementedError

    async def _run_as_stage(self, ctx: ProcessContext, input_value: Any) -> CompositionResult:
        """Run as a stage of a composition that passes *input_value* along (SEQ,
        WHILE, IF, RACE...). PAR and PAR_FOR give it to every child."""
        return await self._run_in(ctx, input_value)

    async def execute(self, ctx: ProcessContext) -> ProcessResult[Any]:
        """Run as a child of another composition: success with the composition's
        value, or fail with its first failure."""
        outcome = await self._run_in(ctx, None)
        return outcome.as_process_result()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Every block runs the composition again (0.1 did): a value can be run
        # many times, and ``result`` holds the outcome of the latest block.
        if exc_type is None:
            self.result = await self._run_in(None, None)


class CompositionResult:
    """Common shape of SEQResult and PARResult."""

    __slots__ = ("results", "failures", "cause", "_optional")

    def __init__(
        self,
        results: Sequence[ProcessResult[Any] | None],
        optional: Sequence[bool],
        cause: Failure | None = None,
    ) -> None:
        kept: list[ProcessResult[Any]] = []
        kept_optional: list[bool] = []
        failures: list[Failure] = []
        for r, o in zip(results, optional):
            if r is not None:
                kept.append(r)
                kept_optional.append(o)
                if r._failure is not None:
                    failures.append(r._failure)
        self.results = kept
        self._optional = kept_optional
        #: the failure that made HALT cancel the others (``None`` if none did)
        self.cause = cause
        if cause is not None and cause in failures:
            # The root cause first: ``failures[0]`` is what users print.
            failures.remove(cause)
            failures.insert(0, cause)
        self.failures: list[Failure] = failures

    @property
    def is_ok(self) -> bool:
        """True when no non-optional child failed."""
        for r, o in zip(self.results, self._optional):
            if r._failure is not None and not o:
                return False
        return True

    @property
    def is_fail(self) -> bool:
        """True when a non-optional child failed; the opposite of :attr:`is_ok`
        (a failed optional child is in :attr:`failures` but does not count).

        >>> import anyio
        >>> @Process
        ... async def fails(ctx: ProcessContext) -> None:
        ...     raise ValueError("boom")
        >>> anyio.run(PAR(fails).run).is_fail
        True
        >>> anyio.run(PAR(fails.optional()).run).is_fail
        False
        """
        return not self.is_ok

    @property
    def successes(self) -> list[ProcessResult[Any]]:
        """The successful results among :attr:`results`, in order.

        >>> import anyio
        >>> @Process
        ... async def one(ctx: ProcessContext) -> int:
        ...     return 1
        >>> @Process
        ... async def fails(ctx: ProcessContext) -> None:
        ...     raise ValueError("boom")
        >>> anyio.run(PAR(one, fails, on_failure=FailurePolicy.COLLECT).run).successes
        [ProcessResult.ok(1)]
        """
        return [r for r in self.results if r.is_ok]

    @property
    def value(self) -> Any:
        """The composition's value (see :attr:`SEQResult.value` and
        :attr:`PARResult.value`).

        >>> import anyio
        >>> @Process
        ... async def one(ctx: ProcessContext) -> int:
        ...     return 1
        >>> anyio.run(SEQ(one).run).value
        1
        """
        raise NotImplementedError

    def as_process_result(self) -> ProcessResult[Any]:
        """This outcome as one :class:`ProcessResult`: a success with :attr:`value`,
        or a failure with the first failure of a non-optional child (what a parent
        composition sees when this one runs nested inside it).

        >>> import anyio
        >>> @Process
        ... async def hello(ctx: ProcessContext) -> str:
        ...     return "hello"
        >>> @Process
        ... async def fails(ctx: ProcessContext) -> None:
        ...     raise ValueError("boom")
        >>> anyio.run(SEQ(hello).run).as_process_result()
        ProcessResult.ok('hello')
        >>> anyio.run(SEQ(hello, fails).run).as_process_result()
        ProcessResult.fail(ValueError('boom'))
        """
        if self.is_ok:
            return ProcessResult.ok(self.value)
        if self.cause is not None:
            return ProcessResult.fail(self.cause)
        first = next(
            r.failure for r, o in zip(self.results, self._optional) if r.is_fail and not o
        )
        return ProcessResult.fail(first)


@final
class SEQResult(CompositionResult):
    """What ``SEQ.run`` returns: ``is_ok``, ``value`` (the last stage's output),
    ``results`` (one per stage run) and ``failures``.

    >>> import anyio
    >>> @Process
    ... async def double(ctx: ProcessContext) -> int:
    ...     return 2 * await ctx.recv("input")
    >>> result = anyio.run(SEQ(double, double).run, 3)
    >>> result
    SEQResult(is_ok=True, value=12, failures=0)
    >>> result.results
    [ProcessResult.ok(6), ProcessResult.ok(12)]
    """

    __slots__ = ("_value",)

    def __init__(
        self, results: Sequence[ProcessResult[Any]], optional: Sequence[bool], value: Any
    ) -> None:
        super().__init__(results, optional)
        self._value = value

    @property
    def value(self) -> Any:
        """The output of the last stage that ran (``None`` if it failed).

        >>> import anyio
        >>> @Process
        ... async def shout(ctx: ProcessContext) -> str:
        ...     return (await ctx.recv("input")).upper()
        >>> anyio.run(SEQ(shout).run, "hi").value
        'HI'
        """
        return self._value

    def __repr__(self) -> str:
        return f"SEQResult(is_ok={self.is_ok}, value={self._value!r}, failures={len(self.failures)})"


@final
class PARResult(CompositionResult):
    """What ``PAR.run`` returns: ``is_ok``, ``results`` in declaration order,
    ``successes``, ``failures`` and ``value`` (the children's values in declaration
    order, ``None`` for a failed child).

    >>> import anyio
    >>> @Process
    ... async def one(ctx: ProcessContext) -> int:
    ...     return 1
    >>> @Process
    ... async def fails(ctx: ProcessContext) -> None:
    ...     raise ValueError("boom")
    >>> result = anyio.run(PAR(one, fails, on_failure=FailurePolicy.COLLECT).run)
    >>> result
    PARResult(is_ok=False, value=[1, None], failures=1)
    >>> result.failures[0].summary
    '[fails] ValueError: boom'
    """

    __slots__ = ("_reduced", "_reduce_failure")

    def __init__(
        self,
        results: Sequence[ProcessResult[Any] | None],
        optional: Sequence[bool],
        cause: Failure | None = None,
    ) -> None:
        super().__init__(results, optional, cause)
        self._reduced: Any = _NOT_REDUCED
        self._reduce_failure: Failure | None = None

    def _apply_reduce(self, reduce: Any, owner: str, ctx: ProcessContext | None) -> None:
        """Fold the children's values with *reduce* (only on success); an exception
        it raises becomes this PAR's failure."""
        if not self.is_ok:
            return
        try:
            self._reduced = reduce(self.value)
        except Exception as exc:
            failure = Failure(
                exc,
                process_name=owner,
                parent_process=ctx.process_name if ctx is not None else None,
            )
            self._reduce_failure = failure
            self.cause = failure
            self.failures.insert(0, failure)

    @property
    def is_ok(self) -> bool:
        """True when no non-optional child failed (and ``reduce``, if any, did not raise)."""
        return super().is_ok and self._reduce_failure is None

    @property
    def value(self) -> Any:
        """The children's values in declaration order, ``None`` for a failed child;
        with ``PAR(..., reduce=fn)``, ``fn`` of that list.

        >>> import anyio
        >>> @Process
        ... async def one(ctx: ProcessContext) -> int:
        ...     return 1
        >>> @Process
        ... async def two(ctx: ProcessContext) -> int:
        ...     return 2
        >>> anyio.run(PAR(two, one).run).value
        [2, 1]
        >>> anyio.run(PAR(two, one, reduce=sum).run).value
        3
        """
        if self._reduced is not _NOT_REDUCED:
            return self._reduced
        return [r._value if r.is_ok else None for r in self.results]

    def __repr__(self) -> str:
        return f"PARResult(is_ok={self.is_ok}, value={self.value!r}, failures={len(self.failures)})"


class _NotReduced:
    """The marker of a PARResult without ``reduce`` (pickles as itself)."""

    __slots__ = ()

    def __reduce__(self) -> str:
        return "_NOT_REDUCED"


_NOT_REDUCED: Any = _NotReduced()


def check_reduce(owner: str, reduce: object) -> Any:
    if reduce is not None and not callable(reduce):
        raise TypeError(
            f"{owner}: reduce must be a callable taking the list of child values, "
            f"got {type(reduce).__name__} {reduce!r}"
        )
    return reduce


# ----------------------------------------------------------------------- SEQ


class SEQ(Composition):
    """Run processes one after another, passing values along.

    Each stage gets an ``"input"`` channel carrying the previous stage's value
    (the first stage gets ``run``'s ``input_value``) and an ``"output"`` channel;
    the last value sent on ``"output"`` wins over the stage's result value.
    A stage need not read its input nor write an output.

    >>> pipeline = SEQ(extract, transform, load)          # doctest: +SKIP
    >>> result = await pipeline.run(input_value="s3://b")  # doctest: +SKIP
    """

    def __init__(self, *procs: Process, on_failure: FailurePolicy = FailurePolicy.HALT) -> None:
        super().__init__(name="SEQ")
        self.procs = list(check_processes("SEQ", procs))
        self.on_failure = check_policy(on_failure, "SEQ")
        self.result: SEQResult | None = None

    def add(self, *procs: Process) -> None:
        """Append stages (before the SEQ runs)."""
        self.procs.extend(check_processes("SEQ.add", procs))

    def __repr__(self) -> str:
        args = [repr(p) for p in self.procs]
        if self.on_failure is not FailurePolicy.HALT:
            args.append(f"on_failure={self.on_failure!r}")
        return f"SEQ({', '.join(args)})" + (".optional()" if self.is_optional else "")

    async def run(self, input_value: Any = None) -> SEQResult:
        """Run the stages in order; returns a :class:`SEQResult`."""
        if isinstance(input_value, ProcessContext):
            return await self._run_in(input_value, None)
        return await self._run_in(None, input_value)

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> SEQResult:
        await anyio.lowlevel.checkpoint()  # every composition run is a checkpoint
        parent = ctx.process_name if ctx is not None else _parent_name("SEQ")
        deadline = ctx.deadline if ctx is not None else None
        watch = ctx.watch if ctx is not None else None
        attrs = {
            N.COMPOSITION: "SEQ",
            N.CHILDREN: len(self.procs),
            N.ON_FAILURE: self.on_failure.value,
        }
        with _hook.span("SEQ", attrs) as rec:
            results: list[ProcessResult[Any]] = []
            value = input_value
            halted = False
            for stage in self.procs:
                if halted:
                    break
                result, value = await run_stage_until(stage, value, parent, deadline, watch)
                results.append(result)
                if result.is_fail:
                    value = None
                    if _past(deadline):
                        break  # the caller's deadline has passed: nothing more runs
                    if not stage.is_optional and self.on_failure is FailurePolicy.HALT:
                        halted = True
            outcome = SEQResult(results, [p.is_optional for p in self.procs], value)
            if not outcome.is_ok:
                rec.failed(outcome.failures[0].error, outcome.failures[0].summary)
            return outcome


def _past(deadline: float | None) -> bool:
    return deadline is not None and anyio.current_time() >= deadline


async def run_stage_until(
    stage: Process, value: Any, parent: str, deadline: float | None,
    watch: Watcher | None = None,
) -> tuple[ProcessResult[Any], Any]:
    """Run one SEQ stage, cancelled at *deadline* (absolute, on anyio's clock):
    a stage still running then is a failure with a ``"deadline"``
    :class:`ProcessCancelledError`."""
    if deadline is None:
        return await _run_stage(stage, value, parent, deadline, watch)
    staged: tuple[ProcessResult[Any], Any] | None = None
    with anyio.CancelScope(deadline=deadline):
        staged = await _run_stage(stage, value, parent, deadline, watch)
    if staged is not None:
        return staged
    name = stage.name
    error = ProcessCancelledError(
        f"process {name!r} was cancelled by the deadline of its context",
        reason="deadline",
        process_name=name,
    )
    return ProcessResult.fail(error, process_name=name, parent_process=parent), None


def own_cancellation(
    process: Process, ctx: ProcessContext, exc: BaseException
) -> ProcessResult[Any]:
    """The result of a PAR child (in a task of its own) out of which the
    cancellation exception *exc* came; re-raises *exc* when it is a real one.

    A cancellation exception that comes out of the child while no enclosing
    scope is cancelled did not come from outside: the body raised it itself
    (on asyncio, by awaiting a cancelled future). It is that child's failure,
    not a cancellation of its siblings or its caller. A real cancellation
    (HALT, a deadline, the caller cancelled) always propagates: the child's
    task is reached only through the task group's cancel scope.

    Only for children in their own task: in the caller's task (a SEQ stage) a
    native ``Task.cancel()`` of the caller shows no cancelled scope either.
    """
    effective = anyio.current_effective_deadline()
    if effective == -math.inf or effective <= anyio.current_time():
        raise exc
    return ProcessResult.fail(
        exc,
        process_name=process.name,
        process_id=ctx.process_id,
        parent_process=ctx.parent,
        placement=ctx.placement,
        checkpoint=ctx.last_checkpoint,
    )


async def _run_stage(
    stage: Process, value: Any, parent: str, deadline: float | None,
    watch: Watcher | None = None,
) -> tuple[ProcessResult[Any], Any]:
    """Run one SEQ stage; returns its result and the value to pass on."""
    ctx = ProcessContext(
        stage.name,
        channels=stage.channels,
        parent=parent,
        placement=stage.placement,
        deadline=deadline,
    )
    if watch is None:
        result = await execute_with_input(stage, ctx, value)
    elif isinstance(stage, Composition):
        watch.declare(ctx)  # its children join the enclosing deadlock watcher
        result = await execute_with_input(stage, ctx, value)
    else:
        running: Any = CURRENT.get()
        watch.delegate(running, 1)  # a process running this SEQ waits for its stages
        watch.declare(ctx)
        watch.enter(ctx)
        try:
            result = await execute_with_input(stage, ctx, value)
        finally:
            watch.leave(ctx)
            watch.delegate(running, -1)
    return result, (result._value if result.is_ok else None)


async def execute_with_input(process: Process, ctx: ProcessContext, value: Any) -> ProcessResult[Any]:
    """Run *process* in *ctx* as a stage that receives *value*.

    A plain process gets an ``"input"`` channel carrying *value* and an
    ``"output"`` channel whose last value replaces its result value (unless it
    already has channels of those names); a composition gets *value* as its
    stage input (so a PAR inside SEQ gives it to every child).
    """
    if isinstance(process, Composition):
        outcome = await process._run_as_stage(ctx, value)
        return outcome.as_process_result()
    channels = ctx.channels
    feed = "input" not in channels
    drain = "output" not in channels
    if feed:
        channels["input"] = Chan(object, name=f"{process.name}.input")
    if drain:
        channels["output"] = Chan(object, name=f"{process.name}.output")
    outputs: list[Any] = []
    if not feed and not drain:
        result = await process.execute(ctx)
    else:
        async with anyio.create_task_group() as tg:
            if feed:
                tg.start_soon(_feed, channels["input"], value)
            if drain:
                tg.start_soon(_drain, channels["output"], outputs)
            result = await process.execute(ctx)
            tg.cancel_scope.cancel()
    if result.is_ok and outputs:
        result = ProcessResult.ok(outputs[-1])
    return result


@helper_task
async def _feed(ch: Chan[Any], value: Any) -> None:
    try:
        await ch.send(value)
    except ChannelClosedError:
        pass


@helper_task
async def _drain(ch: Chan[Any], outputs: list[Any]) -> None:
    try:
        while True:
            outputs.append(await ch.recv())
    except ChannelClosedError:
        pass


# ----------------------------------------------------------------------- PAR


class PAR(Composition):
    """Run processes at the same time, in one task group.

    ``on_failure=HALT`` (default) cancels the others as soon as a non-optional
    child fails; ``COLLECT`` lets every child finish. ``deadline`` (seconds)
    cancels what is still running then; cancelled children appear as failures
    (:class:`ProcessCancelledError`). Cancellation from outside propagates.

    When every child waits on a channel whose other end another waiting child
    holds, the PAR is cancelled and raises :class:`~stbass.DeadlockError`
    naming the cycle (``detect_deadlock=False`` turns this off; see
    docs/testing.md).

    >>> result = await PAR(producer, consumer).run()   # doctest: +SKIP
    """

    span_name = "PAR"

    def __init__(
        self,
        *procs: Process,
        on_failure: FailurePolicy = FailurePolicy.HALT,
        deadline: float | None = None,
        reduce: Callable[[list[Any]], Any] | None = None,
        detect_deadlock: bool = True,
    ) -> None:
        super().__init__(name=self.span_name)
        self.procs = list(check_processes(self.span_name, procs))
        self.on_failure = check_policy(on_failure, self.span_name)
        self.deadline = check_deadline(self.span_name, deadline)
        self.reduce = check_reduce(self.span_name, reduce)
        if not isinstance(detect_deadlock, bool):
            raise TypeError(
                f"{self.span_name}: detect_deadlock must be a bool, "
                f"got {type(detect_deadlock).__name__}"
            )
        self.detect_deadlock = detect_deadlock
        self.result: PARResult | None = None

    def add(self, *procs: Process) -> None:
        """Add children (before the PAR runs)."""
        self.procs.extend(check_processes(f"{self.span_name}.add", procs))

    def __repr__(self) -> str:
        args = [repr(p) for p in self.procs]
        if self.on_failure is not FailurePolicy.HALT:
            args.append(f"on_failure={self.on_failure!r}")
        if self.deadline is not None:
            args.append(f"deadline={self.deadline!r}")
        if self.reduce is not None:
            args.append(f"reduce={getattr(self.reduce, '__name__', None) or repr(self.reduce)}")
        if not self.detect_deadlock:
            args.append("detect_deadlock=False")
        return f"PAR({', '.join(args)})" + (".optional()" if self.is_optional else "")

    async def run(self, ctx: ProcessContext | None = None) -> PARResult:
        """Run every child; returns a :class:`PARResult` once all have finished."""
        return await self._run_in(ctx, None)

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> PARResult:
        return await self._run(ctx, None)

    async def _run_as_stage(self, ctx: ProcessContext, input_value: Any) -> PARResult:
        return await self._run(ctx, (input_value,))

    async def _run(self, ctx: ProcessContext | None, stage_input: tuple[Any] | None) -> PARResult:
        return await run_par(
            self.span_name,
            self.procs,
            self.on_failure,
            self.deadline,
            ctx,
            {},
            reduce=self.reduce,
            stage_input=stage_input,
            detect_deadlock=self.detect_deadlock,
        )


async def run_par(
    span_name: str,
    procs: Sequence[Process],
    on_failure: FailurePolicy,
    deadline: float | None,
    ctx: ProcessContext | None,
    extra_attrs: dict[str, Any],
    runner: Any = None,
    max_parallel: int | None = None,
    *,
    reduce: Callable[[list[Any]], Any] | None = None,
    stage_input: tuple[Any] | None = None,
    detect_deadlock: bool = True,
) -> PARResult:
    """The PAR engine, shared with PAR_FOR and PLACED_PAR.

    *runner*, when given, is ``async runner(index, process, ctx) -> ProcessResult``
    used instead of ``process.execute(ctx)`` (placement). With *max_parallel*,
    that many tasks run the children one after another, taking them in index
    order, so a large PAR_FOR holds *max_parallel* tasks, not one per child.
    *reduce* folds the list of child values into the PAR's value; *stage_input*,
    a 1-tuple, is the value every child receives on ``"input"`` (a PAR used as
    a stage of SEQ or another value-passing composition).

    With *detect_deadlock*, the children run under the deadlock watcher of the
    enclosing composition, or of this one if it is the outermost (see
    ``stbass._compose._deadlock``); this one raises :class:`DeadlockError`.
    """
    await anyio.lowlevel.checkpoint()  # every composition run is a checkpoint
    parent = ctx.process_name if ctx is not None else _parent_name(span_name)
    outer_deadline = ctx.deadline if ctx is not None else None
    abs_deadline = None
    own_first = deadline is not None
    if deadline is not None:
        abs_deadline = anyio.current_time() + deadline
    if outer_deadline is not None:
        own_first = abs_deadline is not None and abs_deadline <= outer_deadline
        abs_deadline = outer_deadline if abs_deadline is None else min(abs_deadline, outer_deadline)
    attrs = {
        N.COMPOSITION: span_name,
        N.CHILDREN: len(procs),
        N.ON_FAILURE: on_failure.value,
        N.DEADLINE_S: deadline,
        **extra_attrs,
    }
    with _hook.span(span_name, attrs) as rec:
        n = len(procs)
        halt = on_failure is FailurePolicy.HALT
        watch: Watcher | None = None
        owner = False
        running = CURRENT.get()
        if detect_deadlock:
            watch = ctx.watch if ctx is not None else None
            if watch is None:
                watch = Watcher(0.0)
                owner = True
        run = _ParRun(procs, parent, abs_deadline, halt, watch, runner, stage_input, rec)

        async with anyio.create_task_group() as tg:
            run.tg = tg
            if abs_deadline is not None:
                # Its own deadline, or the deadline of the context it runs in.
                tg.cancel_scope.deadline = abs_deadline
            if owner:
                assert watch is not None
                watch.outer_deadline = anyio.current_effective_deadline()
                watch.scope = tg.cancel_scope
                watch.recorder = rec
            elif watch is not None and running is not None:
                watch.delegate(running, 1)  # type: ignore[arg-type]

            child = run.child
            if max_parallel is None or max_parallel >= n:
                if _alt_random.EXPLORER is not None:  # explore decides the start order
                    for i in _explored_order(n, _alt_random.EXPLORER):
                        tg.start_soon(child, i)
                else:
                    for i in range(n):
                        tg.start_soon(child, i)
            else:
                indices = iter(range(n))  # shared: each index is taken once
                run.window = max_parallel

                async def worker() -> None:
                    for i in indices:
                        # After HALT or the deadline, start no further child.
                        await anyio.lowlevel.checkpoint_if_cancelled()
                        await child(i)

                for _ in range(max_parallel):
                    tg.start_soon(worker)

        if watch is not None:
            del watch.runs[run]  # (after an exception its children are all done anyway)
            if not owner and running is not None:
                watch.delegate(running, -1)  # type: ignore[arg-type]
        if owner and watch is not None and watch.found is not None:
            raise watch.found
        cause_index = run.halted_by
        results = run.results
        for i, result in enumerate(results):
            if result is None:
                results[i] = _cancelled_result(
                    procs[i], run.ctxs[i] or run.context(i), procs, cause_index,
                    deadline if own_first else None,
                )
        first = results[cause_index] if cause_index is not None else None
        cause = first.failure if first is not None else None
        outcome = PARResult(results, [p.is_optional for p in procs], cause)
        if reduce is not None:
            outcome._apply_reduce(reduce, span_name, ctx)
        if not outcome.is_ok:
            failure = outcome.failures[0]
            rec.failed(failure.error, failure.summary)
        return outcome


class _ParRun:
    """One run of ``run_par``: what its children share, and ``child(index)``,
    the task of one child. (A method of a small object rather than a closure:
    the coroutine of every child waiting to start stays small.)"""

    __slots__ = (
        "procs", "parent", "deadline", "halt", "watch", "runner", "stage_input",
        "traced", "cancelled", "ctxs", "results", "halted_by", "first_position", "tg",
        "done_below", "window",
    )

    def __init__(
        self,
        procs: Sequence[Process],
        parent: str | None,
        deadline: float | None,
        halt: bool,
        watch: Watcher | None,
        runner: Any,
        stage_input: tuple[Any] | None,
        rec: _hook.Recorder,
    ) -> None:
        n = len(procs)
        self.procs = procs
        self.parent = parent
        self.deadline = deadline
        self.halt = halt
        self.watch = watch
        self.runner = runner
        self.stage_input = stage_input
        self.traced = rec is not _hook.NO_RECORDER
        self.cancelled = anyio.get_cancelled_exc_class()
        # Per child, by index: its context, made when the child starts (a PAR
        # of 100,000 children holds no 100,000 contexts before any runs), and
        # its result when it ends.
        self.ctxs: list[ProcessContext | None] = [None] * n
        self.results: list[ProcessResult[Any] | None] = [None] * n
        #: the index of the child whose failure halted the others
        self.halted_by: int | None = None
        #: the children's places in the watcher's program order
        self.first_position = 0
        #: every child below this index has finished (for ``leaves``)
        self.done_below = 0
        #: with max_parallel, how many tasks take the children in index order
        self.window = 0
        if watch is not None:
            self.first_position = watch.reserve(n)
            watch.runs[self] = None  # its leaf children are running processes
        self.tg: Any = None

    def leaves(self) -> list[tuple[ProcessContext, int]]:
        """The children running a leaf process (not a composition), each with
        its place in the deadlock watcher's program order."""
        ctxs, results = self.ctxs, self.results
        n = len(ctxs)
        low = self.done_below
        while low < n and results[low] is not None:  # finished: never runs again
            low += 1
        self.done_below = low
        first = self.first_position
        # With max_parallel, children start in index order, give or take the
        # indices its tasks have taken: past that many not started, none has.
        window = self.window
        unstarted = 0
        found = []
        for index in range(low, n):
            ctx = ctxs[index]
            if ctx is None:
                if results[index] is None:
                    unstarted += 1
                    if unstarted == window:
                        break
                continue
            unstarted = 0
            held = ctx.parked
            if held is not DONE and held is not NOT_LEAF:
                found.append((ctx, first + index))
        return found

    def context(self, index: int) -> ProcessContext:
        p = self.procs[index]
        return ProcessContext(
            p.name,
            channels=p.channels,
            parent=self.parent,
            placement=p.placement,
            deadline=self.deadline,
        )

    async def child(self, index: int) -> None:
        if self.traced:  # the index goes on the child's process span
            _hook.CHILD_INDEX.set(index)
        process = self.procs[index]
        self.ctxs[index] = ctx = self.context(index)
        watch = self.watch
        leaf = False
        if watch is not None:  # under deadlock detection (see _deadlock.Watcher)
            ctx.watch = watch
            ctx.witness = NOBODY
            if isinstance(process, Composition):
                ctx.parked = NOT_LEAF
            else:
                leaf = True
                ctx.parked = NOT_PARKED
        try:
            if self.stage_input is not None:
                result = await execute_with_input(process, ctx, self.stage_input[0])
            elif self.runner is None:
                result = await process.execute(ctx)
            else:
                result = await self.runner(index, process, ctx)
        except self.cancelled as exc:
            result = own_cancellation(process, ctx, exc)
        finally:
            if leaf and watch is not None:
                ctx.parked = DONE
                if watch.parks:  # the others may now be deadlocked without it
                    watch.left(ctx)
        self.results[index] = result
        self.ctxs[index] = None  # only unfinished children's contexts are needed
        if (
            self.halt
            and result._failure is not None
            and not process.is_optional
            and self.halted_by is None
        ):
            self._halt_others(index)

    def _halt_others(self, index: int) -> None:
        self.halted_by = index
        for ctx, result in zip(self.ctxs, self.results):
            if result is None and ctx is not None:
                ctx._cancel_reason = "halt"
        self.tg.cancel_scope.cancel()


def _explored_order(n: int, choose: Callable[[int], int]) -> list[int]:
    """A start order for *n* children, one decision per position (all zeros:
    declaration order)."""
    left = list(range(n))
    return [left.pop(choose(len(left)) if len(left) > 1 else 0) for _ in range(n)]


def _cancelled_result(
    process: Process,
    ctx: ProcessContext,
    procs: Sequence[Process],
    cause_index: int | None,
    deadline: float | None,
) -> ProcessResult[Any]:
    name = process.name
    if cause_index is not None:
        cause = procs[cause_index].name
        error = ProcessCancelledError(
            f"process {name!r} was cancelled by HALT after {cause!r} failed",
            reason="halt",
            process_name=name,
        )
    else:
        which = (
            f"the deadline of {deadline}s" if deadline is not None else "the deadline of its context"
        )
        error = ProcessCancelledError(
            f"process {name!r} was cancelled by {which}",
            reason="deadline",
            process_name=name,
        )
    return ProcessResult.fail(
        error,
        process_name=name,
        process_id=ctx.process_id,
        parent_process=ctx.parent,
        placement=ctx.placement,
        checkpoint=ctx.last_checkpoint,
    )
