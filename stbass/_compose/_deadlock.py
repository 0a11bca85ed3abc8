"""Deadlock detection: a composition whose processes all wait on each other fails.

A :class:`Watcher` belongs to the outermost PAR (or replicator) that runs with
``detect_deadlock=True`` (the default); nested compositions share it. It knows
the leaf processes that are running and, through the park path of channels and
ALT, which of them wait on what: a parking task whose running process
(``stbass._core._hook.CURRENT``) has a ``watch`` calls :meth:`Watcher.parking`
before it parks and :meth:`Watcher.unparked` after. Nothing else on the hot
path: an operation that completes at once never calls the watcher.

When the last running process parks, the watcher checks synchronously that
every process is parked (no committed party about to wake, no timer of its own
pending) and that every channel it waits on has its other end held by another
running process — held means the channel is in that process's
``ctx.channels`` or bound to it by ``ctx.send``/``ctx.recv``. Last, it counts
the composition's tasks (anyio's task tree under the owner's task group): each
must be parked, or wait at the end of a task group whose tasks still run (a
composition waiting for its children, a body waiting for its helpers), or be
one of stbass's own :func:`helper_task` s. A task doing anything else — a
helper that sleeps, then sends — may still move. Then nothing can ever move
again, so the composition is cancelled and raises :class:`DeadlockError`,
which names each process, what it waits on, and a cycle. Channels with an end
held outside the composition (or by nobody) never count.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio

from .._core._park import COMMITTED, WAITING, Party

if TYPE_CHECKING:
    from .._core._chan import Chan
    from ._process import ProcessContext

EVENT_DEADLOCK: Final = "deadlock"

_F = TypeVar("_F", bound=Callable[..., Any])

#: the code of stbass's own helper tasks that only move when the process they
#: serve moves (a stage's input feeder and output drain): never "may move"
_HELPERS: set[CodeType] = set()


def helper_task(fn: _F) -> _F:
    """Mark *fn* (run as a task next to a process, on that process's channels
    only) as a helper the deadlock check may take for blocked."""
    _HELPERS.add(fn.__code__)
    return fn


class DeadlockError(RuntimeError):
    """Every process of a composition waits on a channel whose other end is held
    by another process of the composition that waits too: nothing can move.

    ``waits`` lists each blocked process and what it waits on; ``cycle`` is one
    cycle of processes waiting on each other (the first process repeated at the
    end). Turn detection off with ``PAR(..., detect_deadlock=False)``.

    >>> try:                                                   # doctest: +SKIP
    ...     await PAR(left, right).run()
    ... except DeadlockError as err:
    ...     err.cycle
    ('left', 'right', 'left')
    """

    def __init__(self, message: str, *, waits: tuple[Waiting, ...] = (),
                 cycle: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.waits = waits
        self.cycle = cycle


@dataclass(frozen=True)
class Waiting:
    """One task parked on a channel operation or an ALT: which process, which
    operation (``"send"``, ``"recv"`` or ``"alt"``) and the channels it waits on.

    >>> print(Waiting("worker", "recv", ("jobs",)))
    worker waits to recv on jobs
    """

    process: str
    operation: str
    channels: tuple[str, ...]

    def __str__(self) -> str:
        on = ", ".join(self.channels)
        if self.operation == "alt":
            return f"{self.process} waits in an ALT on {on}"
        return f"{self.process} waits to {self.operation} on {on}"


def _waiting(party: Party) -> bool:
    return party.state is WAITING and party.live()


def _ends_of(party: Party) -> list[tuple[Chan[Any], bool]]:
    """The (channel, is_send) pairs a waiting party waits on."""
    chan = getattr(party, "chan", None)
    if chan is not None:  # a plain send or recv
        return [(chan, bool(getattr(party, "is_send")))]
    return [(offer.chan, offer.is_send) for offer in party.offers]


def _describe(party: Party, name: str) -> Waiting:
    ends = _ends_of(party)
    if getattr(party, "chan", None) is not None:
        op = "send" if ends[0][1] else "recv"
    else:
        op = "alt"
    return Waiting(name, op, tuple(ch.name for ch, _ in ends))


_WATCHERS: weakref.WeakSet[Watcher] = weakref.WeakSet()


def _sentinel(state: Any) -> Party:
    party = Party()
    party.state = state
    return party


#: the ``parked`` of a process whose tasks park on the fast path and that has
#: no party parked: its state is not WAITING, so it reads as awake
NOT_PARKED: Final = _sentinel(COMMITTED)
#: the ``parked`` of a context whose parks all take the rare path (its parties
#: are in ``Watcher.extra``): a composition, a process running a nested
#: composition or one with several tasks parked at once, a process that has
#: finished. Its state is WAITING, so the fast path never takes it for awake.
SLOW_PATH: Final = _sentinel(WAITING)


class _Nobody:
    """``Watcher.last`` when no process is known to be awake (the next park
    takes the rare path)."""

    __slots__ = ("parked",)

    def __init__(self) -> None:
        self.parked = SLOW_PATH


#: ``Watcher.last`` before anything parked: a finishing process need not look
START: Final = _Nobody()
#: ``Watcher.last`` when the next park must look
_NOBODY: Final = _Nobody()


class Watcher:
    """The deadlock detector of one composition tree (see the module docstring).

    The fast path of a park (inline at the call sites in ``_chan.py`` and
    ``_alt.py``) is three attribute stores and two state tests, and the
    matching unpark one identity test; a PAR child's start and end (inline
    in ``_seqpar.py``) are one dict store and one removal. :meth:`parking`
    is the rare path, and the check below starts only once every running
    process is parked. Whether a parked task has a
    timeout of its own (a cancel scope with a deadline inside the composition)
    is asked only when every process waits in a closed graph: tasks that parked
    before that moment are poked to look again (a plain send or recv retries,
    an ALT re-scans), and record their deadline (and which task they are) when
    they park again. Only then are the composition's tasks counted
    (:meth:`_all_tasks_blocked`).
    """

    __slots__ = ("running", "delegating", "extra", "last", "awake", "timers", "records",
                 "verifying", "outer_deadline", "scope", "found", "recorder", "order",
                 "_count", "__weakref__")

    def __init__(self, outer_deadline: float) -> None:
        #: the leaf processes running, and their places in program order
        self.running: dict[ProcessContext, int] = {}
        #: processes whose body runs a nested composition sharing this watcher
        self.delegating: dict[ProcessContext, int] = {}
        #: the parked parties not in their process's ``parked`` (see SLOW_PATH),
        #: and timer ALTs: each party and its process, until it unparks
        self.extra: dict[Party, Any] = {}
        #: the process whose party the next park looks at: if that party is not
        #: waiting (committed, say), some process will move, and look again later
        self.last: Any = START
        #: the last process found awake by :meth:`_look` (checked first)
        self.awake: Any = _NOBODY
        #: parked ALTs with a timer guard (never deadlocked)
        self.timers: set[Party] = set()
        #: while a closed graph is verified: whether each parked party's task has
        #: a timeout of its own, and which task it is
        self.records: dict[Party, tuple[bool, int]] = {}
        #: parked tasks record their timeout (a closed graph is being verified)
        self.verifying = False
        self.outer_deadline = outer_deadline
        self.scope: anyio.CancelScope | None = None
        self.found: DeadlockError | None = None
        self.recorder: Any = None
        #: program order of contexts declared before they run (SEQ stages)
        self.order: dict[ProcessContext, int] = {}
        self._count = 0
        _WATCHERS.add(self)

    # ----------------------------------------------------- bookkeeping

    def declare(self, ctx: ProcessContext, position: int | None = None) -> None:
        """*ctx* is a process of a composition under this watcher; *position*
        (from :meth:`reserve`), or the next one, is its place in program order."""
        ctx.watch = self
        ctx.parked = SLOW_PATH
        if position is None:
            position = self._count
            self._count += 1
        self.order[ctx] = position

    def reserve(self, n: int) -> int:
        """Reserve *n* places in program order (a PAR's children, declared as
        each starts); returns the first."""
        first = self._count
        self._count += n
        return first

    def start(self, ctx: ProcessContext, position: int, leaf: bool) -> None:
        """A PAR child starts at *position* in program order: a *leaf* process
        (not a composition) runs. ``_ParRun.child`` does this inline."""
        ctx.watch = self
        if leaf:
            ctx.parked = NOT_PARKED
            self.running[ctx] = position
        else:
            ctx.parked = SLOW_PATH

    def enter(self, ctx: ProcessContext) -> None:
        """*ctx*, declared, is a leaf process that runs (or is about to)."""
        self.running[ctx] = self.order.pop(ctx, -1)
        ctx.parked = NOT_PARKED

    def leave(self, ctx: ProcessContext) -> None:
        """*ctx* finished (its tasks parked nothing any more); the others may
        now be deadlocked without it. ``_ParRun.child`` does this inline, up to
        :meth:`left`."""
        self.running.pop(ctx, None)
        ctx.parked = SLOW_PATH  # if it was ``last``, the next park looks
        last = self.last
        if last is not START and last.parked.state is WAITING:
            self.left(ctx)

    def left(self, ctx: ProcessContext) -> None:
        """The rare path of :meth:`leave`: no process is known to be awake."""
        self.delegating.pop(ctx, None)
        self._look(None, None)

    def delegate(self, ctx: ProcessContext | None, delta: int) -> None:
        """*ctx* starts (+1) or ends (-1) running a nested composition."""
        if ctx is None or ctx not in self.running:
            return
        delegating = self.delegating
        before = delegating.get(ctx, 0)
        n = before + delta
        if n > 0:
            delegating[ctx] = n
            if not before:  # its helper tasks' parks take the rare path
                held = ctx.parked
                if held is not SLOW_PATH and held.state is WAITING:
                    self.extra[held] = ctx
                ctx.parked = SLOW_PATH
        elif before:
            del delegating[ctx]
            if ctx not in self.extra.values():
                ctx.parked = NOT_PARKED
            self._look(None, None)

    def parking(self, proc: Any, party: Party, held: Party, timed: bool = False) -> None:
        """The rare path of a park: *proc* is about to park *party* (already in
        ``proc.parked``, which held *held*) and no other process is known to
        be awake, or *held* is still waiting (*proc* is on the slow path, or
        another of its tasks is parked), or *party* is an ALT with a timer
        guard (*timed*), or a closed graph is being verified."""
        if held.state is WAITING:  # SLOW_PATH, or another task of proc waits
            proc.parked = SLOW_PATH  # from now on, all its parties are in extra
            if held is not SLOW_PATH:
                self.extra[held] = proc
            self.extra[party] = proc
        elif timed:
            proc.parked = held
            self.extra[party] = proc
        if timed:
            self.timers.add(party)
        elif self.verifying:
            self._record(party)
        self._look(party, proc)

    def unparked(self, proc: Any, party: Party) -> None:
        """*party* of *proc*, not in ``proc.parked``, stopped waiting."""
        self.extra.pop(party, None)
        if self.timers:
            self.timers.discard(party)

    # ----------------------------------------------------- the check

    def _look(self, me: Party | None, proc: Any) -> None:
        """Is a process awake? Then it will park or finish later, and look
        again. If not, every running process is parked: :meth:`check`. Sets
        ``last`` for the fast path: the process that parks *me*."""
        self.last = proc if proc is not None and proc.parked is me and not self.verifying \
            else _NOBODY
        if self.found is not None or self.scope is None:
            return
        extra = self.extra
        in_extra = set()
        for party, ctx in extra.items():
            if party.state is not WAITING:
                return  # committed (or poked), about to wake
            in_extra.add(ctx)
        awake = self.awake
        if awake.parked.state is not WAITING and awake not in in_extra:
            return  # still awake
        delegating = self.delegating
        for ctx in reversed(self.running):
            if ctx in in_extra or ctx in delegating:
                continue
            held = ctx.parked
            if held is SLOW_PATH:
                return
            if held.state is not WAITING:
                self.awake = ctx
                return
        self.check(me)

    def _parked(self) -> dict[Party, ProcessContext]:
        """Each parked party (or one about to wake) and its process."""
        parked = {held: ctx for ctx in self.running
                  if (held := ctx.parked) is not SLOW_PATH and held.state is WAITING}
        parked.update(self.extra)
        return parked

    def check(self, me: Party | None = None) -> None:
        """Fail the composition if every running process waits in a closed cycle
        (*me*: the party of the task calling, about to park)."""
        if self.found is not None or self.scope is None:
            return
        parked = self._parked()
        for party in parked:  # the quick look first: anyone awake?
            if party.state is not WAITING:
                return
        running = self.running
        delegating = self.delegating
        waiting = set(parked.values())
        for ctx in running:
            if ctx not in delegating and ctx not in waiting:
                return  # a process that is not parked
        for party in parked:
            if not party.live():
                return
        waits = sorted(
            ((ctx, party) for party, ctx in parked.items()
             if ctx in running and ctx not in delegating),
            key=lambda wait: running[wait[0]],
        )
        if not waits:
            return
        names = _names(self.running)
        holders = self._holders()
        edges: dict[ProcessContext, list[tuple[ProcessContext, Chan[Any], bool]]] = {}
        for ctx, party in waits:
            for ch, is_send in _ends_of(party):
                others = _other_end(ch, is_send, ctx, holders)
                if not others:
                    self._verified()
                    return  # held outside the composition, or by nobody
                edges.setdefault(ctx, []).extend((o, ch, is_send) for o in others)
        # A closed graph: nothing can move unless a task has a timeout of its own,
        # or a task of the composition is not parked on a channel or an ALT.
        records = self.records
        timers = self.timers
        if me is not None and me not in records:
            self._record(me)
        if any(party in timers or records.get(party, (False, 0))[0] for _, party in waits):
            self._verified()
            return
        unknown = [party for _, party in waits if party not in records]
        if unknown:
            self.verifying = True
            self.last = _NOBODY  # every park takes the rare path, and records
            for party in unknown:
                party.poke()  # it parks again and records its timeout and task
            return
        tasks = {records[party][1] for _, party in waits}
        self._verified()
        if not self._all_tasks_blocked(tasks):
            return
        cycle = _cycle(edges, names)
        described = tuple(_describe(party, names[ctx]) for ctx, party in waits)
        lines = "\n".join(f"  {w}" for w in described)
        error = DeadlockError(
            f"deadlock: every process is blocked waiting on another\n{lines}\n"
            f"  cycle: {_cycle_text(cycle)}",
            waits=described,
            cycle=tuple(p for p, _, _ in cycle) + ((cycle[0][0],) if cycle else ()),
        )
        self.found = error
        if self.recorder is not None:
            self.recorder.event(
                EVENT_DEADLOCK,
                {"deadlock.cycle": _cycle_text(cycle),
                 "deadlock.processes": [w.process for w in described]},
            )
        for ctx in self.running:
            ctx._cancel_reason = "deadlock"
        self.scope.cancel()

    def _verified(self) -> None:
        """A closed graph was decided on (or there was none): forget the records."""
        self.verifying = False
        self.records.clear()

    def _record(self, party: Party) -> None:
        """Record whether the calling task, about to park *party*, has a timeout
        of its own (a cancel scope with a deadline inside the composition), and
        which task it is."""
        self.records[party] = (
            anyio.current_effective_deadline() < self.outer_deadline,
            anyio.get_current_task().id,
        )

    def _all_tasks_blocked(self, parked: set[int]) -> bool:
        """Is every task of the composition parked on a channel or an ALT (the
        tasks in *parked*) or waiting for a task group of its own whose tasks
        are all still running? A task doing anything else — a helper task a
        process started that sleeps or waits on something stbass does not
        see — may still move, and then nothing is a deadlock. Tasks of the
        composition: the tasks started under the task group of the composition
        that owns this watcher, found through anyio's task tree."""
        tasks = anyio.get_running_tasks()
        exit_code = _group_exit_code()
        groups: dict[int, Any] = {}
        helpers: set[int] = set()
        for task in tasks:
            groups[task.id], helper = _awaited(task.coro, exit_code)
            if helper:
                helpers.add(task.id)
        root = next((t.id for t in tasks
                     if getattr(groups[t.id], "cancel_scope", None) is self.scope), None)
        if root is None:
            return False  # the composition's own task is not where it should be: unsure
        children: dict[int | None, list[anyio.TaskInfo]] = {}
        for task in tasks:
            children.setdefault(task.parent_id, []).append(task)
        todo = list(children.get(root, ()))
        while todo:
            task = todo.pop()
            if task.has_pending_cancellation():
                return False  # it will wake with a cancellation
            if task.id not in parked and task.id not in helpers and not _busy(groups[task.id]):
                return False
            todo.extend(children.get(task.id, ()))
        return True

    def _holders(self) -> dict[Chan[Any], list[ProcessContext]]:
        holders: dict[Chan[Any], list[ProcessContext]] = {}
        for ctx in self.running:
            seen: set[int] = set()
            for ch in ctx.channels.values():
                if id(ch) not in seen:
                    seen.add(id(ch))
                    holders.setdefault(ch, []).append(ctx)
            for ch, _ in ctx._bound:
                if id(ch) not in seen:
                    seen.add(id(ch))
                    holders.setdefault(ch, []).append(ctx)
        return holders

    def blocked(self) -> Iterator[Waiting]:
        names = _names(self.running)
        for party, ctx in list(self._parked().items()):
            if _waiting(party):
                yield _describe(party, names.get(ctx, ctx.process_name))


def _group_exit_code() -> Any:
    """The code of ``__aexit__`` of the running backend's anyio task group."""
    return type(anyio.create_task_group()).__aexit__.__code__


def _awaited(coro: Any, exit_code: Any) -> tuple[Any, bool]:
    """Following the awaits of a task from its coroutine *coro*: the innermost
    anyio task group whose exit it waits in (``None``: it waits on something
    else), and whether it runs a :func:`helper_task`."""
    group = None
    helper = False
    depth = 0
    while coro is not None and depth < 500:
        code = getattr(coro, "cr_code", None)
        if code is exit_code:
            frame = coro.cr_frame
            group = frame.f_locals.get("self") if frame is not None else None
        elif code in _HELPERS:
            helper = True
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
        depth += 1
    return group, helper


def _busy(group: Any) -> bool:
    """Has the task group *group* (anyio's, on asyncio or trio) a task still
    running? ``False`` when unsure: its host may be about to move on."""
    if group is None:
        return False
    tasks = getattr(group, "_tasks", None)  # anyio's asyncio task group
    if tasks is not None:
        return any(not task.done() for task in tasks)
    nursery = getattr(group, "_nursery", None)  # anyio's trio task group
    return bool(getattr(nursery, "child_tasks", ()))


def _names(running: dict[ProcessContext, int]) -> dict[ProcessContext, str]:
    counts: dict[str, int] = {}
    for ctx in running:
        counts[ctx.process_name] = counts.get(ctx.process_name, 0) + 1
    return {ctx: ctx.process_name if counts[ctx.process_name] == 1 else ctx.label
            for ctx in running}


def _other_end(
    ch: Chan[Any], is_send: bool, ctx: ProcessContext,
    holders: dict[Chan[Any], list[ProcessContext]],
) -> list[ProcessContext]:
    """The running processes that hold the other end of *ch* (not *ctx*)."""
    bound = ch._reader if is_send else ch._writer
    near = ch._writer if is_send else ch._reader
    found = []
    for h in holders.get(ch, ()):
        if h is ctx and bound != ctx.label:
            continue
        if bound is not None:
            if h.label == bound:
                found.append(h)
        elif near is None or h.label != near:
            found.append(h)
    return found


def _cycle(
    edges: dict[ProcessContext, list[tuple[ProcessContext, Chan[Any], bool]]],
    names: dict[ProcessContext, str],
) -> list[tuple[str, str, str]]:
    """Follow the first edge from the first process until a process repeats:
    ``(process, operation, channel)`` steps of the cycle."""
    start = next(iter(edges))
    path: list[ProcessContext] = []
    steps: list[tuple[str, str, str]] = []
    at = start
    while at not in path:
        path.append(at)
        nxt, ch, is_send = edges[at][0]
        steps.append((names[at], "send" if is_send else "recv", ch.name))
        at = nxt
    first = path.index(at)
    return steps[first:]


def _cycle_text(cycle: list[tuple[str, str, str]]) -> str:
    if not cycle:
        return ""
    parts = [f"{p} waits to {op} on {ch}" for p, op, ch in cycle]
    return " -> ".join(parts) + f" -> {cycle[0][0]}"


def blocked() -> list[Waiting]:
    """Which process waits on which channel right now, in every composition
    running with deadlock detection (the default); for debugging a hang that is
    not a deadlock cycle (a process waiting on a channel nobody else holds).

    >>> blocked()
    []
    """
    return [w for watcher in list(_WATCHERS) for w in watcher.blocked()]
