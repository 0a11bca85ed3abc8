"""Stream operators: processes that read items on ``"input"`` and write on ``"output"``.

Every operator ends by closing its output channel, so the end of a stream runs
from the source to the sink; an operator whose output was closed under it closes
its input, so an early stop runs back towards the source. Channels are
zero-buffer: an operator holds at most what its own work needs (``max_parallel``
items for :func:`map`, one batch for :func:`batch`), so a slow stage slows the
stages before it.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections import deque
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from typing import Any, Literal, Protocol, final

import anyio
import anyio.abc
import anyio.lowlevel

from ..channel import Chan, ChannelClosedError
from ..process import Process, ProcessContext

OnError = Literal["halt", "skip", "collect"]
_ON_ERROR = ("halt", "skip", "collect")


@final
@dataclasses.dataclass(frozen=True)
class ItemError:
    """An item an operator failed on, kept because the operator's ``on_error`` is
    ``"skip"`` or ``"collect"``: the operator's name, the item, the error and
    the policy.

    >>> ItemError("parse", "<html", ValueError("unclosed tag"), "skip").summary
    "[parse] ValueError: unclosed tag (item '<html', skipped)"
    """

    stage: str
    item: Any
    error: BaseException
    on_error: Literal["halt", "skip", "collect"]

    @property
    def summary(self) -> str:
        """``[stage] ErrorType: message (item ..., skipped|collected)``."""
        text = repr(self.item)
        if len(text) > 60:
            text = text[:59] + "…"
        done = "skipped" if self.on_error == "skip" else "collected"
        return f"[{self.stage}] {type(self.error).__name__}: {self.error} (item {text}, {done})"


class Port(Protocol):
    """What an operator reads from and writes to: a :class:`~stbass.Chan`, or
    one of a pipeline's end points (its iterable source, its result list)."""

    @property
    def closed(self) -> bool: ...

    async def recv(self) -> Any: ...

    async def send(self, value: Any, /) -> None: ...

    def close(self) -> None: ...


class IterPort:
    """A pipeline's sync iterable source, read by the first operator directly
    (one checkpoint per item instead of a rendezvous with a feeder task)."""

    __slots__ = ("_it", "closed", "error")

    def __init__(self, iterable: Iterable[Any]) -> None:
        self._it = iter(iterable)
        self.closed = False
        #: what the iterator raised, if it did (the pipeline reports it)
        self.error: Exception | None = None

    async def recv(self) -> Any:
        await anyio.lowlevel.checkpoint()
        if not self.closed:
            try:
                return next(self._it)
            except StopIteration:
                pass
            except Exception as exc:
                self.error = exc
            self.closed = True
        raise ChannelClosedError("the pipeline's source is exhausted", channel="source")

    async def send(self, value: Any, /) -> None:  # pragma: no cover - never written to
        raise TypeError("a pipeline source is read-only")

    def close(self) -> None:
        self.closed = True


class ListPort:
    """A pipeline's result list, written by the last operator directly."""

    __slots__ = ("items", "closed")

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.closed = False

    async def recv(self) -> Any:  # pragma: no cover - never read from
        raise TypeError("a pipeline's result list is write-only")

    async def send(self, value: Any, /) -> None:
        await anyio.lowlevel.checkpoint()
        if self.closed:
            raise ChannelClosedError("the pipeline has stopped", channel="result")
        self.items.append(value)

    def close(self) -> None:
        self.closed = True


class StageContext(ProcessContext):
    """The context of an operator inside a pipeline: its two ports."""

    __slots__ = ("ports",)

    def __init__(self, name: str, parent: str, inp: Port, out: Port) -> None:
        super().__init__(name, parent=parent)
        self.ports = (inp, out)


# Where the operators of a running pipeline report failed items.
_report_to: ContextVar[list[ItemError] | None] = ContextVar("stbass_stream_errors", default=None)


async def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    value = fn(item)
    if inspect.isawaitable(value):
        value = await value
    return value


def _check_fn(owner: str, fn: object, what: str = "fn") -> Callable[[Any], Any]:
    if not callable(fn):
        raise TypeError(f"{owner}: {what} must be callable, got {type(fn).__name__}")
    return fn


def _check_on_error(owner: str, on_error: object) -> OnError:
    if on_error not in _ON_ERROR:
        raise ValueError(f"{owner}: on_error must be 'halt', 'skip' or 'collect', got {on_error!r}")
    return on_error  # type: ignore[return-value]


def _check_count(owner: str, what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {what} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner}: {what} must be at least 1, got {value}")
    return value


def _check_seconds(owner: str, what: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner}: {what} must be a number, got {type(value).__name__}")
    if not value > 0 or math.isinf(value):
        raise ValueError(f"{owner}: {what} must be a positive number, got {value!r}")
    return float(value)


class Operator(Process):
    """Base of the stream operators: a process between an ``"input"`` and an
    ``"output"`` channel. Its value is the list of :class:`ItemError` it kept.

    Operators are values: one can run in several pipelines, or several lanes of
    a :func:`partition`, at once. Outside a pipeline, bind the channels::

        PAR(source, map(parse).with_channels(input=raw, output=docs), sink)
    """

    kind = "operator"

    def __init__(self, *, name: str | None = None, on_error: Literal["halt", "skip", "collect"] = "halt") -> None:
        super().__init__(name=name if name is not None else self.kind)
        self.on_error = _check_on_error(self.kind, on_error)

    async def run(self, ctx: ProcessContext) -> list[ItemError]:
        if isinstance(ctx, StageContext):
            inp, out = ctx.ports
        else:
            inp, out = ctx.get_channel("input"), ctx.get_channel("output")
        errors: list[ItemError] = []
        try:
            try:
                await self.pump(inp, out, errors)
            except BaseExceptionGroup as group:
                raise single_error(group) from None
        except ChannelClosedError:
            # The output was closed by a stage further down: stop reading.
            if not out.closed:
                raise
            inp.close()
        finally:
            out.close()
        return errors

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        """Move items from *inp* to *out* until *inp* is closed."""
        raise NotImplementedError

    def failed(self, item: Any, error: Exception, errors: list[ItemError]) -> None:
        """Keep (or re-raise, under ``on_error="halt"``) the failure on *item*."""
        if self.on_error == "halt":
            raise error
        kept = ItemError(self.name, item, error, self.on_error)
        errors.append(kept)
        shared = _report_to.get()
        if shared is not None:
            shared.append(kept)

    def _args(self) -> list[str]:
        return []

    def __repr__(self) -> str:
        args = self._args()
        if self.name != self.kind:
            args.append(f"name={self.name!r}")
        if self.on_error != "halt":
            args.append(f"on_error={self.on_error!r}")
        return f"{self.kind}({', '.join(args)})"


def _fn_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", type(fn).__name__)


class _Slot:
    __slots__ = ("item", "value", "error", "done")

    def __init__(self, item: Any) -> None:
        self.item = item
        self.value: Any = None
        self.error: Exception | None = None
        self.done = False


@final
class Map(Operator):
    """What :func:`map` returns (an :class:`Operator`).

    >>> Map(str, max_parallel=4)
    map(str, max_parallel=4)
    """

    kind = "map"

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        max_parallel: int = 1,
        ordered: bool = True,
        name: str | None = None,
        on_error: Literal["halt", "skip", "collect"] = "halt",
    ) -> None:
        super().__init__(name=name, on_error=on_error)
        self.fn = _check_fn("map", fn)
        self.max_parallel = _check_count("map", "max_parallel", max_parallel)
        if not isinstance(ordered, bool):
            raise TypeError(f"map: ordered must be a bool, got {type(ordered).__name__}")
        self.ordered = ordered

    def _args(self) -> list[str]:
        args = [_fn_name(self.fn)]
        if self.max_parallel != 1:
            args.append(f"max_parallel={self.max_parallel}")
        if not self.ordered:
            args.append("ordered=False")
        return args

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        fn = self.fn
        if self.max_parallel == 1:
            while (item := await recv_or_end(inp)) is not END:
                try:
                    value = await _call(fn, item)
                except Exception as exc:
                    self.failed(item, exc, errors)
                    continue
                await out.send(value)
            return
        if self.ordered:
            await self._ordered(inp, out, errors)
        else:
            await self._unordered(inp, out, errors)

    async def _ordered(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        # Up to k items are between "read" and "sent" (in ``pending``, input
        # order); the emitter sends the head as soon as its result is in.
        fn, k, halt = self.fn, self.max_parallel, self.on_error == "halt"
        pending: deque[_Slot] = deque()
        wake: list[anyio.Event | None] = [None, None]  # [emitter, reader]
        read_all = False

        def nudge(i: int) -> None:
            event = wake[i]
            if event is not None:
                wake[i] = None
                event.set()

        async def work(slot: _Slot) -> None:
            try:
                slot.value = await _call(fn, slot.item)
            except Exception as exc:
                if halt:
                    raise
                slot.error = exc
            slot.done = True
            if pending and pending[0] is slot:
                nudge(0)

        async def emit() -> None:
            while True:
                if pending and pending[0].done:
                    slot = pending[0]
                    if slot.error is not None:
                        self.failed(slot.item, slot.error, errors)
                    else:
                        await out.send(slot.value)
                    pending.popleft()  # only now: the window holds what is not yet sent
                    nudge(1)
                elif not pending and read_all:
                    return
                else:
                    event = wake[0] = anyio.Event()
                    await event.wait()

        async with anyio.create_task_group() as tg:
            tg.start_soon(emit)
            while True:
                while len(pending) >= k:  # wait for room before taking an item
                    event = wake[1] = anyio.Event()
                    await event.wait()
                if (item := await recv_or_end(inp)) is END:
                    break
                slot = _Slot(item)
                pending.append(slot)
                tg.start_soon(work, slot)
            read_all = True
            nudge(0)

    async def _unordered(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        fn, k = self.fn, self.max_parallel
        busy = 0
        room: list[anyio.Event | None] = [None]

        async def work(item: Any) -> None:
            nonlocal busy
            try:
                try:
                    value = await _call(fn, item)
                except Exception as exc:
                    self.failed(item, exc, errors)
                    return
                await out.send(value)
            finally:
                busy -= 1
                event = room[0]
                if event is not None:
                    room[0] = None
                    event.set()

        async with anyio.create_task_group() as tg:
            while True:
                while busy >= k:  # wait for room before taking an item
                    event = room[0] = anyio.Event()
                    await event.wait()
                if (item := await recv_or_end(inp)) is END:
                    break
                busy += 1
                tg.start_soon(work, item)


@final
class Filter(Operator):
    """What :func:`filter` returns (an :class:`Operator`).

    >>> Filter(bool, on_error="skip")
    filter(bool, on_error='skip')
    """

    kind = "filter"

    def __init__(
        self, pred: Callable[[Any], Any], *, name: str | None = None, on_error: Literal["halt", "skip", "collect"] = "halt"
    ) -> None:
        super().__init__(name=name, on_error=on_error)
        self.pred = _check_fn("filter", pred, "pred")

    def _args(self) -> list[str]:
        return [_fn_name(self.pred)]

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        pred = self.pred
        while (item := await recv_or_end(inp)) is not END:
            try:
                keep = await _call(pred, item)
            except Exception as exc:
                self.failed(item, exc, errors)
                continue
            if keep:
                await out.send(item)


@final
class FlatMap(Operator):
    """What :func:`flat_map` returns (an :class:`Operator`).

    >>> FlatMap(str.split)
    flat_map(split)
    """

    kind = "flat_map"

    def __init__(
        self, fn: Callable[[Any], Any], *, name: str | None = None, on_error: Literal["halt", "skip", "collect"] = "halt"
    ) -> None:
        super().__init__(name=name, on_error=on_error)
        self.fn = _check_fn("flat_map", fn)

    def _args(self) -> list[str]:
        return [_fn_name(self.fn)]

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        fn = self.fn
        while (item := await recv_or_end(inp)) is not END:
            try:
                values = await _call(fn, item)
                if isinstance(values, AsyncIterable):
                    await send_all(values, out.send)
                else:
                    for value in values:
                        await out.send(value)
            except ChannelClosedError:
                raise
            except Exception as exc:
                self.failed(item, exc, errors)


@final
class Tap(Operator):
    """What :func:`tap` returns (an :class:`Operator`).

    >>> Tap(print, name="log")
    tap(print, name='log')
    """

    kind = "tap"

    def __init__(
        self, fn: Callable[[Any], Any], *, name: str | None = None, on_error: Literal["halt", "skip", "collect"] = "halt"
    ) -> None:
        super().__init__(name=name, on_error=on_error)
        self.fn = _check_fn("tap", fn)

    def _args(self) -> list[str]:
        return [_fn_name(self.fn)]

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        fn = self.fn
        while (item := await recv_or_end(inp)) is not END:
            try:
                await _call(fn, item)
            except Exception as exc:
                self.failed(item, exc, errors)
                continue
            await out.send(item)


@final
class Batch(Operator):
    """What :func:`batch` returns (an :class:`Operator`).

    >>> Batch(10, timeout=0.5)
    batch(10, timeout=0.5)
    """

    kind = "batch"

    def __init__(self, n: int, *, timeout: float | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.n = _check_count("batch", "n", n)
        self.timeout = None if timeout is None else _check_seconds("batch", "timeout", timeout)

    def _args(self) -> list[str]:
        args = [str(self.n)]
        if self.timeout is not None:
            args.append(f"timeout={self.timeout!r}")
        return args

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        n, timeout = self.n, self.timeout
        pending: list[Any] = []
        deadline = math.inf
        while True:
            try:
                if pending and timeout is not None:
                    with anyio.CancelScope(deadline=deadline):
                        # a cancelled recv takes nothing: no item is lost
                        pending.append(await inp.recv())
                else:
                    pending.append(await inp.recv())
                    if timeout is not None and len(pending) == 1:
                        deadline = anyio.current_time() + timeout
            except ChannelClosedError:
                if inp.closed and not out.closed:
                    break
                raise
            if len(pending) >= n or (pending and anyio.current_time() >= deadline):
                full, pending = pending, []
                await out.send(full)
        if pending:
            await out.send(pending)


@final
class RateLimit(Operator):
    """What :func:`rate_limit` returns (an :class:`Operator`).

    >>> RateLimit(20, burst=5)
    rate_limit(20.0, burst=5)
    """

    kind = "rate_limit"

    def __init__(self, per_second: float, *, burst: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.per_second = _check_seconds("rate_limit", "per_second", per_second)
        self.burst = _check_count("rate_limit", "burst", burst)

    def _args(self) -> list[str]:
        args = [repr(self.per_second)]
        if self.burst != 1:
            args.append(f"burst={self.burst}")
        return args

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        rate, burst = self.per_second, self.burst
        tokens = float(burst)
        last = anyio.current_time()
        while (item := await recv_or_end(inp)) is not END:
            now = anyio.current_time()
            tokens = min(float(burst), tokens + (now - last) * rate)
            last = now
            if tokens < 1.0:
                await anyio.sleep((1.0 - tokens) / rate)
                now = anyio.current_time()
                tokens = min(float(burst), tokens + (now - last) * rate)
                last = now
            tokens = max(0.0, tokens - 1.0)
            await out.send(item)


async def run_chain(
    operators: Sequence[Operator], inp: Port, out: Port, parent: str
) -> list[Any]:
    """Run *operators* connected by fresh channels from *inp* to *out*; returns
    each operator's :class:`~stbass.ProcessResult` (a failure cancels the rest)."""
    chans: list[Port] = [inp]
    for i in range(len(operators) - 1):
        chans.append(Chan(object, name=f"{parent}.{i + 1}"))
    chans.append(out)
    results: list[Any] = [None] * len(operators)

    async def one(i: int, op: Operator, tg: anyio.abc.TaskGroup) -> None:
        ctx = StageContext(op.name, parent, chans[i], chans[i + 1])
        result = await op.execute(ctx)
        results[i] = result
        if result.is_fail:
            for ch in chans:
                ch.close()
            tg.cancel_scope.cancel()

    if not operators:
        await _forward(inp, out)
        return results
    async with anyio.create_task_group() as tg:
        for i, op in enumerate(operators):
            tg.start_soon(one, i, op, tg)
    return results


async def _forward(inp: Port, out: Port) -> None:
    try:
        while (item := await recv_or_end(inp)) is not END:
            await out.send(item)
    except ChannelClosedError:
        if not out.closed:
            raise
        inp.close()
    finally:
        out.close()


@final
class Branch:
    """One output of a :func:`partition`: operators, then a sink (a Chan or a
    function) or none (the branch's items join the partition's output);
    ``buffer`` items may wait for the branch before the dispatcher does.

    >>> Branch(Map(str), buffer=4)
    branch(map(str), buffer=4)
    """

    __slots__ = ("operators", "sink", "buffer")

    def __init__(
        self,
        *operators: Operator,
        sink: Chan[Any] | Callable[[Any], Any] | None = None,
        buffer: int = 0,
    ) -> None:
        self.operators = tuple(check_operators("branch", operators))
        if sink is not None and not isinstance(sink, Chan) and not callable(sink):
            raise TypeError(f"branch: sink must be a Chan or a function, got {type(sink).__name__}")
        self.sink = sink
        if isinstance(buffer, bool) or not isinstance(buffer, int):
            raise TypeError(f"branch: buffer must be an int, got {type(buffer).__name__}")
        if buffer < 0:
            raise ValueError(f"branch: buffer must be 0 or more, got {buffer}")
        self.buffer = buffer

    def __repr__(self) -> str:
        args = [repr(op) for op in self.operators]
        if self.sink is not None:
            args.append("sink=" + (repr(self.sink) if isinstance(self.sink, Chan) else _fn_name(self.sink)))
        if self.buffer:
            args.append(f"buffer={self.buffer}")
        return f"branch({', '.join(args)})"


def _check_branches(
    branches: object,
) -> tuple[tuple[Branch, ...], dict[Any, int] | None]:
    """The branches of a partition (a Chan stands for ``Branch(sink=chan)``)
    and, for a dict, the branch index of each key."""
    if isinstance(branches, dict):
        keys: list[Any] = list(branches)
        given = list(branches.values())
    elif isinstance(branches, (list, tuple)):
        keys = []
        given = list(branches)
    else:
        raise TypeError(
            f"partition: branches must be a list or a dict of branches, got {type(branches).__name__}"
        )
    if not given:
        raise ValueError("partition: branches must not be empty")
    out: list[Branch] = []
    for i, b in enumerate(given):
        label = repr(keys[i]) if keys else str(i)
        if isinstance(b, Chan):
            b = Branch(sink=b)
        if not isinstance(b, Branch):
            raise TypeError(
                f"partition: branch {label} must be a branch(...) or a Chan, got {type(b).__name__}"
            )
        out.append(b)
    sinks = [id(b.sink) for b in out if isinstance(b.sink, Chan)]
    if len(set(sinks)) != len(sinks):
        raise ValueError("partition: two branches have the same Chan sink (each closes its sink)")
    return tuple(out), ({k: i for i, k in enumerate(keys)} if keys else None)


@final
class Partition(Operator):
    """What :func:`partition` returns (an :class:`Operator`).

    >>> Partition(len, 3, [Map(str)])
    partition(len, 3, map(str))
    >>> Partition(len, branches=[Branch(Map(str)), Branch(sink=print)])
    partition(len, branches=[branch(map(str)), branch(sink=print)])
    """

    kind = "partition"

    def __init__(
        self,
        key: Callable[[Any], Any],
        n: int | None = None,
        operators: Sequence[Operator] = (),
        *,
        branches: Sequence[Branch | Chan[Any]] | dict[Any, Branch | Chan[Any]] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.key = _check_fn("partition", key, "key")
        self.routes: dict[Any, int] | None = None
        self.branches: Sequence[Branch | Chan[Any]] | dict[Any, Branch | Chan[Any]] | None = branches
        if branches is None:
            if n is None:
                raise TypeError("partition: give n (the number of lanes) or branches=")
            self.n = _check_count("partition", "n", n)
            self.operators = tuple(check_operators("partition", operators))
            self.lanes: tuple[Branch, ...] = (Branch(*self.operators),) * self.n
        else:
            if n is not None or operators:
                raise TypeError(
                    "partition: give n and operators, or branches= (each with its own "
                    "operators), not both"
                )
            self.lanes, self.routes = _check_branches(branches)
            self.n = len(self.lanes)
            self.operators = ()

    def _args(self) -> list[str]:
        if self.branches is None:
            return [_fn_name(self.key), str(self.n), *(repr(op) for op in self.operators)]
        shown = [repr(Branch(sink=b)) if isinstance(b, Chan) else repr(b) for b in
                 (self.branches.values() if isinstance(self.branches, dict) else self.branches)]
        if isinstance(self.branches, dict):
            inner = ", ".join(f"{k!r}: {v}" for k, v in zip(self.branches, shown))
            return [_fn_name(self.key), f"branches={{{inner}}}"]
        return [_fn_name(self.key), f"branches=[{', '.join(shown)}]"]

    def lane_of(self, k: Any) -> int:
        """The index of the branch for key *k*."""
        if self.routes is not None:
            try:
                return self.routes[k]
            except (KeyError, TypeError):  # TypeError: an unhashable key
                raise ValueError(
                    f"partition {self.name!r}: key {k!r} matches no branch "
                    f"(branches: {', '.join(repr(r) for r in self.routes)})"
                ) from None
        n = self.n
        return k % n if isinstance(k, int) and not isinstance(k, bool) else hash(k) % n

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        lanes, key = self.lanes, self.key
        lanes_in = [
            Chan(object, name=f"{self.name}.lane{i}.in", capacity=b.buffer)
            for i, b in enumerate(lanes)
        ]
        lanes_out: list[Chan[Any]] = [
            b.sink if isinstance(b.sink, Chan) else Chan(object, name=f"{self.name}.lane{i}.out")
            for i, b in enumerate(lanes)
        ]
        failed: list[Any] = []
        shared = _report_to.get()
        token = _report_to.set(errors if shared is None else shared)

        async def dispatch() -> None:
            try:
                while (item := await recv_or_end(inp)) is not END:
                    await lanes_in[self.lane_of(await _call(key, item))].send(item)
            except ChannelClosedError:
                if not any(ch.closed for ch in lanes_in):
                    raise
                inp.close()  # a branch stopped reading: stop reading too
            finally:
                for ch in lanes_in:
                    ch.close()

        async def lane(i: int, tg: anyio.abc.TaskGroup) -> None:
            results = await run_chain(lanes[i].operators, lanes_in[i], lanes_out[i], self.name)
            failed.extend(r.failure for r in results if r is not None and r.is_fail)
            if failed:
                tg.cancel_scope.cancel()

        async def collect(ch: Chan[Any]) -> None:
            try:
                while (item := await recv_or_end(ch)) is not END:
                    await out.send(item)
            except ChannelClosedError:
                if not out.closed:
                    raise
                ch.close()

        async def consume(ch: Chan[Any], sink: Callable[[Any], Any]) -> None:
            try:
                while (item := await recv_or_end(ch)) is not END:
                    await _call(sink, item)
            finally:
                ch.close()

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(dispatch)
                async with anyio.create_task_group() as merging:
                    for i, b in enumerate(lanes):
                        tg.start_soon(lane, i, tg)
                        if b.sink is None:
                            merging.start_soon(collect, lanes_out[i])
                        elif not isinstance(b.sink, Chan):
                            tg.start_soon(consume, lanes_out[i], b.sink)
        finally:
            _report_to.reset(token)
        if failed:
            raise failed[0].error


@final
class Merge(Operator):
    """What :func:`merge` returns (an :class:`Operator`).

    >>> Merge([1, 2], name="both")
    merge(list, name='both')
    """

    kind = "merge"

    def __init__(self, *sources: Any, name: str | None = None) -> None:
        super().__init__(name=name)
        self.sources = tuple(check_source("merge", s) for s in sources)

    def _args(self) -> list[str]:
        return [repr(s) if isinstance(s, Chan) else type(s).__name__ for s in self.sources]

    async def pump(self, inp: Port, out: Port, errors: list[ItemError]) -> None:
        async def from_input() -> None:
            while (item := await recv_or_end(inp)) is not END:
                await out.send(item)

        async def from_source(source: Any) -> None:
            await send_all(source, out.send)

        async with anyio.create_task_group() as tg:
            tg.start_soon(from_input)
            for source in self.sources:
                tg.start_soon(from_source, source)


def single_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one error inside *group* (nested groups flattened), or the group itself."""
    leaves: list[BaseException] = []

    def walk(g: BaseExceptionGroup[BaseException]) -> None:
        for exc in g.exceptions:
            if isinstance(exc, BaseExceptionGroup):
                walk(exc)
            else:
                leaves.append(exc)

    walk(group)
    if len(leaves) == 1 and isinstance(leaves[0], Exception):
        return leaves[0]
    return group


def check_source(owner: str, source: object) -> Any:
    """*source* if it is a Chan, an async iterable or an iterable; else TypeError."""
    if isinstance(source, (str, bytes)):
        raise TypeError(
            f"{owner}: a {type(source).__name__} is one value, not a stream of items "
            f"(wrap it in a list)"
        )
    if isinstance(source, (Chan, AsyncIterable, Iterable)):
        return source
    raise TypeError(
        f"{owner}: a source must be a Chan, an async iterable or an iterable, "
        f"got {type(source).__name__}"
    )


END: Any = object()


async def recv_or_end(ch: Port) -> Any:
    """The next item of *ch*, or :data:`END` once it is closed.

    (``async for`` over a channel is an async generator: leaving it by an
    exception would leave the generator to the garbage collector.)
    """
    try:
        return await ch.recv()
    except ChannelClosedError:
        if ch.closed:
            return END
        raise


async def send_all(source: Any, send: Callable[[Any], Awaitable[None]]) -> None:
    """Send the items of a Chan (until closed), an async iterable or an iterable."""
    if isinstance(source, Chan):
        while (item := await recv_or_end(source)) is not END:
            await send(item)
    elif isinstance(source, AsyncIterable):
        iterator = aiter(source)
        try:
            async for item in iterator:
                await send(item)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()
    else:
        for item in source:
            await send(item)


def check_operators(owner: str, operators: Iterable[object]) -> list[Operator]:
    checked = []
    for i, op in enumerate(operators):
        if not isinstance(op, Operator):
            raise TypeError(
                f"{owner}: stage {i} must be a stream operator (map, filter, ...), "
                f"got {type(op).__name__}"
            )
        checked.append(op)
    return checked


