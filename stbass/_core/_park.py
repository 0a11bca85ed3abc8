"""Parking a task until a counterpart wakes it: the one backend-specific module.

Everything else in stbass uses anyio's public API. Channels and ALT need one
thing anyio does not offer: a wait that a *synchronous* commit can end such that
the woken task can no longer be cancelled out of the result it was handed. Trio
gives exactly that (``wait_task_rescheduled``: after ``reschedule`` the abort
callback is never called). On asyncio a future plays the part; when a native
``Task.cancel()`` lands after the commit, the woken task keeps the result and the
cancellation is re-armed so that it fires at the task's next checkpoint.

A :class:`Party` is one waiting task: a plain send, a plain recv, or an ALT with
many offers. Whoever commits a party does it synchronously, so on one event loop
committing is atomic and needs no lock.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

import sniffio

if TYPE_CHECKING:
    from ._chan import Offer, OfferLike

WAITING: Final = 0
COMMITTED: Final = 1
WITHDRAWN: Final = 2

_trio_lowlevel: Any = None

PartyT = TypeVar("PartyT", bound="Party")


class Party:
    """One waiting task and the offers it has made on channels."""

    __slots__ = (
        "state",
        "offers",
        "chosen",
        "value",
        "error",
        "seq",
        "link",
        "_fut",
        "_task",
    )

    def __init__(self) -> None:
        self.state = WAITING
        self.offers: tuple[Offer, ...] | list[Offer] = ()
        self.chosen: OfferLike | None = None
        self.value: Any = None
        self.error: BaseException | None = None
        self.seq = 0
        self.link: Any = None
        self._fut: asyncio.Future[None] | None = None
        self._task: Any = None

    def live(self) -> bool:
        """Can a counterpart commit this party now?

        An asyncio task whose future was cancelled is on its way out with a
        cancellation: it is withdrawn here, at once, instead of when it resumes.
        """
        if self.state != WAITING:
            return False
        fut = self._fut
        if fut is not None and fut.done():
            self.withdraw()
            return False
        return True

    def withdraw(self) -> None:
        """Take back every offer (idempotent); a committed party stays committed."""
        if self.state == WAITING:
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


class _Ops:
    """The backend operations a channel needs, resolved once per call.

    Every channel operation is a checkpoint. Where ``ops.check_first`` is set it
    starts with ``await ops.before()``; then comes the synchronous commit or a
    park; a commit that did not park ends with ``await ops.after_commit()``, a
    schedule point that can no longer undo the operation.
    """

    __slots__ = ()

    #: does the operation start with a cancellation check of its own?
    check_first: bool = False
    #: the cancellation check (only awaited where ``check_first`` is set)
    before: Callable[[], Awaitable[None]]
    #: the schedule point after a commit that did not park
    after_commit: Callable[[], Awaitable[None]]

    def arm(self, party: PartyT) -> PartyT:
        """Make *party* wakeable on this backend (before it makes any offer)."""
        raise NotImplementedError

    def new_party(self) -> Party:
        return self.arm(Party())

    async def park(self, party: Party) -> None:
        raise NotImplementedError


def _rearm_native_cancel(exc: BaseException) -> None:
    """Make a native ``Task.cancel()`` that landed after a commit fire at the next
    checkpoint, with the task's cancellation count unchanged (``asyncio.timeout``
    relies on that count)."""
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task
        return
    task.uncancel()
    task.cancel(exc.args[0] if exc.args else None)


class _AsyncioOps(_Ops):
    """asyncio: no yield before the operation; after a commit that did not park,
    one ``sleep(0)``. A cancellation that arrives in that yield does not undo the
    operation: it fires at the task's next checkpoint instead. An anyio cancel
    scope re-delivers it by itself (it retries while the task is inside it); a
    native ``Task.cancel()`` is re-armed."""

    __slots__ = ()

    def arm(self, party: PartyT) -> PartyT:
        party._fut = asyncio.get_running_loop().create_future()
        return party

    async def park(self, party: Party) -> None:
        try:
            await party._fut  # type: ignore[misc]
        except asyncio.CancelledError as exc:
            if party.state == COMMITTED:
                # anyio never cancels a task whose awaited future is done, so
                # this is a native cancel that landed after the commit.
                _rearm_native_cancel(exc)
                return
            party.withdraw()
            raise
        except BaseException:
            party.withdraw()
            raise

    async def after_commit(self) -> None:
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError as exc:
            import math

            import anyio

            if anyio.current_effective_deadline() != -math.inf:
                _rearm_native_cancel(exc)


class _TrioOps(_Ops):
    """trio: ``checkpoint_if_cancelled`` before and a cancel-shielded schedule
    point after a commit that did not park — the pattern of trio's own channels.
    Made on first use, with trio's functions bound directly (no wrapper frames)."""

    __slots__ = ("before", "after_commit")

    check_first = True

    def __init__(self, lowlevel: Any) -> None:
        self.before = lowlevel.checkpoint_if_cancelled
        self.after_commit = lowlevel.cancel_shielded_checkpoint

    def arm(self, party: PartyT) -> PartyT:
        party._task = _trio_lowlevel.current_task()
        return party

    async def park(self, party: Party) -> None:
        await _trio_lowlevel.wait_task_rescheduled(party._abort)


_ASYNCIO_OPS: Final = _AsyncioOps()
_trio_ops: _TrioOps | None = None


def ops() -> _Ops:
    """The operations for the async library running the current task."""
    name = sniffio.current_async_library()
    if name == "trio":
        return _trio_ops if _trio_ops is not None else _load_trio()
    if name == "asyncio":
        return _ASYNCIO_OPS
    raise RuntimeError(f"stbass runs on asyncio or trio, not on {name!r}")


def _load_trio() -> _TrioOps:
    global _trio_lowlevel, _trio_ops
    _trio_lowlevel = sys.modules.get("trio.lowlevel")
    if _trio_lowlevel is None:  # pragma: no cover - trio runs, so it is imported
        import trio.lowlevel

        _trio_lowlevel = trio.lowlevel
    _trio_ops = _TrioOps(_trio_lowlevel)
    return _trio_ops
