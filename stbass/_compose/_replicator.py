"""Replicators: ``PAR_FOR`` and ``SEQ_FOR`` run one body *count* times.

occam's replicated ``PAR i = 0 FOR n`` and ``SEQ i = 0 FOR n``. The body is a
factory: any callable ``body(index, ctx)`` returning an awaitable (an
``async def``, or a ``lambda i, ctx: worker(i, items[i], ctx)`` as in 0.1);
each replica runs as its own process named ``<body>[<index>]`` (so it gets its
own ``process <body>[i]`` span and its failures name the index). ``PAR_FOR`` runs on the PAR engine (one task group,
HALT/COLLECT, deadline) with an optional ``max_parallel`` bound: that many
tasks take the replicas in index order; ``SEQ_FOR`` runs the replicas one after
another like ``SEQ``, each replica seeing an ``"input"`` channel with the
previous replica's value.

Replicators are values: build one once, run it many times (a callable *count*
is evaluated at every run), nest it in SEQ/PAR or inside another replicator's
body.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio

from .. import _names as N
from .._core import _hook
from ._seqpar import (
    Composition,
    CompositionResult,
    PARResult,
    SEQResult,
    _parent_name,
    run_stage_until,
    check_deadline,
    check_reduce,
    run_par,
)
from ._process import Process, ProcessContext
from ._result import FailurePolicy, ProcessResult, check_policy

#: any callable ``factory(index, ctx)`` returning an awaitable of a
#: ``ProcessResult`` (a plain value means success)
Factory = Callable[[int, ProcessContext], Awaitable[Any]]
#: an ``int``, or a zero-argument callable returning one (evaluated at each run)
Count = int | Callable[[], Any]

_PAR_FOR: Final = "PAR_FOR"
_SEQ_FOR: Final = "SEQ_FOR"


def _check_count(owner: str, count: object) -> Count:
    if isinstance(count, bool):
        raise TypeError(f"{owner}: count must be an int or a callable, got bool {count!r}")
    if isinstance(count, int):
        if count < 0:
            raise ValueError(f"{owner}: count must be >= 0, got {count}")
        return count
    if callable(count):
        return count
    raise TypeError(
        f"{owner}: count must be an int or a zero-argument callable, "
        f"got {type(count).__name__} {count!r}"
    )


def _check_factory(owner: str, factory: object) -> Factory:
    if isinstance(factory, Process):
        raise TypeError(
            f"{owner}: factory must be a callable factory(index, ctx) returning an "
            f"awaitable, got the Process {factory!r} "
            f"(wrap it: lambda i, ctx: proc.execute(ctx))"
        )
    if not callable(factory):
        raise TypeError(
            f"{owner}: factory must be a callable factory(index, ctx) returning an "
            f"awaitable, got {type(factory).__name__} {factory!r}"
        )
    return factory


def _check_max_parallel(owner: str, max_parallel: object) -> int | None:
    if max_parallel is None:
        return None
    if isinstance(max_parallel, bool) or not isinstance(max_parallel, int):
        raise TypeError(
            f"{owner}: max_parallel must be a positive int or None, "
            f"got {type(max_parallel).__name__} {max_parallel!r}"
        )
    if max_parallel < 1:
        raise ValueError(f"{owner}: max_parallel must be a positive int, got {max_parallel}")
    return max_parallel


def _callable_name(fn: object) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


def _factory_name(factory: Factory, name: str | None) -> str:
    if name is not None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"replicator name must be a non-empty str, got {name!r}")
        return name
    found = getattr(factory, "__name__", None)
    if not found or found == "<lambda>":
        return "body"
    return str(found)


#: the channels of every replica: none (shared, never mutated)
_NO_CHANNELS: dict[str, Any] = {}


class _Replica(Process):
    """Replica *index* of a replicator body: runs ``factory(index, ctx)``."""

    __slots__ = ("_factory", "index")

    def __init__(self, factory: Factory, index: int, base: str) -> None:
        # One per replica per run, so skip Process.__init__'s argument checks:
        # the replicator checked the factory and the name once.
        self._fn = None
        self.name = f"{base}[{index}]"
        self.placement = None
        self.is_optional = False
        self.channels = _NO_CHANNELS  # (``with_channels`` copies before adding)
        self._factory = factory
        self.index = index

    async def run(self, ctx: ProcessContext) -> Any:
        outcome = await self._body(ctx)
        if isinstance(outcome, CompositionResult):
            # ``return await PAR_FOR(...).run(ctx)`` inside a body: keep its failure.
            return outcome.as_process_result()
        return outcome

    def _body(self, ctx: ProcessContext) -> Awaitable[Any]:
        # ``execute`` awaits the factory's awaitable itself (no ``run`` frame
        # per replica) and hands the outcome to ``_outcome`` below.
        awaitable = self._factory(self.index, ctx)
        if not inspect.isawaitable(awaitable):
            raise TypeError(
                f"factory {_callable_name(self._factory)!r} must return an awaitable "
                f"(a coroutine), returned {type(awaitable).__name__} {awaitable!r}"
            )
        return awaitable

    def _outcome(
        self, outcome: Any, ctx: ProcessContext, started: float, rec: Any
    ) -> ProcessResult[Any]:
        if isinstance(outcome, CompositionResult):
            outcome = outcome.as_process_result()
        return super()._outcome(outcome, ctx, started, rec)

    def __repr__(self) -> str:
        return f"{self.name}"


class _Replicator(Composition):
    """What PAR_FOR and SEQ_FOR share: the count, the factory and the replicas."""

    span_name: str = ""

    def __init__(
        self, count: Count, factory: Factory, on_failure: FailurePolicy, name: str | None
    ) -> None:
        owner = self.span_name
        super().__init__(name=owner)
        self.count: Count = _check_count(owner, count)
        self.factory: Factory = _check_factory(owner, factory)
        self.on_failure = check_policy(on_failure, owner)
        self.body_name = _factory_name(self.factory, name)

    async def resolve_count(self) -> int:
        """The number of replicas for this run (calls a callable *count*)."""
        count = self.count
        if isinstance(count, int):
            await anyio.lowlevel.checkpoint()
            return count
        value = count()
        if inspect.isawaitable(value):
            value = await value
        else:
            await anyio.lowlevel.checkpoint()
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(
                f"{self.span_name}: the count callable {getattr(count, '__name__', count)!r} "
                f"must return an int, got {type(value).__name__} {value!r}"
            )
        if value < 0:
            raise ValueError(
                f"{self.span_name}: the count callable "
                f"{getattr(count, '__name__', count)!r} returned {value}; it must be >= 0"
            )
        return value

    def replicas(self, count: int) -> list[Process]:
        """The processes of one run: ``<body>[0]`` ... ``<body>[count-1]``."""
        return [_Replica(self.factory, i, self.body_name) for i in range(count)]

    async def count_or_failure(self, ctx: ProcessContext | None) -> int | ProcessResult[Any]:
        """The count of this run, or the failed result of a count callable that
        raised or returned a bad value: a process never raises at its caller, so
        that failure is a result (of this replicator, or of a sibling's parent)."""
        try:
            return await self.resolve_count()
        except Exception as exc:
            return ProcessResult.fail(
                exc,
                process_name=self.name,
                parent_process=ctx.process_name if ctx is not None else None,
            )

    def _repr_args(self) -> list[str]:
        count = self.count
        args = [
            repr(count) if isinstance(count, int) else getattr(count, "__name__", repr(count)),
            getattr(self.factory, "__name__", repr(self.factory)),
        ]
        if self.on_failure is not FailurePolicy.HALT:
            args.append(f"on_failure={self.on_failure!r}")
        return args

    def __repr__(self) -> str:
        text = f"{self.span_name}({', '.join(self._repr_args())})"
        return text + (".optional()" if self.is_optional else "")


class PAR_FOR(_Replicator):
    """Run ``factory(i, ctx)`` for ``i`` in ``range(count)`` at the same time.

    ``count`` is an int or a zero-argument callable evaluated at each run;
    ``factory`` is any callable ``body(index, ctx)`` returning an awaitable of a
    ``ProcessResult`` (a plain value means success): an ``async def``, or a
    ``lambda i, ctx: worker(i, items[i], ctx)``. Results come back in index order in a
    :class:`~stbass.PARResult`. ``on_failure`` and ``deadline`` behave as in
    :class:`~stbass.PAR`; ``max_parallel`` bounds how many replicas run at once
    (the others wait for a slot, and do not start their span until they get one;
    replicas take slots in index order, and only ``max_parallel`` tasks run them).
    ``detect_deadlock=False`` turns deadlock detection off, as for a ``PAR``
    (worth it for a large pool fed from outside the composition, where every
    park and every finish re-runs the check).

    >>> async def research(i: int, ctx: ProcessContext) -> ProcessResult:
    ...     return ProcessResult.ok(await ask_model(TOPICS[i]))       # doctest: +SKIP
    >>> result = await PAR_FOR(len(TOPICS), research, max_parallel=4,
    ...                        deadline=30).run()                      # doctest: +SKIP
    >>> result.value        # one entry per topic, in index order      # doctest: +SKIP
    """

    span_name = _PAR_FOR

    def __init__(
        self,
        count: Count,
        factory: Factory,
        on_failure: FailurePolicy = FailurePolicy.HALT,
        deadline: float | None = None,
        max_parallel: int | None = None,
        *,
        name: str | None = None,
        reduce: Callable[[list[Any]], Any] | None = None,
        detect_deadlock: bool = True,
    ) -> None:
        super().__init__(count, factory, on_failure, name)
        self.deadline = check_deadline(_PAR_FOR, deadline)
        self.max_parallel = _check_max_parallel(_PAR_FOR, max_parallel)
        self.reduce = check_reduce(_PAR_FOR, reduce)
        if not isinstance(detect_deadlock, bool):
            raise TypeError(
                f"{_PAR_FOR}: detect_deadlock must be a bool, "
                f"got {type(detect_deadlock).__name__}"
            )
        self.detect_deadlock = detect_deadlock
        self.result: PARResult | None = None

    def _repr_args(self) -> list[str]:
        args = super()._repr_args()
        if self.deadline is not None:
            args.append(f"deadline={self.deadline!r}")
        if self.max_parallel is not None:
            args.append(f"max_parallel={self.max_parallel!r}")
        if self.reduce is not None:
            args.append(f"reduce={getattr(self.reduce, '__name__', None) or repr(self.reduce)}")
        if not self.detect_deadlock:
            args.append("detect_deadlock=False")
        return args

    async def run(self, ctx: ProcessContext | None = None) -> PARResult:
        """Run every replica; returns a :class:`~stbass.PARResult` in index order."""
        return await self._run_in(ctx, None)

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> PARResult:
        return await self._run(ctx, None)

    async def _run_as_stage(self, ctx: ProcessContext, input_value: Any) -> PARResult:
        return await self._run(ctx, (input_value,))

    async def _run(self, ctx: ProcessContext | None, stage_input: tuple[Any] | None) -> PARResult:
        count = await self.count_or_failure(ctx)
        if isinstance(count, ProcessResult):
            return PARResult([count], [False])
        return await run_par(
            _PAR_FOR,
            self.replicas(count),
            self.on_failure,
            self.deadline,
            ctx,
            {N.MAX_PARALLEL: self.max_parallel},
            max_parallel=self.max_parallel,
            reduce=self.reduce,
            stage_input=stage_input,
            detect_deadlock=self.detect_deadlock,
        )


class SEQ_FOR(_Replicator):
    """Run ``factory(i, ctx)`` for ``i`` in ``range(count)``, one after another.

    Like ``SEQ`` of the replicas: replica ``i`` sees an ``"input"`` channel
    carrying replica ``i-1``'s value (the first sees ``run``'s ``input_value``)
    and may send its own value on ``"output"``; bodies that ignore both are
    simply independent steps. ``value`` is the last replica's value; ``results``
    are in index order. HALT stops at the first failure; COLLECT runs the rest
    (the replica after a failure gets input ``None``).

    >>> async def step(i: int, ctx: ProcessContext) -> int:
    ...     previous = await ctx.recv("input")
    ...     return (previous or 0) + i
    >>> result = await SEQ_FOR(4, step).run()          # doctest: +SKIP
    >>> result.value                                    # 0 + 1 + 2 + 3 # doctest: +SKIP
    6
    """

    span_name = _SEQ_FOR

    def __init__(
        self,
        count: Count,
        factory: Factory,
        on_failure: FailurePolicy = FailurePolicy.HALT,
        *,
        name: str | None = None,
    ) -> None:
        super().__init__(count, factory, on_failure, name)
        self.result: SEQResult | None = None

    async def run(self, input_value: Any = None) -> SEQResult:
        """Run the replicas in order; returns a :class:`~stbass.SEQResult`."""
        if isinstance(input_value, ProcessContext):
            return await self._run_in(input_value, None)
        return await self._run_in(None, input_value)

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> SEQResult:
        await anyio.lowlevel.checkpoint()  # every composition run is a checkpoint
        count = await self.count_or_failure(ctx)
        if isinstance(count, ProcessResult):
            return SEQResult([count], [False], None)
        parent = ctx.process_name if ctx is not None else _parent_name(_SEQ_FOR)
        deadline = ctx.deadline if ctx is not None else None
        attrs = {
            N.COMPOSITION: _SEQ_FOR,
            N.CHILDREN: count,
            N.ON_FAILURE: self.on_failure.value,
        }
        with _hook.span(_SEQ_FOR, attrs) as rec:
            results: list[ProcessResult[Any]] = []
            replicas = self.replicas(count)
            value = input_value
            for replica in replicas:
                result, value = await run_stage_until(
                    replica, value, parent, deadline, ctx.watch if ctx is not None else None
                )
                results.append(result)
                if result.is_fail:
                    value = None
                    if self.on_failure is FailurePolicy.HALT or (
                        deadline is not None and anyio.current_time() >= deadline
                    ):
                        break
            outcome = SEQResult(results, [False] * len(results), value)
            if not outcome.is_ok:
                rec.failed(outcome.failures[0].error, outcome.failures[0].summary)
            return outcome
