"""Fan-out and fan-in topologies: :class:`ChanArray`, :class:`Distributor`, :class:`Collector`.

A :class:`Distributor` reads one source channel and hands each value on to one
of several target channels (``round_robin``, ``ready_first``) or to all of them
(``broadcast``); a :class:`Collector` merges several source channels into one
sink. Both are ordinary processes, so they run inside ``PAR`` with the workers
between them, and both propagate *closing*: when the Distributor's source is
closed it closes every target, and when every source of a Collector is closed
it closes the sink. A pipeline therefore shuts down from its head: close the
first channel and every stage ends in turn.

Delivery keeps the channel guarantees (SPEC §4): every value taken from a
source is delivered exactly once (broadcast: exactly once per target). The
choices between channels are ALTs with output guards, so a value offered to
several targets is committed to exactly one of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, Generic, Literal, TypeVar, final, overload

from .._core._alt import ALT, Guard
from .._core._chan import Chan, ChannelClosedError
from ._process import Process, ProcessContext
from ._result import ProcessResult

T = TypeVar("T")

Strategy = Literal["round_robin", "broadcast", "ready_first"]
STRATEGIES: Final = ("round_robin", "broadcast", "ready_first")

_array_counter = itertools.count(1)


@final
class ChanArray(Generic[T]):
    """A fixed-size array of channels of one type, named ``<prefix>[<i>]``.

    >>> jobs = ChanArray(int, 3, name_prefix="jobs")
    >>> len(jobs), jobs[0].name, [c.name for c in jobs][-1]
    (3, 'jobs[0]', 'jobs[2]')
    """

    __slots__ = ("_chans", "_prefix", "_spec")

    @overload
    def __init__(self, type_spec: type[T], count: int, name_prefix: str | None = None) -> None: ...
    @overload
    def __init__(self, type_spec: Any, count: int, name_prefix: str | None = None) -> None: ...

    def __init__(self, type_spec: Any, count: int, name_prefix: str | None = None) -> None:
        if isinstance(count, bool) or not isinstance(count, int):
            raise TypeError(f"ChanArray: count must be an int, got {type(count).__name__} {count!r}")
        if count < 0:
            raise ValueError(f"ChanArray: count must be >= 0, got {count}")
        if name_prefix is None:
            name_prefix = f"chans-{next(_array_counter)}"
        elif not isinstance(name_prefix, str) or not name_prefix:
            raise TypeError(f"ChanArray: name_prefix must be a non-empty str, got {name_prefix!r}")
        self._prefix = name_prefix
        self._spec = type_spec
        self._chans: tuple[Chan[T], ...] = tuple(
            Chan(type_spec, name=f"{name_prefix}[{i}]") for i in range(count)
        )

    @property
    def name_prefix(self) -> str:
        """The prefix of the channels' names (generated when none was given).

        >>> ChanArray(str, 2, name_prefix="replies").name_prefix
        'replies'
        """
        return self._prefix

    @property
    def channels(self) -> tuple[Chan[T], ...]:
        """The channels, in index order."""
        return self._chans

    @property
    def count(self) -> int:
        """How many channels the array holds (``len(array)``, the 0.1 name).

        >>> ChanArray(int, 4, name_prefix="jobs").count
        4
        """
        return len(self._chans)

    @overload
    def __getitem__(self, index: int) -> Chan[T]: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Chan[T], ...]: ...

    def __getitem__(self, index: int | slice) -> Chan[T] | tuple[Chan[T], ...]:
        return self._chans[index]

    def __len__(self) -> int:
        return len(self._chans)

    def __iter__(self) -> Iterator[Chan[T]]:
        return iter(self._chans)

    def close(self) -> None:
        """Close every channel of the array (idempotent)."""
        for ch in self._chans:
            ch.close()

    def __repr__(self) -> str:
        spec = self._chans[0].type_name if self._chans else repr(self._spec)
        return f"ChanArray({spec}, {len(self._chans)}, name_prefix={self._prefix!r})"


def _check_chan(owner: str, what: str, ch: object) -> Chan[Any]:
    if not isinstance(ch, Chan):
        raise TypeError(f"{owner}: {what} must be a Chan, got {type(ch).__name__} {ch!r}")
    return ch


def _check_chans(owner: str, what: str, chans: object) -> tuple[Chan[Any], ...]:
    if isinstance(chans, Chan) or isinstance(chans, (str, bytes)) or not isinstance(chans, Iterable):
        raise TypeError(
            f"{owner}: {what} must be a ChanArray or a sequence of Chan, "
            f"got {type(chans).__name__} {chans!r}"
        )
    checked = tuple(_check_chan(owner, f"{what}[{i}]", c) for i, c in enumerate(chans))
    if not checked:
        raise ValueError(f"{owner}: {what} must hold at least one channel")
    if len({id(c) for c in checked}) != len(checked):
        raise ValueError(f"{owner}: {what} lists the same channel twice")
    return checked


def _drop_closed(chans: list[Chan[Any]], exc: ChannelClosedError) -> None:
    """After an ALT raised ``exc``: forget the channels that are closed now."""
    before = len(chans)
    chans[:] = [c for c in chans if not c.closed]
    if len(chans) == before:  # pragma: no cover - the ALT only raises for its own channels
        raise exc


class Distributor(Process):
    """Fan out: forward every value from *source* to the *targets*.

    ``strategy``:

    * ``"round_robin"`` (default): value *k* goes to target *k mod n*;
    * ``"broadcast"``: every value goes to every target, once each — offered to
      all targets at once with output guards, so each reader takes it as soon as
      it is ready and a slow reader delays only the *next* value;
    * ``"ready_first"``: each value goes to whichever target's reader is ready
      first (an ALT over output guards, committed to exactly one target).

    When *source* is closed the Distributor closes every target and succeeds
    with the number of values it forwarded. A target whose reader closed it
    leaves the rotation; if every target is closed while values still arrive,
    the Distributor closes *source* (so its writer stops) and fails. It runs as a
    process in ``PAR``, and binds itself as the reader of *source* and the writer
    of each target.

    >>> jobs, lanes = Chan(int, name="jobs"), ChanArray(int, 4, name_prefix="lane")
    >>> fan_out = Distributor(jobs, lanes, strategy="ready_first")
    >>> await PAR(producer, fan_out, *workers).run()      # doctest: +SKIP
    """

    def __init__(
        self,
        source: Chan[Any],
        targets: Sequence[Chan[Any]] | ChanArray[Any],
        strategy: Strategy = "round_robin",
        *,
        name: str = "Distributor",
    ) -> None:
        super().__init__(name=name)
        self.source = _check_chan("Distributor", "source", source)
        self.targets = _check_chans("Distributor", "targets", targets)
        if any(t is source for t in self.targets):
            raise ValueError("Distributor: the source cannot also be a target")
        if strategy not in STRATEGIES:
            raise ValueError(
                f"Distributor: unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}"
            )
        self.strategy: Strategy = strategy
        self.channels = {"source": self.source}
        self.channels.update({f"target[{i}]": t for i, t in enumerate(self.targets)})

    def __repr__(self) -> str:
        text = f"Distributor({self.source!r}, [{', '.join(repr(t) for t in self.targets)}]"
        if self.strategy != "round_robin":
            text += f", strategy={self.strategy!r}"
        return text + ")" + (".optional()" if self.is_optional else "")

    async def run(self, ctx: ProcessContext) -> ProcessResult[int]:
        forwarded = 0
        clean = False
        try:
            ctx._attach(self.source, as_writer=False)
            for t in self.targets:
                ctx._attach(t, as_writer=True)
            live = list(self.targets)
            deliver = {
                "round_robin": self._round_robin,
                "broadcast": self._broadcast,
                "ready_first": self._ready_first,
            }[self.strategy]
            while True:
                try:
                    value = await self.source.recv()
                except ChannelClosedError:
                    break
                ctx.checkpoint(forwarded)
                await deliver(value, forwarded, live)
                forwarded += 1
            clean = True
        finally:
            for t in self.targets:
                t.close()
            if not clean:
                # stopped by an error or cancellation: tell the writer upstream
                self.source.close()
            ctx._release()
        return ProcessResult.ok(forwarded)

    def _all_closed(self, value: Any) -> ChannelClosedError:
        return ChannelClosedError(
            f"{self.name}: every target is closed; value {value!r} from "
            f"{self.source.name!r} could not be delivered",
            channel=self.source.name,
        )

    async def _round_robin(self, value: Any, k: int, live: list[Chan[Any]]) -> None:
        # Value k goes to target k mod n of the targets still open.
        while live:
            target = live[k % len(live)]
            try:
                await target.send(value)
                return
            except ChannelClosedError:
                if not target.closed:
                    raise
                live.remove(target)
        raise self._all_closed(value)

    async def _ready_first(self, value: Any, k: int, live: list[Chan[Any]]) -> None:
        while live:
            try:
                await ALT(*[Guard.send(t, value) for t in live]).choose()
                return
            except ChannelClosedError as exc:
                _drop_closed(live, exc)
        raise self._all_closed(value)

    async def _broadcast(self, value: Any, k: int, live: list[Chan[Any]]) -> None:
        # One task, no spawning: keep offering the value to every target that has
        # not taken it yet; each ALT commits exactly one delivery.
        if not live:
            raise self._all_closed(value)
        pending = list(live)
        while pending:
            try:
                index, _ = await ALT(*[Guard.send(t, value) for t in pending]).choose()
            except ChannelClosedError as exc:
                _drop_closed(pending, exc)
                live[:] = [t for t in live if not t.closed]
                continue
            del pending[index]
        if not live:
            raise self._all_closed(value)


class Collector(Process):
    """Fan in: forward every value from the *sources* to *sink*.

    With ``ordered=False`` (default) values are taken from whichever source is
    ready (a fair ALT over the open sources). With ``ordered=True`` the sources
    are read in turn, in index order (round-robin), skipping closed ones. A
    closed source drops out; when every source is closed the Collector closes
    *sink* and succeeds with the number of values it forwarded. If the reader
    closes *sink*, the Collector closes its sources (so their writers stop) and
    fails. It binds itself as the reader of each source and the writer of *sink*.

    >>> results = Chan(str, name="results")
    >>> fan_in = Collector(ChanArray(str, 4, name_prefix="done"), results)
    >>> await PAR(*workers, fan_in, consumer).run()        # doctest: +SKIP
    """

    def __init__(
        self,
        sources: Sequence[Chan[Any]] | ChanArray[Any],
        sink: Chan[Any],
        ordered: bool = False,
        *,
        name: str = "Collector",
    ) -> None:
        super().__init__(name=name)
        self.sources = _check_chans("Collector", "sources", sources)
        self.sink = _check_chan("Collector", "sink", sink)
        if any(s is sink for s in self.sources):
            raise ValueError("Collector: the sink cannot also be a source")
        if not isinstance(ordered, bool):
            raise TypeError(f"Collector: ordered must be a bool, got {type(ordered).__name__}")
        self.ordered = ordered
        self.channels = {f"source[{i}]": s for i, s in enumerate(self.sources)}
        self.channels["sink"] = self.sink

    def __repr__(self) -> str:
        text = f"Collector([{', '.join(repr(s) for s in self.sources)}], {self.sink!r}"
        if self.ordered:
            text += ", ordered=True"
        return text + ")" + (".optional()" if self.is_optional else "")

    async def run(self, ctx: ProcessContext) -> ProcessResult[int]:
        forwarded = 0
        clean = False
        try:
            ctx._attach(self.sink, as_writer=True)
            for s in self.sources:
                ctx._attach(s, as_writer=False)
            live = list(self.sources)
            turn = 0
            while live:
                if self.ordered:
                    source = live[turn % len(live)]
                    try:
                        value = await source.recv()
                    except ChannelClosedError:
                        if not source.closed:
                            raise
                        live.remove(source)  # the next source moves into this turn
                        continue
                    turn = (turn + 1) % len(live)
                else:
                    try:
                        value = await ALT(*live)
                    except ChannelClosedError as exc:
                        _drop_closed(live, exc)
                        continue
                await self.sink.send(value)
                forwarded += 1
                ctx.checkpoint(forwarded)
            clean = True
        finally:
            self.sink.close()
            if not clean:
                for s in self.sources:
                    s.close()
            ctx._release()
        return ProcessResult.ok(forwarded)
