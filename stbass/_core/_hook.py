"""The instrument hook: how the core reports what happens, without knowing who listens.

Channels, ALT, timers, processes and compositions call the methods of one
:class:`Instrument` when one is active; with none active every hook costs one
C-level call, :data:`gate`, that returns ``None`` (the same shape as trio's
``if "task_spawned" in self.instruments:``). ``stbass.observe`` installs the
OpenTelemetry instrument; tests and tools may install their own with
:func:`set_probe`.

This module also holds the one piece of per-task state the core needs from the
floors above: :data:`CURRENT`, the running process (for a timer's
``last_checkpoint``), typed by the small :class:`RunningProcess` protocol so the
core never imports the process module.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = (
    "CHILD_INDEX",
    "CURRENT",
    "ChannelLike",
    "Instrument",
    "Recorder",
    "RunningProcess",
    "active",
    "gate",
    "set_probe",
    "span",
)

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[int] | Sequence[float]


class ChannelLike(Protocol):
    """What an instrument may read of a channel."""

    @property
    def name(self) -> str: ...

    @property
    def type_name(self) -> str: ...


class RunningProcess(Protocol):
    """What the core may read of the process running in the current task."""

    process_name: str
    last_checkpoint: Any
    #: the deadlock watcher of its composition, or ``None``: a parking task
    #: registers its party in ``parked`` and tells the watcher when it must
    #: look (``stbass._compose._deadlock``)
    watch: Any
    #: with a watcher: the party its task parked on last (or a sentinel), and
    #: a process found awake (whose ``parked`` is not waiting)
    parked: Any
    witness: Any


#: The index of the PAR child this task runs (set by ``run_par``; an
#: instrument puts it on the child's process span and clears it inside).
CHILD_INDEX: ContextVar[int | None] = ContextVar("stbass_child_index", default=None)

#: The process whose body runs in this task (set by ``Process.execute``).
CURRENT: ContextVar[RunningProcess | None] = ContextVar("stbass_current_process", default=None)


class Recorder:
    """What a process, composition or ALT reports about its span while it runs.

    The base class records nothing; an instrument returns its own subclass.
    """

    __slots__ = ()

    #: opaque: carried by an ALT's output offers as the link to this span
    link: object = None

    def failed(self, error: BaseException, summary: str | None = None) -> None:
        """The unit failed with *error* (``summary`` is the Failure's one-liner)."""

    def cancelled(self, by: str) -> None:
        """The unit was cancelled (``by``: ``halt``, ``deadline`` or ``outer``)."""

    def set(self, key: str, value: AttributeValue | None) -> None:
        """Set one attribute (``None`` values are ignored)."""

    def event(self, name: str, attributes: Mapping[str, AttributeValue]) -> None:
        """Record a point event (a timer expiry, a deadlock, ...)."""


NO_RECORDER = Recorder()


class Instrument:
    """The events the core reports. Override what you need; the base class
    ignores everything.

    Channel events come in pairs: ``*_started`` returns a token (anything) that
    is handed back to ``*_finished``. A send's token travels with the message
    and reaches the matching receive as ``link`` (the OpenTelemetry instrument
    uses the send span's context, so the receive span links to it).
    """

    __slots__ = ()

    def send_started(self, chan: ChannelLike, value: object) -> object:
        return None

    def send_finished(
        self, chan: ChannelLike, token: object, seq: int | None, error: BaseException | None
    ) -> None:
        """``seq`` is the message number when the send completed, else ``None``
        and ``error`` says why (closed, cancelled, ...)."""

    def recv_started(self, chan: ChannelLike) -> object:
        return None

    def recv_finished(
        self,
        chan: ChannelLike,
        token: object,
        value: object,
        seq: int | None,
        link: object,
        error: BaseException | None,
    ) -> None:
        """``link`` is the token of the send that delivered the value."""

    def alt_received(
        self, recorder: Recorder, chan: ChannelLike, value: object, seq: int, link: object,
        wait_s: float,
    ) -> None:
        """An ALT (reporting through *recorder*) received *value* from *chan*."""

    def span(
        self, name: str, attributes: Mapping[str, Any]
    ) -> contextlib.AbstractContextManager[Recorder]:
        """A span around a process, composition or ALT, current while it runs."""
        return contextlib.nullcontext(NO_RECORDER)


def _no_instrument() -> Instrument | None:
    return None


#: Returns the active instrument or ``None``; replaced by :func:`set_probe`.
active: Callable[[], Instrument | None] = _no_instrument

#: A gate that always says "no instrument" / "ask the probe" (C callables:
#: calling one costs no Python frame).
NEVER: Callable[[], object] = itertools.repeat(None).__next__
ALWAYS: Callable[[], object] = itertools.repeat(True).__next__

#: The core's first question, asked on every channel operation: ``gate()``
#: returning ``None`` means no instrument is active, so :data:`active` need not
#: be called; anything else means "ask it". Set with the probe by
#: :func:`set_probe`; a C callable where possible (the OpenTelemetry gate reads
#: the API's provider slot), so an untraced operation pays one C call.
gate: Callable[[], object] = NEVER


def set_probe(
    probe: Callable[[], Instrument | None] | None,
    *,
    gate: Callable[[], object] | None = None,
) -> Callable[[], Instrument | None]:
    """Make *probe* the function the core asks for the active instrument
    (``None``: no instrument). Returns the previous probe.

    *gate*, when given, is a cheap callable that returns ``None`` whenever
    *probe* would (the core then skips the probe); without it the probe is
    asked on every event.

    >>> class Counting(Instrument):
    ...     sends = 0
    ...     def send_started(self, chan, value):
    ...         Counting.sends += 1
    >>> previous = set_probe(lambda: Counting())
    >>> set_probe(previous) is not None
    True
    """
    global active
    previous = active
    active = probe if probe is not None else _no_instrument
    globals()["gate"] = NEVER if probe is None else gate if gate is not None else ALWAYS
    return previous


@contextlib.contextmanager
def span(name: str, attributes: Mapping[str, Any]) -> Iterator[Recorder]:
    """A span around a process, composition or ALT through the active
    instrument (a recorder that records nothing when there is none)."""
    ins = active() if gate() is not None else None
    if ins is None:
        yield NO_RECORDER
        return
    with ins.span(name, attributes) as rec:
        yield rec
