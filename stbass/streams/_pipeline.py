"""``pipeline(source, *operators, sink=None)`` and the public operator factories.

A pipeline is a composition: a source feeding the first operator, each operator
feeding the next through a zero-buffer channel, and a sink (a Chan, a function,
or a list in the result). It is a :class:`~stbass.Process`, so it nests in SEQ
and PAR, and nothing it starts outlives ``run()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Sequence
from typing import Any, Literal, final

import anyio

from .. import _names as N
from .. import observe
from ..channel import Chan, ChannelClosedError
from ..process import Process, ProcessContext
from ..result import Failure, ProcessResult
from ._ops import (
    Batch,
    Branch,
    Filter,
    FlatMap,
    ItemError,
    IterPort,
    ListPort,
    Map,
    Merge,
    Operator,
    Port,
    Partition,
    RateLimit,
    Tap,
    _call,
    _report_to,
    check_operators,
    check_source,
    END,
    recv_or_end,
    send_all,
    run_chain,
    single_error,
)


@final
class PipelineResult:
    """What :meth:`Pipeline.run` returns.

    ``value`` is the list of items that reached the end (no sink) or how many
    items the sink took; ``errors`` the :class:`ItemError` kept by operators
    with ``on_error="skip"`` or ``"collect"``; ``failure`` the
    :class:`~stbass.Failure` that stopped the pipeline (``None`` if none did).
    ``is_ok`` is false after a failure or a ``"collect"`` error; ``"skip"``
    errors are reported but leave it true.

    >>> import anyio
    >>> result = anyio.run(pipeline([1, 0, 2], map(lambda x: 1 / x, on_error="skip")).run)
    >>> result.value, result.is_ok, [e.item for e in result.errors]
    ([1.0, 0.5], True, [0])
    """

    __slots__ = ("value", "errors", "failure")

    def __init__(self, value: Any, errors: list[ItemError], failure: Failure | None) -> None:
        self.value = value
        self.errors = errors
        self.failure = failure

    @property
    def is_ok(self) -> bool:
        """True when nothing failed and no ``"collect"`` error was kept."""
        return self.failure is None and not any(e.on_error == "collect" for e in self.errors)

    @property
    def failures(self) -> list[Failure]:
        """The failure that stopped the pipeline, as a list (empty if none)."""
        return [] if self.failure is None else [self.failure]

    def as_process_result(self) -> ProcessResult[Any]:
        """Success with :attr:`value`, or a failure (the stopping failure, or the
        first ``"collect"`` error)."""
        if self.failure is not None:
            return ProcessResult.fail(self.failure)
        for e in self.errors:
            if e.on_error == "collect":
                return ProcessResult.fail(e.error, process_name=e.stage)
        return ProcessResult.ok(self.value)

    def __repr__(self) -> str:
        return (
            f"PipelineResult(is_ok={self.is_ok}, value={self.value!r}, "
            f"errors={len(self.errors)})"
        )


class Pipeline(Process):
    """What :func:`pipeline` returns: a source, operators and a sink, connected
    by zero-buffer channels and run in one task group.

    >>> import anyio
    >>> anyio.run(pipeline(range(4), filter(lambda x: x > 0), map(str)).run).value
    ['1', '2', '3']
    """

    def __init__(
        self,
        source: Any,
        *operators: Operator,
        sink: Chan[Any] | Callable[[Any], Any] | None = None,
        name: str = "pipeline",
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"pipeline: name must be a non-empty str, got {name!r}")
        super().__init__(name=name)
        ops = check_operators("pipeline", operators)
        if isinstance(source, Merge):
            ops.insert(0, source)
            source = ()
        self.source = check_source("pipeline", source)
        self.operators = tuple(ops)
        if sink is not None and not isinstance(sink, Chan) and not callable(sink):
            raise TypeError(
                f"pipeline: sink must be a Chan or a function, got {type(sink).__name__}"
            )
        self.sink = sink

    def __repr__(self) -> str:
        src = repr(self.source) if isinstance(self.source, Chan) else type(self.source).__name__
        args = [src, *(repr(op) for op in self.operators)]
        if self.sink is not None:
            args.append("sink=" + (repr(self.sink) if isinstance(self.sink, Chan) else "..."))
        return f"pipeline({', '.join(args)})"

    async def run(self, ctx: ProcessContext | None = None) -> PipelineResult:
        """Run the pipeline until the source is exhausted (or a stage fails);
        returns a :class:`PipelineResult`."""
        parent = ctx.process_name if ctx is not None else self.name
        source, sink = self.source, self.sink
        items: list[Any] = []
        # With operators, a sync iterable source and a result list are read and
        # written by the end operators directly; otherwise feeder and drainer
        # tasks move the items through channels.
        direct_in = bool(self.operators) and not isinstance(source, (Chan, AsyncIterable))
        direct_out = bool(self.operators) and sink is None
        first: Port = IterPort(source) if direct_in else Chan(object, name=f"{self.name}.0")
        last: Port
        if direct_out:
            last = ListPort(items)
        elif self.operators:
            last = Chan(object, name=f"{self.name}.{len(self.operators)}")
        else:
            last = first
        delivered = 0
        errors: list[ItemError] = []
        stopped: list[Failure] = []
        attrs = {
            N.COMPOSITION: "pipeline",
            N.CHILDREN: len(self.operators),
            N.PIPELINE_STAGES: [op.name for op in self.operators] or None,
        }

        async def feed() -> None:
            try:
                await send_all(source, first.send)
            except ChannelClosedError as exc:
                if not first.closed:
                    stop(ProcessResult.fail(exc, process_name="source", parent_process=parent).failure)
                elif isinstance(source, Chan):
                    source.close()  # the stages stopped reading: tell the writer
            except Exception as exc:
                stop(ProcessResult.fail(exc, process_name="source", parent_process=parent).failure)
            finally:
                first.close()

        async def drain() -> None:
            nonlocal delivered
            try:
                while (item := await recv_or_end(last)) is not END:
                    if sink is None:
                        items.append(item)
                    elif isinstance(sink, Chan):
                        await sink.send(item)
                    else:
                        await _call(sink, item)
                    delivered += 1
            except ChannelClosedError as exc:
                # The sink's reader closed it: it wants no more, which is no failure.
                if not (isinstance(sink, Chan) and sink.closed):
                    stop(ProcessResult.fail(exc, process_name="sink", parent_process=parent).failure)
            except Exception as exc:
                stop(ProcessResult.fail(exc, process_name="sink", parent_process=parent).failure)
            finally:
                last.close()
                if isinstance(sink, Chan):
                    sink.close()

        async def stages() -> None:
            results = await run_chain(self.operators, first, last, self.name)
            for r in results:
                if r is not None and r.is_fail:
                    stop(r.failure)
                    break

        def stop(failure: Failure) -> None:
            if not stopped:
                stopped.append(failure)
                first.close()
                last.close()
                if isinstance(source, Chan):
                    source.close()
                tg.cancel_scope.cancel()

        token = _report_to.set(errors)
        try:
            with observe.span("pipeline", attrs) as rec:
                try:
                    async with anyio.create_task_group() as tg:
                        if not direct_in:
                            tg.start_soon(feed)
                        if self.operators:
                            tg.start_soon(stages)
                        if not direct_out:
                            tg.start_soon(drain)
                except BaseExceptionGroup as group:
                    raise single_error(group) from None
                if isinstance(first, IterPort) and first.error is not None and not stopped:
                    stopped.append(
                        ProcessResult.fail(
                            first.error, process_name="source", parent_process=parent
                        ).failure
                    )
                if direct_out:
                    delivered = len(items)
                failure = stopped[0] if stopped else None
                rec.set(N.PIPELINE_ITEMS, delivered)
                for e in errors:
                    rec.event(
                        N.EVENT_PIPELINE_ITEM_FAILED,
                        {
                            N.PIPELINE_STAGE: e.stage,
                            N.PIPELINE_ON_ERROR: e.on_error,
                            N.PIPELINE_ITEM: _short(e.item),
                            N.ERROR_TYPE: type(e.error).__qualname__,
                        },
                    )
                if failure is not None:
                    rec.failed(failure.error, failure.summary)
        finally:
            _report_to.reset(token)
        return PipelineResult(items if sink is None else delivered, errors, failure)

    async def execute(self, ctx: ProcessContext) -> ProcessResult[Any]:
        """Run as a child of a composition: success with the result's value, or
        fail with what stopped the pipeline."""
        result = await self.run(ctx)
        return result.as_process_result()


def _short(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 120 else text[:119] + "…"


def pipeline(
    source: Any,
    *operators: Operator,
    sink: Chan[Any] | Callable[[Any], Any] | None = None,
    name: str = "pipeline",
) -> Pipeline:
    """Connect *source*, *operators* and *sink* with zero-buffer channels.

    *source* is a Chan (read until closed), an async iterable or an iterable
    (or :func:`merge` of several). *sink* is a Chan (closed at the end) or a
    function called with each item, sync or async; without a sink the result's
    value is the list of items. A slow sink slows the source (back-pressure);
    the end of the source closes every stage in turn; cancelling the run
    cancels every stage.

    >>> import anyio
    >>> async def fetch(n: int) -> str:
    ...     return f"page {n}"
    >>> anyio.run(pipeline(range(3), map(fetch, max_parallel=2), batch(2)).run).value
    [['page 0', 'page 1'], ['page 2']]
    """
    return Pipeline(source, *operators, sink=sink, name=name)


# ------------------------------------------------------------------ operators


def map(  # noqa: A001 - the stream operator's name
    fn: Callable[[Any], Any],
    max_parallel: int = 1,
    ordered: bool = True,
    *,
    name: str | None = None,
    on_error: Literal["halt", "skip", "collect"] = "halt",
) -> Map:
    """An operator sending ``fn(item)`` for each item; *fn* may be sync or async.

    ``max_parallel=k`` runs up to *k* calls at once; with ``ordered=True`` the
    results leave in input order (at most *k* items held), with
    ``ordered=False`` as they finish.

    >>> import anyio
    >>> async def double(x: int) -> int:
    ...     return 2 * x
    >>> anyio.run(pipeline(range(5), map(double, max_parallel=3)).run).value
    [0, 2, 4, 6, 8]
    """
    return Map(fn, max_parallel=max_parallel, ordered=ordered, name=name, on_error=on_error)


def filter(  # noqa: A001
    pred: Callable[[Any], Any], *, name: str | None = None, on_error: Literal["halt", "skip", "collect"] = "halt"
) -> Filter:
    """An operator passing on the items for which ``pred(item)`` is true.

    >>> import anyio
    >>> anyio.run(pipeline(range(6), filter(lambda x: x % 2)).run).value
    [1, 3, 5]
    """
    return Filter(pred, name=name, on_error=on_error)


def flat_map(
    fn: Callable[[Any], Any], *, name: str | None = None, on_error: Literal["halt", "skip", "collect"] = "halt"
) -> FlatMap:
    """An operator sending every item of ``fn(item)`` (an iterable or an async
    iterable, or an awaitable of one).

    >>> import anyio
    >>> anyio.run(pipeline(["a b", "c"], flat_map(str.split)).run).value
    ['a', 'b', 'c']
    """
    return FlatMap(fn, name=name, on_error=on_error)


def tap(fn: Callable[[Any], Any], *, name: str | None = None, on_error: Literal["halt", "skip", "collect"] = "halt") -> Tap:
    """An operator calling ``fn(item)`` for its side effect and passing the item on.

    >>> import anyio
    >>> seen = []
    >>> anyio.run(pipeline([1, 2], tap(seen.append)).run).value, seen
    ([1, 2], [1, 2])
    """
    return Tap(fn, name=name, on_error=on_error)


def batch(n: int, timeout: float | None = None, *, name: str | None = None) -> Batch:
    """An operator sending lists of up to *n* items; with *timeout* (seconds) a
    partial batch leaves that long after its first item arrived. The last batch
    may be short.

    >>> import anyio
    >>> anyio.run(pipeline(range(5), batch(2)).run).value
    [[0, 1], [2, 3], [4]]
    """
    return Batch(n, timeout=timeout, name=name)


def rate_limit(per_second: float, burst: int = 1, *, name: str | None = None) -> RateLimit:
    """An operator passing at most *per_second* items per second on average,
    with bursts of up to *burst* items (a token bucket on anyio's clock).

    >>> import anyio
    >>> anyio.run(pipeline(range(3), rate_limit(1000, burst=3)).run).value
    [0, 1, 2]
    """
    return RateLimit(per_second, burst=burst, name=name)


def partition(
    key: Callable[[Any], Any],
    n: int | None = None,
    *operators: Operator,
    branches: Sequence[Branch | Chan[Any]] | dict[Any, Branch | Chan[Any]] | None = None,
    name: str | None = None,
) -> Partition:
    """Fan out by key.

    ``partition(key, n, *operators)``: *n* lanes, each running its own copy of
    *operators*, whose outputs are merged (in arrival order). Items with equal
    keys go to the same lane, so they keep their order; an int key picks lane
    ``key % n``.

    ``partition(key, branches=[...])``: one lane per :func:`branch`, each with
    its own operators and its own sink (a Chan, consumed separately, or a
    function), or none (its items join the partition's output). With a list,
    ``key(item)`` picks the branch as above; with a dict, ``key(item)`` is the
    branch's key (a key that matches no branch fails the partition). A Chan
    stands for ``branch(sink=chan)``. Every branch's sink is closed at the end.

    >>> import anyio
    >>> items = anyio.run(pipeline(range(6), partition(lambda x: x % 2, 2, map(str))).run).value
    >>> sorted(items)
    ['0', '1', '2', '3', '4', '5']
    >>> odd = []
    >>> routed = partition(lambda x: "odd" if x % 2 else "even",
    ...                    branches={"even": branch(map(str)), "odd": branch(sink=odd.append)})
    >>> anyio.run(pipeline(range(6), routed).run).value, odd
    (['0', '2', '4'], [1, 3, 5])
    """
    return Partition(key, n, operators, branches=branches, name=name)


def branch(
    *operators: Operator,
    sink: Chan[Any] | Callable[[Any], Any] | None = None,
    buffer: int = 0,
) -> Branch:
    """One branch of :func:`partition`: *operators* run on the items sent to
    this branch, then *sink* takes them (a Chan, closed at the end, or a
    function, sync or async); without a sink they join the partition's output.

    Each branch has its own back-pressure: the dispatcher waits while the
    branch an item needs is busy, after up to *buffer* items wait for it
    (0: none, so a slow branch holds up the dispatcher at once).

    >>> branch(map(str), sink=print, buffer=8)
    branch(map(str), sink=print, buffer=8)
    """
    return Branch(*operators, sink=sink, buffer=buffer)


def merge(*sources: Any, name: str | None = None) -> Merge:
    """Fan in: pass on the upstream items and those of each source (a Chan, an
    async iterable or an iterable) in arrival order. As the first argument of
    :func:`pipeline` it merges the sources alone.

    >>> import anyio
    >>> sorted(anyio.run(pipeline(merge([1, 2], [3])).run).value)
    [1, 2, 3]
    """
    return Merge(*sources, name=name)

