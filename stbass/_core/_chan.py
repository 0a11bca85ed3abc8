"""Typed channels (rendezvous, or buffered with ``capacity=n``) and the one
offer/commit step that send, recv and ALT guards all use.

A channel holds, per direction, the offers of the tasks waiting on it: plain
senders and receivers, and the guards of waiting ALTs. Whoever arrives second
commits the pair synchronously (one event loop, so no lock is needed): the value
moves, the waiting party is marked committed, its other offers are withdrawn and
it is woken. A party can only be committed while it is still waiting, and a
cancelled party withdraws all its offers before the cancellation reaches its
code, so every value is delivered exactly once or not at all (SPEC §4).

A buffered channel adds a FIFO of at most ``capacity`` values between the two
directions: a send completes into the buffer while there is room, a recv takes
from it and pulls the oldest waiting sender's value in behind.
"""

from __future__ import annotations

import collections
import inspect
import itertools
import sys
import typing
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeAlias, TypeVar, final, overload

import anyio

from . import _alt_random, _hook, _park
from ._park import COMMITTED, POKED, WAITING, WITHDRAWN, Party
from ._util import describe_type

T = TypeVar("T")

_name_counter = itertools.count(1)


# --------------------------------------------------------------------- errors


class ChannelClosedError(anyio.ClosedResourceError):
    """The channel was closed: raised by every send and recv after ``close()``,
    and in every task that was waiting on it when it closed.

    A subclass of ``anyio.ClosedResourceError``; ``channel`` is the channel's name.
    ``async for`` over a channel ends quietly when it closes instead.

    >>> ch = Chan(int, name="numbers")
    >>> ch.close()
    >>> ch.send_nowait(1)
    Traceback (most recent call last):
      ...
    stbass.ChannelClosedError: send on closed channel 'numbers'
    """

    def __init__(self, message: str, *, channel: str | None = None) -> None:
        super().__init__(message)
        self.channel = channel


class ChannelTypeError(TypeError):
    """A value does not match the channel's type; raised in the sender, before any
    rendezvous. The message names the channel, the expected and the actual type.

    >>> Chan(int, name="numbers").validate("seven")
    Traceback (most recent call last):
      ...
    stbass.ChannelTypeError: channel 'numbers' expects int, got str ('seven')
    """

    def __init__(self, message: str, *, channel: str | None = None) -> None:
        super().__init__(message)
        self.channel = channel


class ChannelProtocolError(ChannelTypeError):
    """A value breaks the channel's :class:`SequentialProtocol` (wrong position or
    past the end of the protocol).

    >>> ch = Chan(SequentialProtocol(str, int), name="order")
    >>> ch.validate(3)   # the first value must be the str
    Traceback (most recent call last):
      ...
    stbass.ChannelProtocolError: channel 'order': value 1 of ... must be str, got int (3)
    """


class ChannelTopologyError(RuntimeError):
    """A second writer or reader tried to bind to a point-to-point channel.

    >>> ch = Chan(int, name="numbers")
    >>> ch.bind_writer("producer")
    >>> ch.bind_writer("intruder")
    Traceback (most recent call last):
      ...
    stbass.ChannelTopologyError: channel 'numbers' already has writer 'producer'; ...
    """

    def __init__(self, message: str, *, channel: str | None = None) -> None:
        super().__init__(message)
        self.channel = channel


# ------------------------------------------------------------------ protocols


@final
class SequentialProtocol:
    """Values on the channel must follow these types in this order.

    >>> proto = SequentialProtocol(str, int)   # a name, then a count
    """

    __slots__ = ("types",)

    def __init__(self, *types: Any) -> None:
        if not types:
            raise ValueError("SequentialProtocol needs at least one type")
        self.types = types

    def __repr__(self) -> str:
        return f"SequentialProtocol({', '.join(describe_type(t) for t in self.types)})"


@final
class VariantProtocol:
    """Each value on the channel may be any one of these types.

    >>> proto = VariantProtocol(int, str)
    """

    __slots__ = ("types",)

    def __init__(self, *types: Any) -> None:
        if not types:
            raise ValueError("VariantProtocol needs at least one type")
        self.types = types

    def __repr__(self) -> str:
        return f"VariantProtocol({', '.join(describe_type(t) for t in self.types)})"


Checker = Callable[[Any], Any]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _build_checker(spec: Any) -> Checker | None:
    """A function that returns the value to send (maybe coerced) or raises
    ``_Mismatch``; ``None`` means every value is accepted."""
    if spec is Any or spec is object:
        return None
    try:
        import pydantic
    except ImportError:  # pragma: no cover - pydantic is a dependency
        pydantic = None  # type: ignore[assignment]
    if pydantic is not None and isinstance(spec, type) and issubclass(spec, pydantic.BaseModel):
        model = spec

        def check_model(value: Any) -> Any:
            if isinstance(value, model):
                return value
            if isinstance(value, dict):
                try:
                    return model.model_validate(value)
                except pydantic.ValidationError as exc:
                    raise _Mismatch(_pydantic_reason(exc)) from None
                except Exception as exc:  # a validator that raised something else
                    raise _Mismatch(f"{type(exc).__name__}: {exc}") from None
            raise _Mismatch(None)

        return check_model
    if isinstance(spec, type) and typing.get_origin(spec) is None and _supports_isinstance(spec):
        cls = spec

        def check_instance(value: Any) -> Any:
            if isinstance(value, cls):
                return value
            raise _Mismatch(None)

        return check_instance
    if pydantic is None:  # pragma: no cover
        raise TypeError(f"type {spec!r} needs pydantic to be validated")
    try:
        adapter = pydantic.TypeAdapter(spec)
    except Exception as exc:
        raise TypeError(f"cannot validate values against {spec!r}: {exc}") from None

    def check_adapter(value: Any) -> Any:
        try:
            adapter.validate_python(value, strict=True)
        except pydantic.ValidationError as exc:
            raise _Mismatch(_pydantic_reason(exc)) from None
        except Exception as exc:  # a validator that raised something else
            raise _Mismatch(f"{type(exc).__name__}: {exc}") from None
        return value

    return check_adapter


def _supports_isinstance(cls: type) -> bool:
    # TypedDicts and non-runtime protocols are types that refuse isinstance().
    try:
        isinstance(None, cls)
    except TypeError:
        return False
    return True


def _pydantic_reason(exc: Any) -> str:
    errors = exc.errors()
    if not errors:
        return str(exc)
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()))
    return f"{loc + ': ' if loc else ''}{first.get('msg', '')}"


class _Mismatch(Exception):
    def __init__(self, reason: str | None) -> None:
        self.reason = reason


# --------------------------------------------------------------------- offers


class Offer:
    """An ALT's offer to send (with a value) or receive on one channel."""

    __slots__ = ("party", "chan", "is_send", "value", "index", "precondition", "link")

    def __init__(
        self,
        party: Party,
        chan: Chan[Any],
        is_send: bool,
        value: Any = None,
        index: int = 0,
        precondition: Callable[[], bool] | None = None,
        link: object = None,
    ) -> None:
        self.party = party
        self.chan = chan
        self.is_send = is_send
        self.value = value
        self.index = index
        self.precondition = precondition
        self.link = link

    def remove(self) -> None:
        (self.chan._senders if self.is_send else self.chan._receivers).pop(self, None)

    def enabled(self) -> bool:
        """Does the guard's precondition hold now? (A precondition that raises
        counts as false here: the counterpart evaluating it is another task.)"""
        pre = self.precondition
        if pre is None:
            return True
        try:
            return bool(pre())
        except Exception:
            return False

    def available(self) -> bool:
        """Is the party still waiting, and the guard enabled?"""
        return self.party.live() and self.enabled()


class Solo(Party):
    """A plain send or recv: a party with exactly one offer, in one object
    (one allocation per waiting operation instead of three)."""

    __slots__ = ("chan", "is_send")

    #: an ALT guard's position; a plain operation has one "guard"
    index = 0
    #: plain operations have no precondition
    precondition = None

    def __init__(self, chan: Chan[Any], is_send: bool, value: Any, link: object) -> None:
        self.state = WAITING
        self.offers = ()
        self.chosen = None
        self.value = value  # the value offered (send) or received (recv)
        self.error = None
        self.seq = 0
        self.link = link  # the sender's instrument token
        self._fut = None
        self._task = None
        self.chan = chan
        self.is_send = is_send

    @property
    def party(self) -> Solo:
        return self

    def remove(self) -> None:
        (self.chan._senders if self.is_send else self.chan._receivers).pop(self, None)

    def enabled(self) -> bool:
        return True

    #: a plain operation is available while it waits (no precondition)
    available = Party.live

    def withdraw(self) -> None:
        if self.state is WAITING:
            self.state = WITHDRAWN
        self.remove()

    def commit(self, offer: OfferLike) -> None:
        self.state = COMMITTED
        self.chosen = self
        (self.chan._senders if self.is_send else self.chan._receivers).pop(self, None)
        fut = self._fut  # (``_wake``, inline)
        if fut is not None:
            fut.set_result(None)
        else:
            _park._trio_lowlevel.reschedule(self._task)


OfferLike: TypeAlias = "Offer | Solo"


def first_available(waiting: dict[OfferLike, None]) -> OfferLike | None:
    """The oldest offer in *waiting* that can be committed now, or ``None``."""
    if not waiting:
        return None
    if _alt_random.EXPLORER is not None and len(waiting) > 1:
        return _explored(waiting, _alt_random.EXPLORER)
    offer = next(iter(waiting))
    if offer.available():
        return offer
    for offer in list(waiting):  # the oldest one withdrew or is disabled: look on
        if offer.available():
            return offer
    return None


def _explored(waiting: dict[OfferLike, None], choose: Callable[[int], int]) -> OfferLike | None:
    """``stbass.testing.explore`` decides which available offer commits first."""
    ready = [offer for offer in list(waiting) if offer.available()]
    if len(ready) <= 1:
        return ready[0] if ready else None
    return ready[choose(len(ready))]


class _WouldBlock:
    __slots__ = ()

    def __repr__(self) -> str:
        return "WOULD_BLOCK"


#: what :meth:`Chan._complete` returns when the operation would have to wait
WOULD_BLOCK: Final = _WouldBlock()


class Done:
    """What a completed operation hands back: the value moved, its message
    number and the sender's instrument token."""

    __slots__ = ("value", "seq", "link")

    def __init__(self, value: Any, seq: int, link: object) -> None:
        self.value = value
        self.seq = seq
        self.link = link


@final
@dataclass(frozen=True)
class ChanStatistics:
    """A snapshot of a channel's state (see :meth:`Chan.statistics`).

    >>> ch = Chan(int, name="numbers")
    >>> stats = ch.statistics()
    >>> stats.messages, stats.waiting_senders, stats.closed
    (0, 0, False)

    ``messages`` counts the values sent so far (into the buffer, for a buffered
    channel); ``buffered`` the values sent but not yet received.
    """

    name: str
    type: str
    closed: bool
    messages: int
    waiting_senders: int
    waiting_receivers: int
    writer: str | None
    reader: str | None
    capacity: int = 0
    buffered: int = 0


_PENDING: Any = object()


# -------------------------------------------------------------------- channel


@final
class Chan(Generic[T]):
    """A typed channel: zero-buffer by default, so ``send`` returns only once a
    receiver has the value; with ``capacity=n`` a FIFO buffer of *n* values.

    >>> ch = Chan(int, name="numbers")
    >>> ch2 = Chan[str]("names")
    >>> jobs = Chan(str, name="jobs", capacity=64)

    Create it anywhere (also at import time, outside any event loop); whichever
    backend then runs uses it. See the channels page of the docs for the rules.
    """

    __slots__ = (
        "_name",
        "_spec",
        "_checker",
        "_proto",
        "_proto_pos",
        "_senders",
        "_receivers",
        "_closed",
        "_writer",
        "_reader",
        "_seq",
        "_orig",
        "_obs",
        "_capacity",
        "_buffer",
        "__weakref__",
    )

    @overload
    def __init__(
        self, type_spec: type[T], *, name: str | None = None, capacity: int = 0
    ) -> None: ...
    @overload
    def __init__(
        self, type_spec: Any = ..., *, name: str | None = None, capacity: int = 0
    ) -> None: ...

    def __init__(
        self, type_spec: Any = _PENDING, *, name: str | None = None, capacity: int = 0
    ) -> None:
        if isinstance(type_spec, str):
            # ``Chan[int]("name")``: the generic alias sets the type right after
            # construction (see ``__orig_class__``).
            if name is not None:
                raise TypeError(
                    f"Chan: the type must not be a string (got {type_spec!r}); "
                    f"write Chan(T, name={name!r}) or Chan[T]({name!r})"
                )
            name, type_spec = type_spec, _PENDING
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Chan: name must be a str, got {type(name).__name__}")
        self._name = name if name is not None else f"chan-{next(_name_counter)}"
        if isinstance(capacity, bool) or not isinstance(capacity, int):
            raise TypeError(
                f"Chan {self._name!r}: capacity must be an int, got {type(capacity).__name__}"
            )
        if capacity < 0:
            raise ValueError(f"Chan {self._name!r}: capacity must be >= 0, got {capacity}")
        self._capacity = capacity
        self._buffer: collections.deque[Done] | None = (
            collections.deque() if capacity else None
        )
        self._senders: dict[OfferLike, None] = {}
        self._receivers: dict[OfferLike, None] = {}
        self._closed = False
        self._writer: str | None = None
        self._reader: str | None = None
        self._seq = 0
        self._orig: Any = None
        self._obs: Any = None  # per-channel cache of an instrument (span names, attributes)
        self._proto: tuple[Checker | None, ...] | None = None
        self._proto_pos = 0
        self._spec: Any = _PENDING
        self._checker: Checker | None = None
        if type_spec is not _PENDING:
            self._set_spec(type_spec)

    def _set_spec(self, spec: Any) -> None:
        try:
            if isinstance(spec, (SequentialProtocol, VariantProtocol)):
                checkers = tuple(_build_checker(t) for t in spec.types)
                if isinstance(spec, SequentialProtocol):
                    self._proto = checkers
                else:
                    self._checker = _variant_checker(checkers)
            else:
                self._checker = _build_checker(spec)
        except TypeError as exc:
            raise TypeError(f"Chan {self._name!r}: {exc}") from None
        self._spec = spec

    # ``typing`` sets ``__orig_class__`` on objects created through ``Chan[int](...)``.
    @property
    def __orig_class__(self) -> Any:
        return self._orig

    @__orig_class__.setter
    def __orig_class__(self, alias: Any) -> None:
        self._orig = alias
        if self._spec is _PENDING:
            args = typing.get_args(alias)
            if len(args) == 1:
                self._set_spec(args[0])

    # ----------------------------------------------------------- properties

    @property
    def name(self) -> str:
        """The channel's name, given or generated (``chan-<n>``); it names the
        channel in spans and error messages.

        >>> Chan(int, name="numbers").name
        'numbers'
        """
        return self._name

    @property
    def type_spec(self) -> Any:
        """The type (or protocol) values are checked against; ``None`` while a
        ``Chan()`` has no type yet.

        >>> Chan[str]("names").type_spec
        <class 'str'>
        """
        return None if self._spec is _PENDING else self._spec

    @property
    def capacity(self) -> int:
        """How many values the channel buffers (0: a rendezvous channel).

        >>> Chan(int, capacity=8).capacity
        8
        """
        return self._capacity

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has been called.

        >>> ch = Chan(int)
        >>> ch.close()
        >>> ch.closed
        True
        """
        return self._closed

    @property
    def type_name(self) -> str:
        """A short name of :attr:`type_spec` for messages and spans (``"?"``
        while there is no type yet).

        >>> Chan(list[int]).type_name
        'list[int]'
        """
        return "?" if self._spec is _PENDING else describe_type(self._spec)

    def __repr__(self) -> str:
        extra = f", capacity={self._capacity}" if self._capacity else ""
        return f"Chan({self.type_name}, name={self._name!r}{extra})"

    def statistics(self) -> ChanStatistics:
        """Counts of waiting senders/receivers, messages sent and values buffered.

        >>> ch = Chan(int, capacity=2)
        >>> ch.send_nowait(1)
        >>> ch.statistics().buffered
        1
        """
        return ChanStatistics(
            name=self._name,
            type=self.type_name,
            closed=self._closed,
            messages=self._seq,
            waiting_senders=len(self._senders),
            waiting_receivers=len(self._receivers),
            writer=self._writer,
            reader=self._reader,
            capacity=self._capacity,
            buffered=len(self._buffer) if self._buffer is not None else 0,
        )

    # ----------------------------------------------------------- validation

    def validate(self, value: Any) -> Any:
        """Check *value* against the channel type and return what would be sent
        (a dict becomes the channel's pydantic model). Raises
        :class:`ChannelTypeError` naming the channel, expected and actual type.

        For a :class:`SequentialProtocol` the check is against the position of
        the next value to be delivered (sends check again when they commit)."""
        if self._spec is _PENDING:
            raise ChannelTypeError(
                f"channel {self._name!r} has no type: create it as Chan(T, name=...) "
                f"or Chan[T](name)",
                channel=self._name,
            )
        if self._proto is not None:
            return self._admit(value)
        checker = self._checker
        if checker is None:
            return value
        try:
            return checker(value)
        except _Mismatch as exc:
            raise ChannelTypeError(
                f"channel {self._name!r} expects {self.type_name}, got "
                f"{type(value).__name__} ({_short(value)})"
                + (f": {exc.reason}" if exc.reason else ""),
                channel=self._name,
            ) from None

    def _check(self, value: Any) -> Any:
        """The check a value passes before any rendezvous: the type; for a
        :class:`SequentialProtocol`, the position it would take if no other
        sender waits (with other senders waiting the position is not known yet:
        :meth:`_admit` checks it when the value is delivered)."""
        checker = self._checker
        if checker is not None:
            try:
                return checker(value)
            except _Mismatch:
                return self.validate(value)  # raises the full ChannelTypeError
        if self._proto is not None:
            if not self._senders:
                self._admit(value)
            return value
        if self._spec is _PENDING:
            return self.validate(value)  # raises: no type
        return value

    def _admit(self, value: Any) -> Any:
        """The protocol check at the moment a value is delivered (position by
        position, so two waiting senders cannot both pass for one position)."""
        proto = self._proto
        if proto is None:
            return value
        pos = self._proto_pos
        types = self._spec.types
        if pos >= len(proto):
            raise ChannelProtocolError(
                f"channel {self._name!r}: {self._spec!r} has ended after "
                f"{len(proto)} values; got another {type(value).__name__} "
                f"({_short(value)})",
                channel=self._name,
            )
        checker = proto[pos]
        if checker is None:
            return value
        try:
            return checker(value)
        except _Mismatch as exc:
            raise ChannelProtocolError(
                f"channel {self._name!r}: value {pos + 1} of {self._spec!r} must be "
                f"{describe_type(types[pos])}, got {type(value).__name__} "
                f"({_short(value)})" + (f": {exc.reason}" if exc.reason else ""),
                channel=self._name,
            ) from None

    def _closed_error(self, op: str) -> ChannelClosedError:
        return ChannelClosedError(f"{op} on closed channel {self._name!r}", channel=self._name)

    def _delivered(self) -> int:
        self._seq += 1
        if self._proto is not None:
            self._proto_pos += 1
        return self._seq

    # ----------------------------------------------- the one rendezvous step
    #
    # ``_ready`` and ``_complete`` are the synchronous halves every operation
    # uses (send, recv, their ``_nowait`` forms and ALT guards); ``_operate``
    # adds the checkpoint rules of ``stbass._core._park`` and the park.

    def _ready(self, is_send: bool) -> bool:
        """Would an operation in this direction complete (or fail as closed) now?"""
        if self._closed:
            return True
        if is_send:
            buf = self._buffer
            if buf is not None and len(buf) < self._capacity:
                return True
            return first_available(self._receivers) is not None
        if self._buffer:
            return True
        return first_available(self._senders) is not None

    def _complete(self, is_send: bool, value: Any, link: object, out: Done | None) -> Any:
        """Complete an operation now if it can: commit the counterpart, or use
        the buffer. Returns the value moved (``WOULD_BLOCK`` when it would have
        to wait) and, when *out* is given, fills it with the value, message
        number and sender's token. Raises :class:`ChannelClosedError` (closed)
        or :class:`ChannelProtocolError` (a send out of protocol order);
        nothing moved in either case."""
        if is_send:
            if self._closed:
                raise self._closed_error("send")
            buf = self._buffer
            if buf is not None and (buf or not self._receivers):
                # receivers wait only on an empty buffer: with none waiting
                # (or values buffered) the value goes into the buffer
                if len(buf) >= self._capacity:
                    return WOULD_BLOCK
                if self._proto is None:
                    self._seq = seq = self._seq + 1
                else:
                    value = self._admit(value)
                    seq = self._delivered()
                buf.append(Done(value, seq, link))
            else:
                # (``first_available``, its common case inline: the oldest waits)
                receivers = self._receivers
                receiver: OfferLike | None
                if not (
                    receivers
                    and _alt_random.EXPLORER is None
                    and (receiver := next(iter(receivers))).available()
                ):
                    receiver = first_available(receivers)
                if receiver is None:
                    if buf is not None and self._capacity:
                        value = self._admit(value)
                        seq = self._delivered()
                        buf.append(Done(value, seq, link))
                    else:
                        return WOULD_BLOCK
                else:
                    if self._proto is None:
                        self._seq = seq = self._seq + 1
                    else:
                        value = self._admit(value)
                        seq = self._delivered()
                    party = receiver.party
                    party.value = value
                    party.seq = seq
                    party.link = link
                    party.commit(receiver)
            if out is not None:
                out.value = value
                out.seq = seq
                out.link = link
            return value
        buf = self._buffer
        if buf:
            done = buf.popleft()
            if self._senders:
                self._refill()
            if out is not None:
                out.value = done.value
                out.seq = done.seq
                out.link = done.link
            return done.value
        senders = self._senders
        sender: OfferLike | None
        while True:
            # (``first_available``, its common case inline: the oldest waits)
            if not (
                senders
                and _alt_random.EXPLORER is None
                and (sender := next(iter(senders))).available()
            ):
                sender = first_available(senders)
            if sender is None:
                break
            party = sender.party
            if self._proto is None:
                value = sender.value
                self._seq = seq = self._seq + 1
            else:
                try:
                    value = self._admit(sender.value)
                except ChannelProtocolError as exc:
                    party.error = exc  # the sender raises it; nothing is delivered
                    party.commit(sender)
                    continue
                seq = self._delivered()
            party.seq = seq
            party.commit(sender)
            if out is not None:
                out.value = value
                out.seq = seq
                out.link = sender.link
            return value
        if self._closed:
            raise self._closed_error("recv")
        return WOULD_BLOCK

    def _refill(self) -> None:
        """A buffered value was taken: move waiting senders' values into the room."""
        buf = self._buffer
        assert buf is not None
        while len(buf) < self._capacity:
            sender = first_available(self._senders)
            if sender is None:
                return
            party = sender.party
            try:
                value = self._admit(sender.value)
            except ChannelProtocolError as exc:
                party.error = exc
                party.commit(sender)
                continue
            party.seq = seq = self._delivered()
            buf.append(Done(value, seq, sender.link))
            party.commit(sender)

    def _offer(self, offer: OfferLike) -> None:
        """Add a waiting party's offer (it waits for a counterpart)."""
        (self._senders if offer.is_send else self._receivers)[offer] = None

    async def _operate(self, is_send: bool, value: Any, link: object, out: Done | None) -> Any:
        """Send or receive: checkpoint, then commit at once or park until a
        counterpart commits (see the rules in ``stbass._core._park``).

        Untraced (*out* is ``None``) this is the whole operation, awaited by
        the caller of :meth:`send`/:meth:`recv` with no frame in between: a
        send's value is type-checked here and the result is what the user
        gets (``None`` for a send, the value for a recv). Traced, the caller
        checked the value and *out* receives the value, message number and
        the sender's token (*link*) of the message that moved."""
        if is_send and out is None:
            checker = self._checker
            if checker is None:
                value = self._check(value)
            else:  # (the common case of ``_check``, inline)
                try:
                    value = checker(value)
                except _Mismatch:
                    value = self.validate(value)  # raises the full ChannelTypeError
        # (``_park.ops()``, inline: the backends' operations by sniffio's name)
        ops = _park.OPS_BY_NAME.get(_park.sniffio_local.name) or _park.ops()
        if self._closed or (self._receivers if is_send else self._senders):
            # A waiting party to hand over to (or a closed channel to report):
            # rule 1's check, the commit, then rule 2's schedule point, so the
            # woken party runs in the same event-loop turn as this task. (A
            # waiting offer that turns out to be withdrawn or disabled only
            # costs the check before parking.)
            pending = ops.cancel_pending
            if pending is None or pending():
                await ops.before_commit()  # rule 1: a pending cancellation lands here
            moved = self._complete(is_send, value, link, out)
            if moved is not WOULD_BLOCK:
                if ops.yields_after_commit:
                    await ops.after_commit()  # rule 2
                return None if is_send else moved
        elif self._buffer is not None:
            # Only the buffer can move (room for a send, a value for a recv),
            # or nothing can and the other side gets one turn before this
            # parks, as anyio's and trio's memory channels do. Either way one
            # schedule point first, which is also the cancellation point
            # (nothing has moved yet); a producer and a consumer then keep the
            # buffer moving instead of parking and waking each other.
            await ops.pause()
            moved = self._complete(is_send, value, link, out)
            if moved is not WOULD_BLOCK:
                return None if is_send else moved
        # Nothing moved: park until a counterpart commits (rule 3).
        party = Solo(self, is_send, value, link)
        ops.arm(party)
        (self._senders if is_send else self._receivers)[party] = None
        proc: Any = _hook.CURRENT.get()  # (a RunningProcess, or None)
        watch = proc.watch if proc is not None else None
        if watch is not None:  # deadlock detection (see stbass/_compose/_deadlock.py)
            held = proc.parked
            proc.parked = party
            if held.state is WAITING or proc.witness.parked.state is WAITING:
                watch.parking(proc, party, held)  # the rare path: unparked() after
            else:
                watch = None  # the fast path: another process is awake
        try:
            await ops.wait(party)  # rule 3
        except BaseException as exc:
            if not ops.interrupted(party, exc):
                raise
        finally:
            if watch is not None:
                watch.unparked(proc, party)
        if party.state is POKED:  # the deadlock watcher asked it to look again
            party.remove()
            return await self._operate(is_send, value, link, out)
        if party.error is not None:
            raise party.error
        if out is not None:
            out.value = party.value
            out.seq = party.seq
            out.link = party.link
        return None if is_send else party.value

    # ----------------------------------------------------------- send / recv
    #
    # ``send`` and ``recv`` are plain methods that return the coroutine of
    # ``_operate`` (or of its traced wrapper): one coroutine per operation,
    # as in trio's and anyio's channels, instead of a wrapper around it.

    def send(self, value: T) -> Coroutine[Any, Any, None]:
        """Send *value*; returns once a receiver has taken it (or, on a buffered
        channel, once it is in the buffer). Await it: ``await ch.send(value)``.

        Raises :class:`ChannelTypeError` (before any rendezvous) for a value of
        the wrong type and :class:`ChannelClosedError` when the channel is or
        becomes closed. A send that raises was received by nobody.
        """
        if _hook.gate() is None or (ins := _hook.active()) is None:
            return self._operate(True, value, None, None)
        return self._send_traced(ins, value)

    async def _send_traced(self, ins: _hook.Instrument, value: Any) -> None:
        value = self._check(value)
        token = ins.send_started(self, value)
        done = Done(None, 0, None)
        try:
            await self._operate(True, value, token, done)
        except BaseException as exc:
            ins.send_finished(self, token, None, exc)
            raise
        ins.send_finished(self, token, done.seq, None)

    def send_nowait(self, value: T) -> None:
        """Hand *value* to a receiver that is already waiting (or put it in the
        buffer), or raise ``anyio.WouldBlock`` (nothing is sent)."""
        value = self._check(value)
        ins = _hook.active() if _hook.gate() is not None else None
        token = ins.send_started(self, value) if ins is not None else None
        done = Done(None, 0, None)
        try:
            if self._complete(True, value, token, done) is WOULD_BLOCK:
                raise anyio.WouldBlock
        except BaseException as exc:
            if ins is not None:
                ins.send_finished(self, token, None, exc)
            raise
        if ins is not None:
            ins.send_finished(self, token, done.seq, None)

    def recv(self) -> Coroutine[Any, Any, T]:
        """Wait for a value and return it: ``value = await ch.recv()``.

        Raises :class:`ChannelClosedError` when the channel is or becomes closed
        (after the buffer is drained). A recv that raises took nothing.
        """
        if _hook.gate() is None or (ins := _hook.active()) is None:
            return self._operate(False, None, None, None)
        return self._recv_traced(ins)

    async def _recv_traced(self, ins: _hook.Instrument) -> T:
        token = ins.recv_started(self)
        done = Done(None, 0, None)
        try:
            await self._operate(False, None, None, done)
        except BaseException as exc:
            ins.recv_finished(self, token, None, None, None, exc)
            raise
        ins.recv_finished(self, token, done.value, done.seq, done.link, None)
        return done.value  # type: ignore[no-any-return]

    # Still coroutine functions to ``inspect`` (3.12+) and to stbass's own
    # checks (``Guard(..., handler=ch.send)`` is refused as before).
    send._stbass_coroutine = recv._stbass_coroutine = True  # type: ignore[attr-defined]
    if sys.version_info >= (3, 12):
        send = inspect.markcoroutinefunction(send)
        recv = inspect.markcoroutinefunction(recv)

    def recv_nowait(self) -> T:
        """Take a value from a sender that is already waiting (or from the
        buffer), or raise ``anyio.WouldBlock`` (nothing is taken)."""
        ins = _hook.active() if _hook.gate() is not None else None
        token = ins.recv_started(self) if ins is not None else None
        done = Done(None, 0, None)
        try:
            if self._complete(False, None, None, done) is WOULD_BLOCK:
                raise anyio.WouldBlock
        except BaseException as exc:
            if ins is not None:
                ins.recv_finished(self, token, None, None, None, exc)
            raise
        if ins is not None:
            ins.recv_finished(self, token, done.value, done.seq, done.link, None)
        return done.value  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close the channel (idempotent). Every task waiting on it, and every
        later send, gets :class:`ChannelClosedError`; receivers first drain what
        a buffered channel holds.

        A waiting ALT whose guard on this channel is disabled by its
        precondition right now is not failed: it looks at its guards again."""
        if self._closed:
            return
        self._closed = True
        for waiting in (self._senders, self._receivers):
            for offer in list(waiting):
                party = offer.party
                if not party.live():
                    continue
                if not offer.enabled():
                    party.poke()
                    continue
                party.error = self._closed_error("send" if offer.is_send else "recv")
                party.commit(offer)
            waiting.clear()

    def __aiter__(self) -> AsyncIterator[T]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        while True:
            try:
                value = await self.recv()
            except ChannelClosedError:
                return
            yield value

    # ----------------------------------------------------------- binding

    def bind_writer(self, writer_id: str) -> None:
        """Attach the one writer; a different second writer raises
        :class:`ChannelTopologyError`."""
        self._check_free(self._writer, writer_id, "writer", "write to")
        self._writer = writer_id

    def bind_reader(self, reader_id: str) -> None:
        """Attach the one reader; a different second reader raises
        :class:`ChannelTopologyError`."""
        self._check_free(self._reader, reader_id, "reader", "read from")
        self._reader = reader_id

    def _check_free(self, current: str | None, new: str, role: str, verb: str) -> None:
        if current is not None and current != new:
            raise ChannelTopologyError(
                f"channel {self._name!r} already has {role} {current!r}; "
                f"{new!r} cannot also {verb} it",
                channel=self._name,
            )

    def unbind_writer(self) -> None:
        """Detach the writer, so another one may :meth:`bind_writer`.

        >>> ch = Chan(int)
        >>> ch.bind_writer("a")
        >>> ch.unbind_writer()
        >>> ch.bind_writer("b")
        >>> ch.writer
        'b'
        """
        self._writer = None

    def unbind_reader(self) -> None:
        """Detach the reader, so another one may :meth:`bind_reader`.

        >>> ch = Chan(int)
        >>> ch.bind_reader("a")
        >>> ch.unbind_reader()
        >>> ch.reader_attached
        False
        """
        self._reader = None

    @property
    def writer_attached(self) -> bool:
        """True while a writer is bound (see :meth:`bind_writer`).

        >>> ch = Chan(int)
        >>> ch.bind_writer("producer")
        >>> ch.writer_attached
        True
        """
        return self._writer is not None

    @property
    def reader_attached(self) -> bool:
        """True while a reader is bound (see :meth:`bind_reader`).

        >>> Chan(int).reader_attached
        False
        """
        return self._reader is not None

    @property
    def is_bound(self) -> bool:
        """True when both a writer and a reader are attached."""
        return self._writer is not None and self._reader is not None

    @property
    def writer(self) -> str | None:
        """The id of the bound writer, or ``None``.

        >>> ch = Chan(int)
        >>> ch.bind_writer("producer")
        >>> ch.writer
        'producer'
        """
        return self._writer

    @property
    def reader(self) -> str | None:
        """The id of the bound reader, or ``None``.

        >>> ch = Chan(int)
        >>> ch.bind_reader("consumer")
        >>> ch.reader
        'consumer'
        """
        return self._reader


def _variant_checker(checkers: tuple[Checker | None, ...]) -> Checker | None:
    if any(c is None for c in checkers):
        return None
    live = [c for c in checkers if c is not None]

    def check_variant(value: Any) -> Any:
        for check in live:
            try:
                return check(value)
            except _Mismatch:
                continue
        raise _Mismatch(None)

    return check_variant

