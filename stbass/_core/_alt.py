"""ALT and PRI_ALT: wait for the first ready guard and commit to exactly one.

An ALT first looks for a guard that is ready now. If none is, it makes one offer
per enabled channel guard (to receive, or to send a value) and parks, with a
cancel scope for its earliest timer. The first counterpart to arrive commits the
ALT synchronously on one of its offers and withdraws the others (see
``stbass._chan``), so an ALT consumes at most one value and two ALTs on opposite
ends of one channel can match each other. Waiting uses no CPU.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Generator
from typing import Any, Final, Generic, TypeVar, final

import anyio

from .. import _names as N
from . import _hook, _park
from ._alt_random import ALT_RANDOM
from ._chan import WOULD_BLOCK, Chan, Done, Offer, OfferLike
from ._hook import Instrument, Recorder
from ._park import COMMITTED, POKED, WAITING, Party
from ._timer import DEADLINE, TIMER, TimerExpired, _TimerBase
from ._util import is_coroutine_function

R = TypeVar("R")

RECV: Final = "recv"
SEND: Final = "send"
TIMER_KIND: Final = "timer"
SKIP_KIND: Final = "skip"


class AllGuardsDisabledError(RuntimeError):
    """Every guard of an ALT was disabled by its precondition: nothing could ever
    be chosen.

    >>> import anyio
    >>> anyio.run(ALT(Guard(Chan(int), precondition=False)).select)
    Traceback (most recent call last):
      ...
    stbass.AllGuardsDisabledError: ALT: all 1 guards are disabled by their preconditions
    """


@final
class _Skip:
    """The guard that is always ready, chosen only when no other guard is."""

    _instance: _Skip | None = None

    def __new__(cls) -> _Skip:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SKIP"

    def __reduce__(self) -> str:
        return "SKIP"


SKIP: Final = _Skip()

Precondition = bool | Callable[[], bool]


@final
class Guard(Generic[R]):
    """One alternative of an ALT: a channel to receive from, a value to send
    (:meth:`Guard.send`), a timer, or SKIP.

    ``precondition`` (a bool or a zero-argument callable) enables the guard.
    ``False`` disables it for good; a callable is evaluated when the ALT starts,
    whenever it wakes, and when a counterpart arrives on the guard's channel, so
    a guard disabled at the start can fire later. ``handler`` (synchronous)
    maps the received value — or the ``TimerExpired``, or the sent value — to
    what the ALT returns; a handler that takes no argument is called without.

    >>> g = Guard(Chan(int, name="a"), handler=lambda v: v * 2)
    >>> s = Guard.send(Chan(str, name="out"), "hello")
    """

    __slots__ = ("target", "kind", "precondition", "handler", "value", "_takes_value")

    def __init__(
        self,
        target: Chan[Any] | TIMER | DEADLINE | _Skip,
        *,
        precondition: Precondition = True,
        handler: Callable[[Any], R] | Callable[[], R] | None = None,
    ) -> None:
        if isinstance(target, Chan):
            kind = RECV
        elif isinstance(target, _TimerBase):
            kind = TIMER_KIND
        elif target is SKIP:
            kind = SKIP_KIND
        else:
            raise TypeError(
                f"Guard: expected a Chan, TIMER, DEADLINE or SKIP, got {type(target).__name__} "
                f"{target!r}"
            )
        self._setup(target, kind, precondition, handler, None)

    def _setup(
        self, target: Any, kind: str, precondition: Any, handler: Any, value: Any
    ) -> None:
        if not isinstance(precondition, bool) and not callable(precondition):
            raise TypeError(
                f"Guard({target!r}): precondition must be a bool or a zero-argument "
                f"callable, got {type(precondition).__name__}"
            )
        if handler is not None:
            if is_coroutine_function(handler):
                raise TypeError(
                    f"Guard({target!r}): handler {getattr(handler, '__name__', handler)!r} is "
                    f"a coroutine function; handlers are synchronous (do async work after "
                    f"the ALT returns)"
                )
            if not callable(handler):
                raise TypeError(
                    f"Guard({target!r}): handler must be callable, got {type(handler).__name__}"
                )
        self.target = target
        self.kind = kind
        self.precondition = precondition
        self.handler = handler
        self.value = value
        self._takes_value = handler is None or _takes_one_argument(handler)

    def call(self, value: Any) -> Any:
        """What the ALT returns when it chooses this guard: ``handler(value)``,
        ``handler()`` for a handler that takes no argument (as in stbass 0.1,
        e.g. ``Guard(SKIP, handler=lambda: "skipped")``), or the value itself.

        >>> Guard(SKIP, handler=lambda: "skipped").call(None)
        'skipped'
        >>> Guard(Chan(int), handler=lambda v: v + 1).call(1)
        2
        """
        handler = self.handler
        if handler is None:
            return value
        if self._takes_value:
            return handler(value)
        return handler()

    @classmethod
    def send(
        cls,
        channel: Chan[Any],
        value: Any,
        *,
        precondition: Precondition = True,
        handler: Callable[[Any], R] | Callable[[], R] | None = None,
    ) -> Guard[R]:
        """An output guard: ready when a receiver (or an ALT receiving on
        *channel*) waits; committing sends *value*."""
        if not isinstance(channel, Chan):
            raise TypeError(f"Guard.send: expected a Chan, got {type(channel).__name__} {channel!r}")
        guard: Guard[R] = cls.__new__(cls)
        guard._setup(channel, SEND, precondition, handler, value)
        return guard

    def enabled(self) -> bool:
        """Evaluate the precondition now: may the ALT choose this guard?

        >>> open_ = {"a": False}
        >>> g = Guard(Chan(int), precondition=lambda: open_["a"])
        >>> g.enabled()
        False
        >>> open_["a"] = True
        >>> g.enabled()
        True
        """
        pre = self.precondition
        if pre is True:
            return True
        if pre is False:
            return False
        return bool(pre())

    @property
    def name(self) -> str | None:
        """The name of the guard's channel or timer (``None`` for SKIP or an
        unnamed timer); spans and errors use it.

        >>> Guard(Chan(int, name="requests")).name
        'requests'
        >>> Guard(TIMER(1.0, name="timeout")).name
        'timeout'
        """
        target = self.target
        if isinstance(target, Chan):
            return target.name
        if isinstance(target, _TimerBase):
            return target.name
        return None

    def __repr__(self) -> str:
        if self.kind == SEND:
            text = f"Guard.send({self.target!r}, {self.value!r}"
        else:
            text = f"Guard({self.target!r}"
        if self.precondition is not True:
            pre = self.precondition
            text += f", precondition={pre if isinstance(pre, bool) else getattr(pre, '__name__', pre)}"
        if self.handler is not None:
            text += f", handler={getattr(self.handler, '__name__', self.handler)}"
        return text + ")"


def _takes_one_argument(handler: Callable[..., Any]) -> bool:
    """Can *handler* be called with one positional argument? (If its signature
    cannot be read, assume it can.)"""
    try:
        sig = inspect.signature(handler)
    except (TypeError, ValueError):
        return True
    try:
        sig.bind(None)
    except TypeError:
        try:
            sig.bind()
        except TypeError:
            return True  # neither works: let the call report the mismatch
        return False
    return True


def _as_guard(owner: str, index: int, item: object) -> Guard[Any]:
    if isinstance(item, Guard):
        return item
    if isinstance(item, (Chan, _TimerBase)) or item is SKIP:
        return Guard(item)  # type: ignore[arg-type]
    raise TypeError(
        f"{owner}: guard {index} must be a Guard, Chan, TIMER, DEADLINE or SKIP, "
        f"got {type(item).__name__} {item!r}"
    )


class ALT(Coroutine[Any, Any, Any]):
    """Wait until one guard is ready, commit to it, return ``handler(value)``
    (or the value). Among guards ready at commit time, ALT picks uniformly at
    random; SKIP is chosen only when nothing else is ready.

    >>> value = await ALT(Guard(cache), Guard(search), Guard(TIMER(2.0)))  # doctest: +SKIP

    An ALT is a value: build it once, await it many times. It is also a
    coroutine, as in stbass 0.1, so ``asyncio.create_task(ALT(...))``,
    ``asyncio.wait_for(ALT(...), t)`` and ``tg.start_soon(ALT, g1, g2)`` work
    (used that way, one ALT object runs once).
    """

    fair: bool = True
    __slots__ = ("guards", "_coro", "_shape")

    def __init__(self, *guards: Guard[Any] | Chan[Any] | TIMER | DEADLINE | _Skip) -> None:
        owner = type(self).__name__
        if not guards:
            raise TypeError(f"{owner} needs at least one guard")
        self.guards = tuple(_as_guard(owner, i, g) for i, g in enumerate(guards))
        self._coro: Coroutine[Any, Any, Any] | None = None
        self._shape: _Shape | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(g) for g in self.guards)})"

    def __await__(self) -> Generator[Any, None, Any]:
        return self.select().__await__()

    # The coroutine protocol, for code that drives an ALT as a coroutine object
    # (``create_task``, trio's ``start_soon``): one run of :meth:`select`.
    def _driven(self) -> Coroutine[Any, Any, Any]:
        coro = self._coro
        if coro is None:
            coro = self._coro = self.select()
        return coro

    def send(self, value: Any) -> Any:
        return self._driven().send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if val is None and tb is None:
            return self._driven().throw(typ)
        return self._driven().throw(typ, val, tb)  # pragma: no cover - legacy signature

    def close(self) -> None:
        if self._coro is not None:
            self._coro.close()

    async def select(self) -> Any:
        """Wait and commit; return the chosen guard's ``handler(value)`` (or value)."""
        index, value = await self.choose()
        return self.guards[index].call(value)

    async def choose(self) -> tuple[int, Any]:
        """Wait and commit; return ``(index of the chosen guard, raw value)``
        without calling the handler."""
        if _hook.gate() is None or (ins := _hook.active()) is None:
            return await _alt(self, None, None)
        with ins.span(
            "ALT" if self.fair else "PRI_ALT",
            {N.ALT_KIND: "fair" if self.fair else "priority", N.ALT_GUARDS: len(self.guards)},
        ) as rec:
            return await _alt(self, ins, rec)


@final
class PRI_ALT(ALT):
    """Like :class:`ALT`, but picks the first ready guard in declaration order.

    >>> value = await PRI_ALT(Guard(urgent), Guard(normal), SKIP)  # doctest: +SKIP
    """

    fair = False
    __slots__ = ()


def _pick(ready: list[int], fair: bool) -> int:
    if len(ready) == 1 or not fair:
        return ready[0]
    return ready[ALT_RANDOM.randrange(len(ready))]


_EMPTY: dict[int, Any] = {}


class _Shape:
    """What an ALT's guards are, worked out once per ALT value."""

    __slots__ = ("all_false", "sends", "timers")

    def __init__(self, guards: tuple[Guard[Any], ...]) -> None:
        self.all_false = all(g.precondition is False for g in guards)
        self.sends = tuple(i for i, g in enumerate(guards) if g.kind == SEND)
        self.timers = tuple(i for i, g in enumerate(guards) if g.kind == TIMER_KIND)


async def _alt(
    alt: ALT, ins: Instrument | None, rec: Recorder | None
) -> tuple[int, Any]:
    guards = alt.guards
    fair = alt.fair
    shape = alt._shape
    if shape is None:
        shape = alt._shape = _Shape(guards)
    ops = _park.ops()
    owner = "ALT" if fair else "PRI_ALT"
    if shape.all_false:
        raise AllGuardsDisabledError(
            f"{owner}: all {len(guards)} guards are disabled by their preconditions"
        )
    start = anyio.current_time() if (shape.timers or ins is not None) else 0.0
    # Validate output values before any rendezvous (errors name the channel).
    values = (
        {i: guards[i].target._check(guards[i].value) for i in shape.sends}
        if shape.sends
        else _EMPTY
    )
    deadlines: dict[int, float] = (
        {i: guards[i].target.deadline_from(start) for i in shape.timers}
        if shape.timers
        else _EMPTY
    )
    link = rec.link if rec is not None else None
    checked = False  # passed the cancellation point of rule 1 (or parked) yet?
    while True:
        # One look at the guards: which are enabled and ready, which to offer on.
        now = anyio.current_time() if deadlines else start
        ready: list[int] = []
        offerable: list[int] = []
        skip: int | None = None
        enabled = 0
        for i, g in enumerate(guards):
            pre = g.precondition
            if pre is False:
                continue
            on = pre is True or bool(pre())
            kind = g.kind
            if kind == RECV or kind == SEND:
                if not on:
                    # a counterpart re-evaluates the precondition when it arrives
                    if not g.target._closed:
                        offerable.append(i)
                    continue
                enabled += 1
                if g.target._ready(kind == SEND):
                    ready.append(i)
                else:
                    offerable.append(i)
            elif not on:
                continue
            elif kind == TIMER_KIND:
                enabled += 1
                if deadlines[i] <= now:
                    ready.append(i)
            else:
                enabled += 1
                if skip is None:
                    skip = i
        if rec is not None:
            rec.set(N.ALT_ENABLED, enabled)
            rec.set(N.ALT_READY, list(ready))
        if ready or skip is not None:
            if not checked:
                checked = True
                pending = ops.cancel_pending
                if pending is None or pending():
                    await ops.before_commit()  # rule 1; then look again
                    continue
            chosen = _pick(ready, fair) if ready else skip
            assert chosen is not None
            g = guards[chosen]
            value: Any = None
            if g.kind == RECV or g.kind == SEND:
                done = Done(None, 0, None)
                moved = g.target._complete(g.kind == SEND, values.get(chosen), link, done)
                if moved is WOULD_BLOCK:  # pragma: no cover - _ready said it would complete
                    raise RuntimeError(f"{owner}: guard {chosen} was ready and then was not")
                value = done.value
                if g.kind == RECV and ins is not None and rec is not None:
                    ins.alt_received(rec, g.target, value, done.seq, done.link, 0.0)
            elif g.kind == TIMER_KIND:
                value = g.target.expired(start, deadlines[chosen])
                _timer_event(rec, value)
            _report(rec, chosen, g)
            if ops.yields_after_commit:
                await ops.after_commit()  # rule 2
            return chosen, value
        if not offerable and not deadlines:
            raise AllGuardsDisabledError(
                f"{owner}: none of its {len(guards)} guards is enabled and none can become "
                f"ready (no channel to wait on, no timer)"
            )
        checked = True  # parking is a cancellation point
        # Nothing ready: offer on the channel guards, then park.
        party = Party()
        ops.arm(party)
        offers: list[OfferLike] = []
        for i in offerable:
            g = guards[i]
            pre = g.precondition
            offer = Offer(
                party,
                g.target,
                g.kind == SEND,
                values.get(i),
                i,
                None if pre is True else pre,
                link,
            )
            g.target._offer(offer)
            offers.append(offer)
        party.offers = offers
        proc: Any = _hook.CURRENT.get()  # (a RunningProcess, or None)
        watch = proc.watch if proc is not None else None
        if watch is not None:  # deadlock detection (see stbass/_compose/_deadlock.py)
            held = proc.parked
            proc.parked = party
            if deadlines or held.state is WAITING or proc.witness.parked.state is WAITING:
                watch.parking(proc, party, held, bool(deadlines))  # (a timer: never deadlocked)
            else:
                watch = None  # the fast path: another process is awake
        try:
            if deadlines:
                with anyio.CancelScope(deadline=min(deadlines.values())):
                    await ops.park(party)
            else:
                await ops.park(party)
        finally:
            if watch is not None:
                watch.unparked(proc, party)
        state = party.state
        if state is COMMITTED:
            taken = party.chosen
            assert taken is not None
            chosen = taken.index
            g = guards[chosen]
            _report(rec, chosen, g)
            if party.error is not None:
                raise party.error
            if g.kind == RECV:
                value = party.value
                if ins is not None and rec is not None:
                    ins.alt_received(
                        rec, g.target, value, party.seq, party.link, anyio.current_time() - start
                    )
            else:
                value = taken.value
            return chosen, value
        if state is POKED:
            continue  # a guard's channel changed: look at the guards again
        # A timer fired (our own cancel scope ended the wait; the offers are withdrawn).
        party.withdraw()
        now = anyio.current_time()
        expired = [i for i, d in deadlines.items() if d <= now] or [
            min(deadlines, key=deadlines.__getitem__)
        ]
        chosen = _pick(sorted(expired), fair)
        g = guards[chosen]
        value = g.target.expired(start, deadlines[chosen])
        _timer_event(rec, value)
        _report(rec, chosen, g)
        return chosen, value


def _timer_event(rec: Recorder | None, expired: TimerExpired) -> None:
    if rec is not None:
        elapsed: Any = expired.elapsed
        seconds = elapsed.total_seconds() if hasattr(elapsed, "total_seconds") else elapsed
        rec.event(
            N.EVENT_TIMER_EXPIRED,
            {N.TIMER_NAME: expired.timer_name or "", N.TIMER_ELAPSED_S: float(seconds)},
        )


def _report(rec: Recorder | None, chosen: int, g: Guard[Any]) -> None:
    if rec is not None:
        rec.set(N.ALT_CHOSEN, chosen)
        rec.set(N.ALT_CHOSEN_KIND, g.kind)
        name = g.name
        if name is not None:
            rec.set(N.ALT_CHOSEN_NAME, name)
