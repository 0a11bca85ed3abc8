"""Actors: a process with private state, a mailbox, and handlers chosen by
message type.

An :class:`Actor` is a :class:`~stbass.Process` whose body reads its mailbox (a
buffered :class:`~stbass.Chan`) and calls, one message at a time, the handler
registered for the message's type. Clients hold an :class:`ActorRef`:
``tell`` puts a message in the mailbox; ``ask`` also waits for the handler's
value (or its exception). A reply travels on a one-slot channel of its own, so
the actor never waits for an asker that gave up, and an asker that is cancelled
or times out leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import inspect
import itertools
import time
import types
import typing
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, TypeVar, final, overload

import anyio
import anyio.lowlevel
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from stbass import (
    Chan,
    ChannelClosedError,
    Failure,
    Process,
    ProcessContext,
    ProcessResult,
    RetryPolicy,
)
from stbass import _names as N
from stbass import observe

__all__ = ("Actor", "ActorRef", "ActorStoppedError", "handles")

Handler = Callable[[Any, Any], Awaitable[Any]]
H = TypeVar("H", bound=Handler)
OnError = Literal["continue", "stop", "restart"]
_ON_ERROR = ("continue", "stop", "restart")

_HANDLES_ATTR = "__stbass_handles__"


class ActorStoppedError(ChannelClosedError):
    """The actor has stopped: raised by ``tell``/``ask`` after it stopped, and
    by an ``ask`` whose message it never handled (it stopped, failed with
    ``on_error="stop"``, or was cancelled first).

    A subclass of :class:`~stbass.ChannelClosedError` (so of
    ``anyio.ClosedResourceError``); ``actor`` is the actor's name.

    >>> err = ActorStoppedError("actor 'counter' has stopped", actor="counter")
    >>> err.actor
    'counter'
    """

    def __init__(self, message: str, *, actor: str) -> None:
        super().__init__(message, channel=f"{actor}.mailbox")
        self.actor = actor


# ------------------------------------------------------------------ handlers


@overload
def handles(fn: H, /) -> H: ...
@overload
def handles(*types_: type) -> Callable[[H], H]: ...


def handles(*args: Any) -> Any:
    """Mark an actor method as the handler of a message type.

    The type comes from the decorator, ``@handles(Deposit)``, or from the
    annotation of the message parameter, ``@handles`` on
    ``async def deposit(self, msg: Deposit)``. A union (``Deposit | Withdraw``)
    registers every member. The handler's return value is what ``ask`` returns.

    >>> class Counter(Actor):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.count = 0
    ...     @handles(int)
    ...     async def add(self, n: int) -> int:
    ...         self.count += n
    ...         return self.count
    >>> Counter.handled_types()
    (<class 'int'>,)
    """
    if len(args) == 1 and inspect.isfunction(args[0]):
        fn = args[0]
        _check_handler(fn)
        setattr(fn, _HANDLES_ATTR, None)  # the type comes from the annotation
        return fn
    for t in args:
        if not isinstance(t, type):
            raise TypeError(f"@handles needs message types, got {t!r}")
    if not args:
        raise TypeError("@handles() needs at least one message type")

    def mark(fn: H) -> H:
        _check_handler(fn)
        setattr(fn, _HANDLES_ATTR, tuple(args))
        return fn

    return mark


def _check_handler(fn: Any) -> None:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(
            f"@handles needs an async method (async def {getattr(fn, '__name__', fn)}"
            f"(self, msg)), got {fn!r}"
        )


def _annotated_types(cls_name: str, fn: Any) -> tuple[type, ...]:
    params = list(inspect.signature(fn).parameters)
    if len(params) < 2:
        raise TypeError(f"{cls_name}.{fn.__name__}: a handler takes (self, msg)")
    try:
        hints = typing.get_type_hints(fn)
    except Exception as exc:
        raise TypeError(
            f"{cls_name}.{fn.__name__}: cannot resolve the annotation of {params[1]!r} "
            f"({exc}); name the type in @handles(...)"
        ) from None
    hint = hints.get(params[1])
    if hint is None:
        raise TypeError(
            f"{cls_name}.{fn.__name__}: annotate {params[1]!r} with the message type "
            f"or name it in @handles(...)"
        )
    members = typing.get_args(hint) if _is_union(hint) else (hint,)
    for m in members:
        if not isinstance(m, type):
            raise TypeError(f"{cls_name}.{fn.__name__}: {m!r} is not a message type")
    return tuple(members)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _is_model(t: type) -> bool:
    try:
        import pydantic
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return False
    return issubclass(t, pydantic.BaseModel)


# ------------------------------------------------------------------- envelopes


class _Reply:
    """The one-shot answer to an ``ask``: a one-slot channel, written at most
    once by the actor without waiting (so an asker that left cannot block it)."""

    __slots__ = ("chan",)

    def __init__(self, name: str) -> None:
        self.chan: Chan[Any] = Chan(object, name=name, capacity=1)

    def give(self, ok: bool, value: Any) -> None:
        with contextlib.suppress(ChannelClosedError):  # the asker gave up
            self.chan.send_nowait((ok, value))

    def abandon(self) -> None:
        self.chan.close()


class _Envelope:
    __slots__ = ("msg", "handler", "reply", "link", "problem")

    def __init__(
        self, msg: Any, handler: str | None, reply: _Reply | None, link: Any, problem: str | None
    ) -> None:
        self.msg = msg
        self.handler = handler  # the method name, None when no handler fits
        self.reply = reply
        self.link = link  # the tell/ask span's context, or None
        self.problem = problem  # why no handler fits


_ref_ids = itertools.count(1)


class _Box:
    """What outlives one actor instance (a restart keeps it): the mailbox and
    the record of what happened."""

    __slots__ = ("name", "chan", "failures", "handled", "restarts", "result", "running")

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.chan: Chan[_Envelope] = Chan(_Envelope, name=f"{name}.mailbox", capacity=capacity)
        self.failures: list[Failure] = []
        self.handled = 0
        self.restarts = 0
        self.result: ProcessResult[Any] | None = None
        self.running = False


# ------------------------------------------------------------------------- ref


@final
class ActorRef:
    """What clients hold to talk to an actor (``actor.ref``, or the value of
    ``async with actor.start() as ref``). Many tasks may share one ref; it is
    not constructed directly.

    >>> class Echo(Actor):
    ...     @handles(str)
    ...     async def echo(self, text: str) -> str:
    ...         return text
    >>> Echo().ref
    ActorRef('Echo')
    """

    __slots__ = ("_actor", "_box")

    def __init__(self, actor: Actor, box: _Box) -> None:
        self._actor = actor
        self._box = box

    def __repr__(self) -> str:
        return f"ActorRef({self._box.name!r})"

    @property
    def name(self) -> str:
        """The actor's name."""
        return self._box.name

    @property
    def failures(self) -> tuple[Failure, ...]:
        """The handler errors and unhandled tells so far, oldest first."""
        return tuple(self._box.failures)

    @property
    def handled(self) -> int:
        """How many messages the actor has taken from its mailbox."""
        return self._box.handled

    @property
    def restarts(self) -> int:
        """How many times ``on_error="restart"`` replaced the instance."""
        return self._box.restarts

    @property
    def stopped(self) -> bool:
        """True once the mailbox is closed (by :meth:`stop` or a stopping error)."""
        return self._box.chan.closed

    def _envelope(self, msg: Any, reply: _Reply | None, link: Any) -> _Envelope:
        handler, msg, problem = self._actor._resolve(msg)
        return _Envelope(msg, handler, reply, link, problem)

    def _stopped_error(self) -> ActorStoppedError:
        return ActorStoppedError(f"actor {self._box.name!r} has stopped", actor=self._box.name)

    async def tell(self, msg: Any) -> None:
        """Put *msg* in the mailbox; returns once it is there (waits while the
        mailbox is full). A message no handler takes is recorded as a failure
        when the actor reaches it; the actor keeps running.

        Raises :class:`ActorStoppedError` once the actor has stopped.
        """
        tracer = observe.active_tracer()
        if tracer is None:
            env = self._envelope(msg, None, None)
            try:
                await self._box.chan.send(env)
            except ChannelClosedError:
                raise self._stopped_error() from None
            return
        with tracer.start_as_current_span(
            N.SPAN_TELL_PREFIX + self._box.name,
            kind=SpanKind.PRODUCER,
            attributes={N.ACTOR_NAME: self._box.name, N.MESSAGE_TYPE: type(msg).__name__},
        ) as span:
            env = self._envelope(msg, None, span.get_span_context())
            try:
                await self._box.chan.send(env)
            except ChannelClosedError:
                raise self._stopped_error() from None

    def tell_nowait(self, msg: Any) -> None:
        """Put *msg* in the mailbox if there is room now, else raise
        ``anyio.WouldBlock`` (nothing is sent)."""
        env = self._envelope(msg, None, None)
        try:
            self._box.chan.send_nowait(env)
        except ChannelClosedError:
            raise self._stopped_error() from None

    async def ask(self, msg: Any, *, timeout: float | None = None) -> Any:
        """Send *msg* and wait for the handler's return value.

        The handler's exception is raised here (the actor keeps running, as its
        ``on_error`` says). A message no handler takes raises ``TypeError``
        naming the actor and the type, before anything is sent. ``timeout``
        (seconds) bounds the whole round trip (``TimeoutError``); a timed-out
        or cancelled ask leaves no reply waiting in the actor. Raises
        :class:`ActorStoppedError` if the actor stopped before handling it.
        """
        tracer = observe.active_tracer()
        if tracer is None:
            return await self._ask(msg, timeout, None)
        with tracer.start_as_current_span(
            N.SPAN_ASK_PREFIX + self._box.name,
            kind=SpanKind.PRODUCER,
            attributes={N.ACTOR_NAME: self._box.name, N.MESSAGE_TYPE: type(msg).__name__},
            record_exception=False,
        ) as span:
            try:
                return await self._ask(msg, timeout, span.get_span_context())
            except Exception as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.set_attribute(N.ERROR_TYPE, type(exc).__qualname__)
                raise

    async def _ask(self, msg: Any, timeout: float | None, link: Any) -> Any:
        handler, msg, problem = self._actor._resolve(msg)
        if handler is None:
            await anyio.lowlevel.checkpoint()
            raise TypeError(problem)
        reply = _Reply(f"{self._box.name}.reply-{next(_ref_ids)}")
        env = _Envelope(msg, handler, reply, link, None)
        with anyio.fail_after(timeout) if timeout is not None else contextlib.nullcontext():
            try:
                try:
                    await self._box.chan.send(env)
                except ChannelClosedError:
                    raise self._stopped_error() from None
                try:
                    ok, value = await reply.chan.recv()
                except ChannelClosedError:
                    raise self._stopped_error() from None
            finally:
                reply.abandon()  # whatever happens, nothing waits on this reply
        if ok:
            return value
        raise value

    def stop(self) -> None:
        """Close the mailbox: later ``tell``/``ask`` raise
        :class:`ActorStoppedError`; the actor handles what is already in its
        mailbox, then its process ends."""
        self._box.chan.close()


# ----------------------------------------------------------------------- actor


class Actor(Process):
    """A process with private state that handles messages one at a time.

    Subclass it, mark handler methods with :func:`handles`, and talk to it
    through :attr:`ref`::

        class Counter(Actor):
            def __init__(self, start: int = 0) -> None:
                super().__init__(mailbox=16)
                self.count = start

            @handles
            async def add(self, n: int) -> int:
                self.count += n
                return self.count

        counter = Counter()
        await PAR(counter, client(counter.ref)).run()   # inside a PAR, or:
        async with Counter().start() as ref:            # in the background
            await ref.ask(5)

    Keyword options (for ``super().__init__``, or as class attributes):
    ``mailbox`` (capacity; 0 makes ``tell`` a rendezvous), ``on_error``
    (``"continue"``: record the failure and go on; ``"stop"``: the actor's
    process fails; ``"restart"``: a fresh instance made with the same
    ``__init__`` arguments, at most ``restart.max_attempts`` times, waiting
    ``restart.delay_for(n)`` before restart *n*) and ``restart`` (a
    :class:`~stbass.RetryPolicy`). The process ends once the mailbox is
    closed (:meth:`ActorRef.stop`) and drained; its value is the number of
    messages handled.
    """

    mailbox: ClassVar[int] = 64
    on_error: ClassVar[Literal["continue", "stop", "restart"]] = "continue"
    restart: ClassVar[RetryPolicy] = RetryPolicy(3, backoff="exponential", base_delay=0.05)

    _handlers: ClassVar[dict[type, str]] = {}
    _init_args: tuple[tuple[Any, ...], dict[str, Any]]
    _box: _Box | None
    _options: tuple[int, OnError, RetryPolicy]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                if not hasattr(fn, _HANDLES_ATTR):
                    continue
                declared = getattr(fn, _HANDLES_ATTR)
                kinds = declared if declared is not None else _annotated_types(cls.__name__, fn)
                for t in kinds:
                    table[t] = attr
        cls._handlers = table
        _check_options(cls.__name__, cls.mailbox, cls.on_error, cls.restart)

    def __new__(cls, *args: Any, **kwargs: Any) -> Actor:
        self = super().__new__(cls)
        self._init_args = (args, kwargs)  # what a restart builds a fresh instance from
        Process.__init__(self, name=cls.__name__)
        self._options = (cls.mailbox, cls.on_error, cls.restart)
        # a mailbox even for a subclass whose __init__ skips super().__init__()
        self._box = _Box(self.name, cls.mailbox)
        return self

    def __init__(
        self,
        *,
        name: str | None = None,
        mailbox: int | None = None,
        on_error: Literal["continue", "stop", "restart"] | None = None,
        restart: RetryPolicy | None = None,
    ) -> None:
        super().__init__(name=name if name is not None else type(self).__name__)
        size, policy, retry = self._options
        size = size if mailbox is None else mailbox
        policy = policy if on_error is None else on_error
        retry = retry if restart is None else restart
        _check_options(self.name, size, policy, retry)
        self._options = (size, policy, retry)
        if self._box is None or not self._box.running:
            # the mailbox is made here, before any copy (PAR, with_name) shares it
            self._box = _Box(self.name, size)

    @classmethod
    def handled_types(cls) -> tuple[type, ...]:
        """The message types this actor has handlers for.

        >>> Actor.handled_types()
        ()
        """
        return tuple(cls._handlers)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if self.name == type(self).__name__ else (
            f"{type(self).__name__}().with_name({self.name!r})"
        )

    # ------------------------------------------------------------- the ref

    def _the_box(self) -> _Box:
        box = self._box
        if box is None:
            box = self._box = _Box(self.name, self._options[0])
        return box

    @property
    def ref(self) -> ActorRef:
        """The handle clients use (the same mailbox every time it is read)."""
        return ActorRef(self, self._the_box())

    def stop(self) -> None:
        """Stop taking messages: the mailbox closes, what is in it is still
        handled (see :meth:`ActorRef.stop`); callable from a handler."""
        self._the_box().chan.close()

    @property
    def result(self) -> ProcessResult[Any] | None:
        """The outcome once the actor's process has ended, else ``None``."""
        return self._the_box().result

    def _resolve(self, msg: Any) -> tuple[str | None, Any, str | None]:
        """(handler name, message — a dict coerced into a model —, problem)."""
        table = type(self)._handlers
        for klass in type(msg).__mro__:
            name = table.get(klass)
            if name is not None:
                return name, msg, None
        reasons: list[str] = []
        if isinstance(msg, dict):
            for t, name in table.items():
                if _is_model(t):
                    try:
                        return name, t.model_validate(msg), None  # type: ignore[attr-defined]
                    except Exception as exc:
                        reasons.append(f"{t.__name__}: {str(exc).splitlines()[-1].strip()}"
                                       if str(exc) else t.__name__)
        known = ", ".join(t.__name__ for t in table) or "none"
        problem = (
            f"actor {self.name!r} has no handler for {type(msg).__name__} "
            f"(it handles: {known})"
        )
        if reasons:
            problem += "; as a model: " + "; ".join(reasons)
        return None, msg, problem

    @contextlib.asynccontextmanager
    async def start(self) -> AsyncIterator[ActorRef]:
        """Run the actor in the background for the ``async with`` block.

        On a normal exit the mailbox is closed and the block waits until the
        actor has handled what it holds; on an exception the actor is
        cancelled. The actor never outlives the block.

        ::

            async with Counter().start() as ref:
                await ref.tell(1)
                print(await ref.ask(2))
        """
        ref = self.ref
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._run_in_background)
            try:
                yield ref
            except BaseException:
                tg.cancel_scope.cancel()
                raise
            ref.stop()

    async def _run_in_background(self) -> None:
        await self.execute(ProcessContext(self.name))

    # -------------------------------------------------------------- the body

    async def run(self, ctx: ProcessContext) -> ProcessResult[int]:
        """Handle messages until the mailbox is closed and empty."""
        box = self._the_box()
        if box.running:
            raise RuntimeError(f"actor {self.name!r} is already running")
        box.running = True
        current: Actor = self
        env: _Envelope | None = None
        try:
            while True:
                try:
                    env = await box.chan.recv()
                except ChannelClosedError:
                    break
                box.handled += 1
                error = await current._handle(env)
                unhandled, env = env.handler is None, None
                if error is None or unhandled:  # an unhandled tell never stops it
                    continue
                _, policy, retry = self._options
                if policy == "continue":
                    continue
                if policy == "restart" and box.restarts < retry.max_attempts:
                    await anyio.sleep(retry.delay_for(box.restarts))
                    box.restarts += 1
                    current = self._fresh()
                    continue
                box.chan.close()
                box.result = ProcessResult.fail(box.failures[-1])
                return box.result
            box.result = ProcessResult.ok(box.handled)
            return box.result
        finally:
            box.running = False
            box.chan.close()
            if env is not None and env.reply is not None:
                env.reply.abandon()
            _abandon_all(box.chan)

    def _fresh(self) -> Actor:
        args, kwargs = self._init_args
        fresh = type(self)(*args, **kwargs)
        fresh.name = self.name
        fresh._box = self._box
        fresh._options = self._options
        return fresh

    async def _handle(self, env: _Envelope) -> BaseException | None:
        """Run one message's handler; the error it raised (recorded), if any."""
        tracer = observe.active_tracer()
        if tracer is None:
            return await self._call(env, None)
        mtype = type(env.msg).__name__
        links = [Link(env.link)] if env.link is not None else None
        with tracer.start_as_current_span(
            N.SPAN_HANDLE_PREFIX + mtype,
            kind=SpanKind.CONSUMER,
            attributes={
                N.ACTOR_NAME: self.name,
                N.MESSAGE_TYPE: mtype,
                N.ACTOR_HANDLER: env.handler or "",
                N.ACTOR_ASK: env.reply is not None,
            },
            links=links,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            error = await self._call(env, span)
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, str(error)))
                span.record_exception(error)
                span.set_attribute(N.ERROR_TYPE, type(error).__qualname__)
            return error

    async def _call(self, env: _Envelope, span: Any) -> BaseException | None:
        reply = env.reply
        if env.handler is None:
            error: Exception = TypeError(env.problem)
        else:
            started = time.time()
            try:
                value = await getattr(self, env.handler)(env.msg)
            except Exception as exc:
                error = exc
                self._record(exc, started)
                if reply is not None:
                    reply.give(False, exc)
                return exc
            if reply is not None:
                reply.give(True, value)
            return None
        self._record(error, None)
        if reply is not None:
            reply.give(False, error)
        return error

    def _record(self, exc: BaseException, started: float | None) -> None:
        box = self._the_box()
        box.failures.append(
            Failure(
                exc,
                process_name=self.name,
                started_at=datetime.fromtimestamp(started, timezone.utc)
                if started is not None
                else None,
            )
        )


def _abandon_all(chan: Chan[Any]) -> None:
    """Fail the asks still in a closed mailbox (the actor will not handle them)."""
    while True:
        try:
            env = chan.recv_nowait()
        except (ChannelClosedError, anyio.WouldBlock):
            return
        if env.reply is not None:
            env.reply.abandon()


def _check_options(owner: str, mailbox: Any, on_error: Any, restart: Any) -> None:
    if isinstance(mailbox, bool) or not isinstance(mailbox, int) or mailbox < 0:
        raise ValueError(f"actor {owner!r}: mailbox must be an int >= 0, got {mailbox!r}")
    if on_error not in _ON_ERROR:
        raise ValueError(
            f"actor {owner!r}: on_error must be one of {', '.join(map(repr, _ON_ERROR))}, "
            f"got {on_error!r}"
        )
    if not isinstance(restart, RetryPolicy):
        raise TypeError(
            f"actor {owner!r}: restart must be a RetryPolicy, got {type(restart).__name__}"
        )


