"""Parking a task until a counterpart wakes it: the one backend-specific module.

Everything else in stbass uses anyio's public API. Channels and ALT need one
thing anyio does not offer: a wait that a *synchronous* commit can end such that
the woken task can no longer be cancelled out of the result it was handed.

A :class:`Party` is one waiting task: a plain send or recv, or an ALT with many
offers. Whoever commits a party does it synchronously, so on one event loop
committing is atomic and needs no lock.

The checkpoint rules every channel operation and ALT follows (docs/design.md):

1. **Cancellation is checked before anything happens.** An operation that can
   complete at once first passes a cancellation point, then commits
   synchronously. When it only moves a channel's buffer (nobody to wake), that
   point is a full checkpoint (``Ops.pause``: a schedule point, then the
   check) and rule 2 needs no second one. Otherwise it is a synchronous check:
   on trio ``checkpoint_if_cancelled``; on asyncio :func:`_cancel_pending_now`
   (a native ``Task.cancel()`` not yet delivered, one of rule 4 waiting to be
   delivered again, or a cancelled anyio cancel scope around the task), and
   when it finds one, :func:`_checkpoint_if_cancelled` yields until it lands.
   A cancellation pending at that point raises and nothing was sent or taken,
   so a loop of always-ready operations stops at the next operation.
2. **Every operation is a schedule point.** After the commit comes a
   cancel-shielded schedule point, on both backends (trio's own channels do the
   same). A cancellation that arrives there does not undo the operation, which
   succeeded: on trio it stays pending (trio's cancellation is level-triggered)
   and lands at the next checkpoint; on asyncio it is absorbed and delivered
   again as in rule 4, and the next operation's check of rule 1 sees it.
3. **A parked party is withdrawn when cancelled**, unless a counterpart already
   committed it: then the operation succeeded and reports so. An operation
   that has to wait parks at once (on trio, parking itself checks for a pending
   cancellation first; on asyncio a pending cancellation is delivered to the
   parked task in the next event-loop turn, so a wait started in an
   already-cancelled scope raises unless a counterpart that was already
   scheduled to run commits it in that same turn: then it completes, exactly
   once, and the cancellation fires at the next checkpoint).
4. **An asyncio cancellation that lands after the commit is not lost**: the
   operation returns its result, and the same cancellation request is
   delivered again at the task's next suspension if whoever requested it is
   still waiting for it (``Task.cancelling()`` has not dropped below its count),
   so it never fires after ``asyncio.timeout``/``wait_for`` have exited, and a
   plain ``Task.cancel()`` still stops the task. Until it is delivered, the
   task is in ``_redelivering``, which rule 1 checks.

asyncio's check in rule 1 reads anyio's task state (what anyio's own
``checkpoint_if_cancelled`` reads; its public form costs several times more).
If an anyio release keeps that state differently, :func:`_read_anyio_state`
says so at import and asyncio uses :class:`_AsyncioOps` instead: one yield
before the commit (the cancellation point and the schedule point in one) and
none after, which keeps every rule at the price of one more event-loop turn
per message (tests/test_asyncio_fallback_ops.py runs the rules with both).
"""

from __future__ import annotations

import asyncio
import enum
import sys
import threading
import types
import weakref
from contextvars import ContextVar
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, Final

import sniffio

if TYPE_CHECKING:
    from ._chan import OfferLike


class State(enum.IntEnum):
    """Where a party is in its life."""

    WAITING = 0  #: parked (or about to park); counterparts may commit it
    COMMITTED = 1  #: a counterpart (or close) committed it; it will not be cancelled out
    WITHDRAWN = 2  #: it gave up (cancelled); nobody may commit it
    POKED = 3  #: woken without a commit, to look again (an ALT re-evaluates)


WAITING: Final = State.WAITING
COMMITTED: Final = State.COMMITTED
WITHDRAWN: Final = State.WITHDRAWN
POKED: Final = State.POKED

_trio_lowlevel: Any = None


class Party:
    """One waiting task and the offers it has made on channels."""

    __slots__ = ("state", "offers", "chosen", "value", "error", "seq", "link", "_fut", "_task")

    def __init__(self) -> None:
        self.state: State = WAITING
        self.offers: tuple[OfferLike, ...] | list[OfferLike] = ()
        self.chosen: OfferLike | None = None
        self.value: Any = None
        self.error: BaseException | None = None
        self.seq = 0
        self.link: object = None
        self._fut: asyncio.Future[None] | None = None
        self._task: Any = None

    def live(self) -> bool:
        """Can a counterpart commit this party now?

        An asyncio task whose future was cancelled is on its way out with a
        cancellation: it is withdrawn here, at once, instead of when it resumes.
        """
        if self.state is not WAITING:
            return False
        fut = self._fut
        if fut is not None and fut.done():
            self.withdraw()
            return False
        return True

    def withdraw(self) -> None:
        """Take back every offer (idempotent); a committed party stays committed."""
        if self.state is WAITING:
            self.state = WITHDRAWN
        for offer in self.offers:
            offer.remove()
        self.offers = ()

    def commit(self, offer: OfferLike) -> None:
        """Commit this (live) party to *offer*, withdraw its other offers, wake it."""
        self.state = COMMITTED
        self.chosen = offer
        for other in self.offers:
            other.remove()
        self.offers = ()
        self._wake()

    def poke(self) -> None:
        """Wake this (live) party without committing it, so that it looks again."""
        self.state = POKED
        for other in self.offers:
            other.remove()
        self.offers = ()
        self._wake()

    def _wake(self) -> None:
        fut = self._fut
        if fut is not None:
            fut.set_result(None)
        else:
            _trio_lowlevel.reschedule(self._task)

    def _abort(self, _raise_cancel: Any) -> Any:
        # trio calls this (synchronously) to cancel the parked task.
        self.withdraw()
        return _trio_lowlevel.Abort.SUCCEEDED


class Ops:
    """The backend operations of one channel operation or ALT (see the module
    docstring for the rules they implement)."""

    __slots__ = ()

    #: does :meth:`after_commit` need awaiting?
    yields_after_commit: bool = False
    #: rule 1, synchronously: is a cancellation pending? (``None``: ask
    #: :attr:`before_commit` every time.) ``before_commit`` is awaited only when
    #: this says so
    cancel_pending: Callable[[], bool] | None = None
    #: rule 1: the cancellation point before a commit that does not park
    before_commit: Callable[[], Awaitable[None]]
    #: rule 2: the schedule point after such a commit (where ``yields_after_commit``)
    after_commit: Callable[[], Awaitable[None]]
    #: a schedule point and a cancellation point before anything moved (a full
    #: or empty buffer gives the other side one turn before parking)
    pause: Callable[[], Awaitable[None]]

    def arm(self, party: Party) -> None:
        """Make *party* wakeable on this backend (before it makes any offer)."""
        raise NotImplementedError

    def wait(self, party: Party) -> Awaitable[Any]:
        """The awaitable that parks *party* until it is committed, poked or
        cancelled (no wrapper frame: the hot path awaits it directly). Whatever
        it raises goes to :meth:`interrupted`."""
        raise NotImplementedError

    def interrupted(self, party: Party, exc: BaseException) -> bool:
        """*exc* ended :meth:`wait`: withdraw *party* and return ``False`` (the
        caller re-raises), or return ``True`` when the operation had already
        succeeded and the exception is absorbed (rule 3 and rule 4)."""
        party.withdraw()
        return False

    async def park(self, party: Party) -> None:
        """Wait until *party* is committed, poked or cancelled (rule 3)."""
        try:
            await self.wait(party)
        except BaseException as exc:
            if not self.interrupted(party, exc):
                raise


# ------------------------------------------------------------------ asyncio


def _running_loop() -> asyncio.AbstractEventLoop:
    """The running loop: the one of the last call, if it still runs in this
    thread (``_thread_id`` is set only while a loop runs). On Python 3.11
    ``get_running_loop()`` makes a getpid() system call every time."""
    global _loop
    loop = _loop
    if loop is None or loop._thread_id != _get_ident():  # type: ignore[attr-defined]
        loop = asyncio.get_running_loop()
        # (a loop without ``_thread_id``, e.g. uvloop's, is asked every time)
        _loop = loop if hasattr(loop, "_thread_id") else None
    return loop


#: tasks with an absorbed cancellation waiting to be delivered again (rule 4)
_redelivering: dict[asyncio.Task[Any], None] = {}


def _redeliver(task: asyncio.Task[Any], count: int, message: object) -> None:
    """Rule 4: deliver again a cancellation that an operation absorbed,
    unless its requester has withdrawn it (``uncancel``) or the task is done."""
    _redelivering.pop(task, None)
    if task.done() or task.cancelling() < count:
        return
    task.cancel(message)  # type: ignore[arg-type,unused-ignore]
    task.uncancel()  # the same request again: the count is unchanged


def _absorb(exc: BaseException) -> None:
    task = asyncio.current_task(_running_loop())
    if task is None:  # pragma: no cover - always inside a task
        return
    _redelivering[task] = None
    task.get_loop().call_soon(
        _redeliver, task, task.cancelling(), exc.args[0] if exc.args else None
    )


@types.coroutine
def _yield() -> Generator[None, None, None]:
    """One trip through the event loop (what ``asyncio.sleep(0)`` does), without
    the wrapper coroutine; a pending cancellation is raised here."""
    yield


class _AsyncioOps(Ops):
    """asyncio, when anyio's cancel state cannot be read (see
    :func:`_read_anyio_state`): one yield before a commit that does not park
    (the cancellation point and the schedule point in one); a wait parks on a
    future at once."""

    __slots__ = ()

    before_commit = staticmethod(_yield)
    pause = staticmethod(_yield)

    def arm(self, party: Party) -> None:
        loop = _loop
        if loop is None or loop._thread_id != _get_ident():  # type: ignore[attr-defined]
            loop = _running_loop()
        party._fut = loop.create_future()

    def wait(self, party: Party) -> Awaitable[Any]:
        return party._fut  # type: ignore[return-value]

    def interrupted(self, party: Party, exc: BaseException) -> bool:
        if (
            isinstance(exc, asyncio.CancelledError)
            and party.state is COMMITTED
            and party.error is None
        ):
            # anyio never cancels a task whose awaited future is done, so
            # this is a native cancel that landed after the commit (rule 4).
            _absorb(exc)
            return True
        party.withdraw()
        return False


def _read_anyio_state() -> dict[Any, Any] | None:
    """anyio's state of each asyncio task (keyed by a weak reference), or
    ``None`` when this anyio does not keep its task state the way this module
    reads it (then asyncio uses :class:`_AsyncioOps`, which needs none of it).

    anyio's own ``checkpoint_if_cancelled`` reads the same state (its public
    form costs a coroutine, a backend lookup and a weak-dictionary lookup per
    call); the probe below checks every attribute the fast check uses."""
    try:
        from anyio._backends import _asyncio as backend

        data = getattr(backend._task_states, "data")
        scope = backend.CancelScope()
        for attribute in ("_cancel_called", "_shield", "_parent_scope"):
            getattr(scope, attribute)
        getattr(backend.TaskState(None, None), "cancel_scope")
        if not isinstance(data, dict) or not hasattr(asyncio.Task, "_must_cancel"):
            return None
    except Exception:  # pragma: no cover - another anyio: the safe operations
        return None
    return data


def _cancel_pending(task: asyncio.Task[Any]) -> bool:
    """Would a cancellation land at a yield of *task* now? A native request
    not yet delivered (``Task.cancel()`` of the running task, or one of rule 4
    waiting to be delivered again), or an anyio cancel scope around it that is
    cancelled and not shielded from."""
    if task._must_cancel or (_redelivering and task in _redelivering):  # type: ignore[attr-defined]
        return True
    return _scope_cancelled(_anyio_state(task))


def _scope_cancelled(state: Any) -> bool:
    """Is an anyio cancel scope of the task whose anyio state is *state*
    cancelled, and not shielded from?"""
    if state is not None:
        scope = state.cancel_scope
        while scope is not None:
            if scope._cancel_called:
                return True
            if scope._shield:
                return False
            scope = scope._parent_scope
    return False


#: the running task's anyio state, remembered in the task's context (a weak
#: reference to the task, so an entry inherited by a task it starts is told
#: apart): the lookup in anyio's weak dictionary makes a weak reference each time
_STATE: ContextVar[tuple[weakref.ref[asyncio.Task[Any]], Any] | None] = ContextVar(
    "stbass_anyio_task_state", default=None
)


def _anyio_state(task: asyncio.Task[Any]) -> Any:
    """anyio's state of *task*, the running task (``None``: anyio keeps none
    for it: no anyio cancel scope was ever entered in it). anyio makes a task's
    state once, before the task's first cancel scope, and drops it when the
    task ends, so a state found once is the task's for good."""
    entry = _STATE.get()
    if entry is not None and entry[0]() is task:
        return entry[1]
    key = _ref(task)
    state = _task_states_get(key)
    if state is not None:
        _STATE.set((key, state))
    return state


def _cancel_pending_now() -> bool:
    """Rule 1 on asyncio, the synchronous check: is a cancellation pending for
    the running task (see :func:`_cancel_pending`)? Called before every
    commit that does not park, so written for speed."""
    loop = _loop
    if loop is None or loop._thread_id != _get_ident():  # type: ignore[attr-defined]
        loop = _running_loop()
    task = _current_task(loop)
    if task is None:  # pragma: no cover - a coroutine driven outside a task
        return False
    if task._must_cancel or _redelivering:
        return _cancel_pending(task)
    return _scope_cancelled(_anyio_state(task))


@types.coroutine
def _checkpoint_if_cancelled() -> Generator[None, None, None]:
    """Rule 1 on asyncio, when :func:`_cancel_pending_now` said so: yield until
    the pending cancellation lands (as anyio's ``checkpoint_if_cancelled``
    does); if its requester withdrew it meanwhile, return."""
    task = asyncio.current_task(_running_loop())
    while task is not None and _cancel_pending(task):
        yield


@types.coroutine
def _cancel_shielded_yield() -> Generator[None, None, None]:
    """Rule 2 on asyncio: the schedule point after a commit. The operation has
    succeeded, so a cancellation that lands here is absorbed and delivered
    again at the task's next suspension (rule 4); the next operation's check
    (:func:`_cancel_pending_now`) sees it waiting and lets it land before
    committing anything."""
    try:
        yield
    except asyncio.CancelledError as exc:
        _absorb(exc)


class _AsyncioCheckedOps(_AsyncioOps):
    """asyncio, the pattern of trio's own channels (and the one trio uses
    here): a synchronous cancellation check before a commit that does not
    park, then a cancel-shielded schedule point after it. A ping-pong then
    takes one event-loop turn per message instead of two."""

    __slots__ = ()

    yields_after_commit = True
    cancel_pending = staticmethod(_cancel_pending_now)
    before_commit = staticmethod(_checkpoint_if_cancelled)
    after_commit = staticmethod(_cancel_shielded_yield)


class _TrioOps(Ops):
    """trio: ``checkpoint_if_cancelled`` before and a cancel-shielded schedule
    point after a commit that did not park — the pattern of trio's own channels.
    Made on first use, with trio's functions bound directly (no wrapper frames)."""

    __slots__ = ("before_commit", "after_commit", "pause")

    yields_after_commit = True

    def __init__(self, lowlevel: Any) -> None:
        self.before_commit = lowlevel.checkpoint_if_cancelled
        self.after_commit = lowlevel.cancel_shielded_checkpoint
        self.pause = lowlevel.checkpoint

    def arm(self, party: Party) -> None:
        party._task = _trio_lowlevel.current_task()

    def wait(self, party: Party) -> Awaitable[Any]:
        # trio withdraws a cancelled party in ``_abort``; a commit reschedules
        # the task, after which trio no longer aborts it.
        return _trio_lowlevel.wait_task_rescheduled(party._abort)  # type: ignore[no-any-return]


_loop: asyncio.AbstractEventLoop | None = None
_get_ident = threading.get_ident
_ref = weakref.ref
_anyio_task_states = _read_anyio_state()
_task_states_get: Callable[[weakref.ref[asyncio.Task[Any]]], Any] = (
    _anyio_task_states if _anyio_task_states is not None else {}
).get
if sys.version_info >= (3, 12):
    _current_task: Callable[[asyncio.AbstractEventLoop], asyncio.Task[Any] | None] = (
        asyncio.current_task
    )
else:  # (3.11's ``current_task`` is Python around this dictionary)
    _current_task = asyncio.tasks._current_tasks.get  # type: ignore[attr-defined]
ASYNCIO_OPS: Ops = _AsyncioOps() if _anyio_task_states is None else _AsyncioCheckedOps()
sniffio_local = sniffio.thread_local
_trio_ops: _TrioOps | None = None
#: the operations by sniffio's thread-local library name (``None``: asyncio,
#: which leaves it unset); the hot path's lookup, filled in as backends load
OPS_BY_NAME: dict[str | None, Ops] = {None: ASYNCIO_OPS}


def use_asyncio_ops(new: Ops) -> Ops:
    """Make *new* the operations asyncio uses (tests run the rules with both
    kinds); returns the previous ones."""
    global ASYNCIO_OPS
    previous = ASYNCIO_OPS
    ASYNCIO_OPS = OPS_BY_NAME[None] = new
    return previous


def ops() -> Ops:
    """The operations for the async library running the current task."""
    # trio sets sniffio's thread-local name while it runs; asyncio leaves it
    # None, and anyio (which stbass runs on) knows no third library. No call to
    # ``asyncio._get_running_loop()`` here: on Python 3.11 it makes a getpid()
    # system call, once per channel operation (a fifth of a buffered send's time).
    name = sniffio_local.name
    if name is None:
        return ASYNCIO_OPS
    if name == "trio":
        return _trio_ops if _trio_ops is not None else _load_trio()
    name = sniffio.current_async_library()
    if name == "trio":
        return _trio_ops if _trio_ops is not None else _load_trio()
    if name == "asyncio":
        return ASYNCIO_OPS
    raise RuntimeError(f"stbass runs on asyncio or trio, not on {name!r}")


def _load_trio() -> _TrioOps:
    global _trio_lowlevel, _trio_ops
    _trio_lowlevel = sys.modules.get("trio.lowlevel")
    if _trio_lowlevel is None:  # pragma: no cover - trio runs, so it is imported
        import trio.lowlevel

        _trio_lowlevel = trio.lowlevel
    _trio_ops = OPS_BY_NAME["trio"] = _TrioOps(_trio_lowlevel)
    return _trio_ops
