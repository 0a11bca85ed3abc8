"""ALT and PRI_ALT: wait for the first ready guard and commit to exactly one.

An ALT first looks for a guard that is ready now. If none is, it makes one offer
per enabled channel guard (to receive, or to send a value) and parks, with a
cancel scope for its earliest timer. The first counterpart to arrive commits the
ALT synchronously on one of its offers and withdraws the others (see
``stbass._chan``), so an ALT consumes at most one value and two ALTs on opposite
ends of one channel can match each other. Waiting uses no CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any, Final, Generic, TypeVar, final

import anyio

from .. import _names as N
from . import _park
from .. import observe
from ._alt_random import ALT_RANDOM
from ._chan import Chan, Offer, first_available
from ._park import COMMITTED
from ._timer import DEADLINE, TIMER, _TimerBase
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

    ``precondition`` (a bool or a zero-argument callable) enables the guard;
    callables are evaluated when the ALT starts and again before a counterpart
    commits the waiting ALT on this guard. ``handler`` (synchronous) maps the
    received value — or the ``TimerExpired``, or the sent value — to what the
    ALT returns.

    >>> g = Guard(Chan(int, name="a"), handler=lambda v: v * 2)
    >>> s = Guard.send(Chan(str, name="out"), "hello")
    """

    __slots__ = ("target", "kind", "precondition", "handler", "value")

    def __init__(
        self,
        target: Chan[Any] | TIMER | DEADLINE | _Skip,
        *,
        precondition: Precondition = True,
        handler: Callable[[Any], R] | None = None,
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

    @classmethod
    def send(
        cls,
        channel: Chan[Any],
        value: Any,
        *,
        precondition: Precondition = True,
        handler: Callable[[Any], R] | None = None,
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


def _as_guard(owner: str, index: int, item: object) -> Guard[Any]:
    if isinstance(item, Guard):
        return item
    if isinstance(item, (Chan, _TimerBase)) or item is SKIP:
        return Guard(item)  # type: ignore[arg-type]
    raise TypeError(
        f"{owner}: guard {index} must be a Guard, Chan, TIMER, DEADLINE or SKIP, "
        f"got {type(item).__name__} {item!r}"
    )


class ALT:
    """Wait until one guard is ready, commit to it, return ``handler(value)``
    (or the value). Among guards ready at commit time, ALT picks uniformly at
    random; SKIP is chosen only when nothing else is ready.

    >>> value = await ALT(Guard(cache), Guard(search), Guard(TIMER(2.0)))  # doctest: +SKIP

    An ALT is a value: build it once, await it many times.
    """

    fair: bool = True
    __slots__ = ("guards",)

    def __init__(self, *guards: Guard[Any] | Chan[Any] | TIMER | DEADLINE | _Skip) -> None:
        owner = type(self).__name__
        if not guards:
            raise TypeError(f"{owner} needs at least one guard")
        self.guards = tuple(_as_guard(owner, i, g) for i, g in enumerate(guards))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(repr(g) for g in self.guards)})"

    def __await__(self) -> Generator[Any, None, Any]:
        return self.select().__await__()

    async def select(self) -> Any:
        """Wait and commit; return the chosen guard's ``handler(value)`` (or value)."""
        index, value = await self.choose()
        handler = self.guards[index].handler
        return handler(value) if handler is not None else value

    async def choose(self) -> tuple[int, Any]:
        """Wait and commit; return ``(index of the chosen guard, raw value)``
        without calling the handler."""
        name = "ALT" if self.fair else "PRI_ALT"
        tracer = observe.active_tracer()
        if tracer is None:
            return await _alt(self.guards, self.fair, None, None)
        with observe.span(
            name,
            {N.ALT_KIND: "fair" if self.fair else "priority", N.ALT_GUARDS: len(self.guards)},
        ) as rec:
            return await _alt(self.guards, self.fair, rec, tracer)


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


async def _alt(
    guards: tuple[Guard[Any], ...], fair: bool, rec: Any, tracer: Any
) -> tuple[int, Any]:
    ops = _park.ops()
    if ops.check_first:
        await ops.before()
    start = anyio.current_time()
    start_ns = time.time_ns() if tracer is not None else 0

    enabled: list[int] = []
    for i, g in enumerate(guards):
        if g.enabled():
            enabled.append(i)
    if not enabled:
        raise AllGuardsDisabledError(
            f"{'ALT' if fair else 'PRI_ALT'}: all {len(guards)} guards are disabled by their "
            f"preconditions"
        )

    # Validate output values before any rendezvous (errors name the channel).
    values: dict[int, Any] = {}
    for i in enabled:
        g = guards[i]
        if g.kind == SEND:
            values[i] = g.target.validate(g.value)

    deadlines: dict[int, float] = {}
    ready: list[int] = []
    skip: int | None = None
    for i in enabled:
        g = guards[i]
        kind = g.kind
        if kind == RECV:
            ch = g.target
            if ch._closed or first_available(ch._senders) is not None:
                ready.append(i)
        elif kind == SEND:
            ch = g.target
            if ch._closed or first_available(ch._receivers) is not None:
                ready.append(i)
        elif kind == TIMER_KIND:
            d = g.target.deadline_from(start)
            deadlines[i] = d
            if d <= start:
                ready.append(i)
        elif skip is None:
            skip = i

    if rec is not None:
        rec.set(N.ALT_ENABLED, len(enabled))
        rec.set(N.ALT_READY, list(ready))

    if ready or skip is not None:
        chosen = _pick(ready, fair) if ready else skip
        assert chosen is not None
        g = guards[chosen]
        value: Any = None
        if g.kind == RECV:
            ch = g.target
            sender = first_available(ch._senders)
            if sender is None:  # closed and nobody waiting
                raise ch._closed_error("recv")
            link = sender.link
            value = ch._take_from(sender)
            if tracer is not None:
                observe.record_recv(
                    tracer, ch, value, sender.party.seq, link, start_ns, 0.0, via_alt=True
                )
        elif g.kind == SEND:
            ch = g.target
            receiver = first_available(ch._receivers)
            if receiver is None:
                raise ch._closed_error("send")
            value = values[chosen]
            ch._hand_to(receiver, value, _link(rec))
        elif g.kind == TIMER_KIND:
            value = g.target.expired(start, deadlines[chosen])
            _timer_event(rec, value)
        _report(rec, chosen, g)
        await ops.after_commit()
        return chosen, value

    # Nothing ready: offer on every enabled channel guard, then park.
    party = ops.new_party()
    offers: list[Offer] = []
    link = _link(rec)
    for i in enabled:
        g = guards[i]
        if g.kind == RECV or g.kind == SEND:
            pre = g.precondition
            offer = Offer(
                party,
                g.target,
                g.kind == SEND,
                values.get(i),
                index=i,
                precondition=None if isinstance(pre, bool) else pre,
                link=link,
            )
            if g.kind == SEND:
                g.target._senders[offer] = None
            else:
                g.target._receivers[offer] = None
            offers.append(offer)
    party.offers = offers

    if deadlines:
        earliest = min(deadlines.values())
        with anyio.CancelScope(deadline=earliest):
            await ops.park(party)
    else:
        await ops.park(party)

    if party.state == COMMITTED:
        taken = party.chosen
        assert taken is not None
        chosen = taken.index
        g = guards[chosen]
        if party.error is not None:
            _report(rec, chosen, g)
            raise party.error
        if g.kind == RECV:
            value = party.value
            if tracer is not None:
                observe.record_recv(
                    tracer,
                    g.target,
                    value,
                    party.seq,
                    party.link,
                    start_ns,
                    anyio.current_time() - start,
                    via_alt=True,
                )
        else:
            value = taken.value
        _report(rec, chosen, g)
        return chosen, value

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


def _link(rec: Any) -> Any:
    if rec is None or rec.span is None:
        return None
    return rec.span.get_span_context()


def _timer_event(rec: Any, expired: Any) -> None:
    if rec is not None:
        rec.event(
            N.EVENT_TIMER_EXPIRED,
            {N.TIMER_NAME: expired.timer_name or "", N.TIMER_ELAPSED_S: expired.elapsed},
        )


def _report(rec: Any, chosen: int, g: Guard[Any]) -> None:
    if rec is not None:
        rec.set(N.ALT_CHOSEN, chosen)
        rec.set(N.ALT_CHOSEN_KIND, g.kind)
        name = g.name
        if name is not None:
            rec.set(N.ALT_CHOSEN_NAME, name)
