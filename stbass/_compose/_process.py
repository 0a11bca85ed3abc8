"""Processes: the unit of work every composition runs.

A :class:`Process` wraps an ``async def f(ctx) -> ProcessResult`` (or a subclass's
``run``); :meth:`Process.execute` runs it, turns any ``Exception`` into a failed
:class:`~stbass.ProcessResult` with a :class:`~stbass.Failure` and emits the
``process <name>`` span. Cancellation, ``KeyboardInterrupt`` and ``SystemExit``
are never swallowed.
"""

from __future__ import annotations

import copy
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, overload

import anyio

from .. import _names as N
from .._core import _hook
from .._core._hook import CURRENT
from .._core._chan import Chan
from ._result import Failure, ProcessResult, success
from .._core._util import is_coroutine_function

if TYPE_CHECKING:
    from ._placement_value import Placement

ProcessFn = Callable[["ProcessContext"], Awaitable[Any]]

_current_ctx = CURRENT


def current_context() -> ProcessContext | None:
    """The context of the process whose body is running in this task, if any."""
    return _current_ctx.get()  # type: ignore[return-value]


class ProcessContext:
    """What a running process sees: its name and id, its channels, its parent,
    its placement and deadline.

    >>> ctx = ProcessContext("worker", channels={"jobs": Chan(int, name="jobs")})
    >>> ctx.get_channel("jobs")
    Chan(int, name='jobs')
    """

    __slots__ = (
        "process_name",
        "_process_id",
        "channels",
        "parent",
        "placement",
        "deadline",
        "last_checkpoint",
        "_bound",
        "_cancel_reason",
        "_label",
        "watch",
        "parked",
        "witness",
    )

    # Set by the deadlock watcher, when there is one (``stbass._compose._deadlock``):
    #: the party its task parked on last, or a sentinel
    parked: Any
    #: a process last found awake: while it is, this one's parks need no look
    witness: Any

    def __init__(
        self,
        process_name: str,
        process_id: str | None = None,
        channels: Mapping[str, Chan[Any]] | None = None,
        parent: str | None = None,
        placement: Placement | None = None,
        deadline: float | None = None,
    ) -> None:
        if not isinstance(process_name, str):
            raise TypeError(
                f"ProcessContext: process_name must be a str, got {type(process_name).__name__}"
            )
        self.process_name = process_name
        if process_id is not None and not isinstance(process_id, str):
            raise TypeError(
                f"ProcessContext({process_name!r}): process_id must be a str, "
                f"got {type(process_id).__name__}"
            )
        self._process_id = process_id
        self.channels: dict[str, Chan[Any]] = {}
        if channels:
            self.channels.update(channels)
            for key, ch in self.channels.items():
                if not isinstance(ch, Chan):
                    raise TypeError(
                        f"ProcessContext({process_name!r}): channel {key!r} must be a Chan, "
                        f"got {type(ch).__name__}"
                    )
        self.parent = parent
        self.placement = placement
        #: absolute time on anyio's clock (``anyio.current_time()``) or ``None``
        self.deadline = deadline
        self.last_checkpoint: Any = None
        #: the channels this process attached to (a list once it has any)
        self._bound: list[tuple[Chan[Any], bool]] | tuple[()] = ()
        self._cancel_reason: str | None = None
        self._label: str | None = None
        #: the deadlock watcher of the composition running this process (or None)
        self.watch: Any = None

    def __repr__(self) -> str:
        return (
            f"ProcessContext({self.process_name!r}, channels={sorted(self.channels)!r})"
        )

    @property
    def process_id(self) -> str:
        """A unique id (a UUID4 string), made the first time it is asked for."""
        pid = self._process_id
        if pid is None:
            pid = self._process_id = str(uuid.uuid4())
        return pid

    @property
    def label(self) -> str:
        """``name#id8``: how this process appears in topology errors."""
        label = self._label
        if label is None:
            label = self._label = f"{self.process_name}#{self.process_id[:8]}"
        return label

    def get_channel(self, name: str) -> Chan[Any]:
        """The channel bound as *name*; ``KeyError`` naming the channels that exist."""
        try:
            return self.channels[name]
        except KeyError:
            known = ", ".join(repr(k) for k in sorted(self.channels)) or "none"
            raise KeyError(
                f"process {self.process_name!r} has no channel {name!r} "
                f"(its channels: {known})"
            ) from None

    async def send(self, name: str, value: Any) -> None:
        """Send *value* on the channel bound as *name* (this process becomes its writer)."""
        ch = self.get_channel(name)
        if ch._writer != self.label:
            self._attach(ch, as_writer=True)
        await ch.send(value)

    async def recv(self, name: str) -> Any:
        """Receive from the channel bound as *name* (this process becomes its reader)."""
        ch = self.get_channel(name)
        if ch._reader != self.label:
            self._attach(ch, as_writer=False)
        return await ch.recv()

    def checkpoint(self, value: Any) -> None:
        """Record progress; a later failure carries the last checkpoint."""
        self.last_checkpoint = value

    def _attach(self, ch: Chan[Any], *, as_writer: bool) -> None:
        """Make this process the writer (or reader) of *ch* until it finishes;
        another process already attached raises ChannelTopologyError."""
        if as_writer:
            if ch._writer == self.label:
                return
            ch.bind_writer(self.label)
        else:
            if ch._reader == self.label:
                return
            ch.bind_reader(self.label)
        if not self._bound:
            self._bound = []
        self._bound.append((ch, as_writer))

    def _release(self) -> None:
        for ch, as_writer in self._bound:
            if as_writer and ch._writer == self.label:
                ch.unbind_writer()
            elif not as_writer and ch._reader == self.label:
                ch.unbind_reader()
        self._bound = ()

    def child(self, process: Process, **overrides: Any) -> ProcessContext:
        """A context for *process* running under this one."""
        return ProcessContext(
            process.name,
            channels=process.channels,
            parent=self.process_name,
            placement=overrides.get("placement", process.placement),
            deadline=overrides.get("deadline", self.deadline),
        )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _from_timestamp(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


class Process:
    """An async unit of work that returns a :class:`~stbass.ProcessResult`.

    Three ways to make one::

        @Process
        async def fetch(ctx: ProcessContext) -> ProcessResult: ...

        @Process(name="fetch-v2")
        async def fetch2(ctx: ProcessContext) -> ProcessResult: ...

        class Fetch(Process):
            async def run(self, ctx: ProcessContext) -> ProcessResult: ...

    A body that returns something other than a ``ProcessResult`` succeeds with
    that value.
    """

    # Slots for what every process has (a PAR_FOR makes one process per
    # replica); ``__dict__`` stays for subclasses' own attributes and the
    # decorated function's ``__doc__``/``__wrapped__``.
    __slots__ = ("_fn", "name", "placement", "is_optional", "channels", "__dict__", "__weakref__")

    _fn: ProcessFn | None
    name: str
    placement: Placement | None
    is_optional: bool
    channels: dict[str, Chan[Any]]

    @overload
    def __init__(self, fn: ProcessFn, *, name: str | None = None, placement: Placement | None = None) -> None: ...
    @overload
    def __init__(self, fn: None = None, *, name: str | None = None, placement: Placement | None = None) -> None: ...

    def __init__(
        self,
        fn: ProcessFn | None = None,
        *,
        name: str | None = None,
        placement: Placement | None = None,
    ) -> None:
        if fn is not None and not is_coroutine_function(fn):
            what = getattr(fn, "__qualname__", type(fn).__name__)
            raise TypeError(
                f"@Process needs an async function (async def ...(ctx)), got {what!r}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Process name must be a str, got {type(name).__name__}")
        if placement is not None:
            from ._placement_value import Placement as _Placement

            if not isinstance(placement, _Placement):
                raise TypeError(
                    f"placement must be a Placement, got {type(placement).__name__}"
                )
        self._fn = fn
        if name is None:
            name = getattr(fn, "__name__", None) if fn is not None else None
        self.name = name if name is not None else type(self).__name__
        self.placement = placement
        self.is_optional = False
        self.channels = {}
        if fn is not None:
            self.__doc__ = getattr(fn, "__doc__", None)
            self.__wrapped__ = fn

    # ``@Process(name=...)``: the instance without a function decorates one.
    def __call__(self, fn_or_ctx: Any) -> Any:
        if self._fn is None and type(self) is Process and callable(fn_or_ctx):
            made = Process(fn_or_ctx, name=self.name if self.name != "Process" else None,
                           placement=self.placement)
            return made
        return self.run(fn_or_ctx)

    async def run(self, ctx: ProcessContext) -> Any:
        """The body. Subclasses override this; decorated functions are called here."""
        if self._fn is None:
            raise NotImplementedError(
                f"process {self.name!r} has no body: decorate an async function or "
                f"override run()"
            )
        return await self._fn(ctx)

    def _body(self, ctx: ProcessContext) -> Awaitable[Any]:
        """The awaitable of one run of the body: the decorated function's
        coroutine itself (no ``run`` frame in between), or ``run(ctx)`` when a
        subclass overrides :meth:`run`."""
        fn = self._fn
        if fn is not None and type(self).run is Process.run:
            return fn(ctx)
        return self.run(ctx)

    # ------------------------------------------------------------- copies

    def _copy(self) -> Process:
        new = copy.copy(self)
        new.channels = dict(self.channels)
        return new

    def optional(self) -> Process:
        """A copy whose failure does not fail (or HALT) its composition."""
        new = self._copy()
        new.is_optional = True
        return new

    def with_channels(self, **channels: Chan[Any]) -> Process:
        """A copy that sees these channels (by name) in ``ctx.channels``."""
        for key, ch in channels.items():
            if not isinstance(ch, Chan):
                raise TypeError(
                    f"{self.name}.with_channels: {key!r} must be a Chan, "
                    f"got {type(ch).__name__}"
                )
        new = self._copy()
        new.channels.update(channels)
        return new

    def with_name(self, name: str) -> Process:
        """A copy with another name."""
        if not isinstance(name, str) or not name:
            raise TypeError(f"with_name needs a non-empty str, got {name!r}")
        new = self._copy()
        new.name = name
        return new

    def with_placement(self, placement: Placement | None) -> Process:
        """A copy placed elsewhere (see PLACED_PAR)."""
        new = self._copy()
        new.placement = placement
        return new

    def __repr__(self) -> str:
        text = f"Process({self.name})" if self._fn is not None else f"{type(self).__name__}()"
        if self._fn is not None:
            text = getattr(self._fn, "__name__", self.name)
            if text != self.name:
                text = f"{text}.with_name({self.name!r})"
        if self.channels:
            text += ".with_channels(" + ", ".join(
                f"{k}={v!r}" for k, v in self.channels.items()
            ) + ")"
        if self.is_optional:
            text += ".optional()"
        return text

    # ------------------------------------------------------------- running

    async def execute(self, ctx: ProcessContext) -> ProcessResult[Any]:
        """Run the body in *ctx*; failures become a failed ``ProcessResult``."""
        started = time.time()
        token = _current_ctx.set(ctx)
        try:
            if _hook.gate() is None or _hook.active() is None:
                try:
                    outcome = await self._body(ctx)
                except Exception as exc:
                    return ProcessResult.fail(self._failure(exc, ctx, started))
                return self._outcome(outcome, ctx, started, None)
            return await self._execute_traced(ctx, started)
        finally:
            if ctx._bound:
                ctx._release()
            _current_ctx.reset(token)

    async def _execute_traced(self, ctx: ProcessContext, started: float) -> ProcessResult[Any]:
        attrs = {
            N.PROCESS_NAME: self.name,
            N.PROCESS_ID: ctx.process_id,
            N.OPTIONAL: self.is_optional,
        }
        placement = ctx.placement
        if placement is not None:
            attrs[N.PLACEMENT_MODEL] = placement.model
            attrs[N.PLACEMENT_ENDPOINT] = placement.endpoint
        with _hook.span(N.SPAN_PROCESS_PREFIX + self.name, attrs) as rec:
            try:
                outcome = await self._body(ctx)
            except Exception as exc:
                failure = self._failure(exc, ctx, started)
                rec.failed(exc, failure.summary)
                return ProcessResult.fail(failure)
            except BaseException as exc:
                if isinstance(exc, anyio.get_cancelled_exc_class()):
                    rec.cancelled(cancel_reason(ctx))
                raise
            return self._outcome(outcome, ctx, started, rec)

    def _outcome(
        self, outcome: Any, ctx: ProcessContext, started: float, rec: Any
    ) -> ProcessResult[Any]:
        if not isinstance(outcome, ProcessResult):
            return success(outcome)
        if outcome.is_fail:
            failure = self._enrich(outcome.failure, ctx, started)
            if rec is not None:
                rec.failed(failure.error, failure.summary)
            return ProcessResult.fail(failure)
        return outcome

    def _failure(self, exc: BaseException, ctx: ProcessContext, started: float) -> Failure:
        return Failure(
            exc,
            process_name=self.name,
            process_id=ctx.process_id,
            started_at=_from_timestamp(started),
            failed_at=_now(),
            placement=ctx.placement,
            parent_process=ctx.parent,
            channel_state={k: _chan_state(c) for k, c in ctx.channels.items()} or None,
            checkpoint=ctx.last_checkpoint,
        )

    def _enrich(self, failure: Failure, ctx: ProcessContext, started: float) -> Failure:
        changes: dict[str, Any] = {}
        if failure.process_name == "unknown":
            changes["process_name"] = self.name
        if failure.process_id is None:
            changes["process_id"] = ctx.process_id
        if failure.started_at is None:
            changes["started_at"] = _from_timestamp(started)
        if failure.placement is None and ctx.placement is not None:
            changes["placement"] = ctx.placement
        if failure.parent_process is None and ctx.parent is not None:
            changes["parent_process"] = ctx.parent
        if failure.checkpoint is None and ctx.last_checkpoint is not None:
            changes["checkpoint"] = ctx.last_checkpoint
        return dataclasses.replace(failure, **changes) if changes else failure


def cancel_reason(ctx: ProcessContext) -> str:
    """Who cancelled the process running in *ctx*: ``halt``, ``deadline`` or ``outer``."""
    if ctx._cancel_reason is not None:
        return ctx._cancel_reason
    if ctx.deadline is not None and anyio.current_time() >= ctx.deadline:
        return "deadline"
    return "outer"


def _chan_state(ch: Chan[Any]) -> dict[str, Any]:
    st = ch.statistics()
    return {
        "name": st.name,
        "closed": st.closed,
        "messages": st.messages,
        "waiting_senders": st.waiting_senders,
        "waiting_receivers": st.waiting_receivers,
    }
