"""Deadlock detection: a composition whose processes all wait on each other fails.

A :class:`Watcher` belongs to the outermost PAR (or replicator) that runs with
``detect_deadlock=True`` (the default); nested compositions share it. Its
running processes are the leaf children of its PARs (``_ParRun.leaves``) and
its SEQ stages. It learns which of them wait on what from the park path of
channels and ALT, where a parking task whose running process
(``stbass._core._hook.CURRENT``) has a ``watch`` does, inline:

* the fast path: store its party in the process's ``parked`` and look at two
  states: the party that was there (still waiting: another task of the process
  is parked, or the process is on the slow path) and the ``parked`` of the
  process's ``witness``, a process found awake earlier. If that one is not
  waiting (it runs, or a counterpart committed it and it is about to), it will
  park or finish later and look then: no deadlock can be complete now, and
  nothing else happens, before the wait or after it. In a ping-pong each side
  is the other's witness and is always committed when the other parks.
* otherwise the rare path, :meth:`Watcher.parking` (and
  :meth:`Watcher.unparked` after the wait): it looks for a process that is
  awake (the last one found first), makes it the parker's witness, and if
  there is none, every running process is parked: the check.

An operation that completes at once never reaches any of this, and a PAR child
costs three attribute stores when it starts (no dict: the watcher reads the
PARs' own lists of child contexts when it looks) and one when it ends (and a
call to :meth:`Watcher.left` once anything has parked).

The check makes sure that every process is parked (no committed party about
to wake, no timer of its own pending) and that every channel it waits on has
its other end held by another running process — held means the channel is in
that process's ``ctx.channels`` or bound to it by ``ctx.send``/``ctx.recv``.
Last, it counts the composition's tasks (anyio's task tree under the owner's
task group): each must be parked, or wait at the end of a task group whose
tasks still run (a composition waiting for its children, a body waiting for
its helpers), or be one of stbass's own :func:`helper_task` s. A task doing
anything else — a helper that sleeps, then sends — may still move. Then
nothing can ever move again, so the composition is cancelled and raises
:class:`DeadlockError`, which names each process, what it waits on, and a
cycle. Channels with an end held outside the composition (or by nobody) never
count.
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


# What a watched context's ``parked`` holds when it is not a party of its own.
# A sentinel whose state is WAITING sends the park of a task of that context
# down the rare path, and is never taken for a process that is awake.

#: a running leaf process on the fast path, with no party parked yet
NOT_PARKED: Final = _sentinel(COMMITTED)
#: a running leaf process whose parks all take the rare path (its parties are
#: in ``Watcher.extra``): it runs a nested composition, or several of its
#: tasks parked at once
SLOW_PATH: Final = _sentinel(WAITING)
#: the context of a composition (its tasks' parks take the rare path too)
NOT_LEAF: Final = _sentinel(WAITING)
#: a process that has finished
DONE: Final = _sentinel(WAITING)


class _Nobody:
    """The ``witness`` of a process whose next park must look (the rare path)."""

    __slots__ = ("parked",)

    def __init__(self) -> None:
        self.parked = DONE


#: the witness of a process that knows nobody awake
NOBODY: Final = _Nobody()


class Watcher:
    """The deadlock detector of one composition tree (see the module docstring).

    The running leaf processes are the children of the PARs in ``runs`` that
    are not compositions and have not finished, and the SEQ stages in
    ``entered``. Whether a parked task has a timeout of its own (a cancel
    scope with a deadline inside the composition) is asked only when every
    process waits in a closed graph: tasks that parked before that moment are
    poked to look again (a plain send or recv retries, an ALT re-scans), and
    record their deadline (and which task they are) when they park again
    (every park takes the rare path meanwhile). Only then are the
    composition's tasks counted (:meth:`_all_tasks_blocked`).
    """

    __slots__ = ("runs", "entered", "delegating", "extra", "awake", "parks", "timers",
                 "records", "verifying", "outer_deadline", "scope", "found", "recorder",
                 "order", "_count", "__weakref__")

    def __init__(self, outer_deadline: float) -> None:
        #: the PARs running under this watcher (``_ParRun``: ``leaves()`` gives
        #: each running leaf child and its place in program order)
        self.runs: dict[Any, None] = {}
        #: the SEQ stages (leaf processes) running, and their places
        self.entered: dict[ProcessContext, int] = {}
        #: processes whose body runs a nested composition sharing this watcher
        self.delegating: dict[ProcessContext, int] = {}
        #: the parked parties not in their process's ``parked`` (the slow path,
        #: and ALTs with a timer guard): each and its process, until it unparks
        self.extra: dict[Party, Any] = {}
        #: the process last found awake by :meth:`_look` (asked first next time)
        self.awake: Any = NOBODY
        #: has any task parked (the first park of each process takes the rare path)
        self.parks = False
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

    def running(self) -> dict[ProcessContext, int]:
        """The running leaf processes and their places in program order."""
        running = dict(self.entered)
        for run in self.runs:
            running.update(run.leaves())
        return running

    def declare(self, ctx: ProcessContext, position: int | None = None) -> None:
        """*ctx* is a process of a composition under this watcher; *position*
        (from :meth:`reserve`), or the next one, is its place in program order."""
        ctx.watch = self
        ctx.parked = NOT_LEAF
        ctx.witness = NOBODY
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

    def enter(self, ctx: ProcessContext) -> None:
        """*ctx*, declared, is a leaf process that runs (or is about to)."""
        self.entered[ctx] = self.order.pop(ctx, -1)
        ctx.parked = NOT_PARKED

    def leave(self, ctx: ProcessContext) -> None:
        """*ctx*, entered, finished (its tasks parked nothing any more); the
        others may now be deadlocked without it."""
        self.entered.pop(ctx, None)
        ctx.parked = DONE
        if self.parks:
            self.left(ctx)

    def left(self, ctx: ProcessContext) -> None:
        """*ctx* finished (``ctx.parked`` is DONE), after something parked."""
        self.delegating.pop(ctx, None)
        self._look(None, None)

    def delegate(self, ctx: ProcessContext | None, delta: int) -> None:
        """*ctx* starts (+1) or ends (-1) running a nested composition."""
        if ctx is None or ctx.watch is not self:
            return
        held = ctx.parked
        if held is NOT_LEAF or held is DONE:
            return
        delegating = self.delegating
        before = delegating.get(ctx, 0)
        n = before + delta
        if n > 0:
            delegating[ctx] = n
            if not before:  # its helper tasks' parks take the rare path
                if held is not SLOW_PATH and held.state is WAITING:
                    self.extra[held] = ctx
                ctx.parked = SLOW_PATH
        elif before:
            del delegating[ctx]
            if ctx not in self.extra.values():
                ctx.parked = NOT_PARKED
            self._look(None, None)

    # ----------------------------------------------------- the rare path

    def parking(self, proc: Any, party: Party, held: Party, timed: bool = False) -> None:
        """The rare path of a park: *proc* is about to park *party* (already in
        ``proc.parked``, which held *held*) and its witness is not known to be
        awake, or *held* still waits (*proc* is on the slow path, or another of
        its tasks is parked), or *party* is an ALT with a timer guard (*timed*).
        The caller calls :meth:`unparked` after the wait."""
        if held.state is WAITING:  # a sentinel, or another task of proc waits
            if held is SLOW_PATH or held is NOT_LEAF or held is DONE:
                proc.parked = held
            else:  # from now on, all its parties are in extra
                proc.parked = SLOW_PATH
                self.extra[held] = proc
            self.extra[party] = proc
        elif timed:
            proc.parked = held
            self.extra[party] = proc
        self.parks = True
        if timed:
            self.timers.add(party)
        elif self.verifying:
            self._record(party)
        self._look(party, proc)

    def unparked(self, proc: Any, party: Party) -> None:
        """A party that took the rare path stopped waiting."""
        self.extra.pop(party, None)
        if self.timers:
            self.timers.discard(party)

    def _look(self, me: Party | None, proc: Any) -> None:
        """Is a process awake? Then it will park or finish later, and look
        again; it becomes the witness of *proc*, which parks *me*. If not,
        every running process is parked: :meth:`check`."""
        if self.found is not None or self.scope is None:
            return
        extra = self.extra
        in_extra = set()
        for party, ctx in extra.items():
            if party.state is not WAITING:
                return  # committed (or poked), about to wake
            in_extra.add(ctx)
        awake = self.awake
        if awake.parked.state is WAITING or awake in in_extra:
            awake = None
            delegating = self.delegating
            running = self.running()
            for ctx in running:
                if ctx in in_extra or ctx in delegating:
                    continue
                held = ctx.parked
                if held is SLOW_PATH:
                    return  # awake, but on the slow path: no witness
                if held.state is not WAITING:
                    awake = ctx
                    break
            if awake is None:
                self.check(me, running)
                return
            if not self.verifying:
                self.awake = awake
        if proc is not None and proc.parked is me and not self.verifying:
            proc.witness = awake  # its next parks look at this process first

    def _parked(self, running: dict[ProcessContext, int]) -> dict[Party, ProcessContext]:
        """Each parked party (or one about to wake) and its process."""
        parked = {held: ctx for ctx in running
                  if (held := ctx.parked) is not SLOW_PATH and held.state is WAITING}
        parked.update(self.extra)
        return parked

    def check(self, me: Party | None = None,
              running: dict[ProcessContext, int] | None = None) -> None:
        """Fail the composition if every running process waits in a closed cycle
        (*me*: the party of the task calling, about to park; *running*: the
        running processes, when the caller has them)."""
        if self.found is not None or self.scope is None:
            return
        if running is None:
            running = self.running()
        parked = self._parked(running)
        for party in parked:  # the quick look first: anyone awake?
            if party.state is not WAITING:
                return
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
        names = _names(running)
        holders = _holders(running)
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
            self.verifying = True  # every park takes the rare path, and records
            self.awake = NOBODY
            for ctx in running:
                ctx.witness = NOBODY
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
        for ctx in running:
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

    def blocked(self) -> Iterator[Waiting]:
        running = self.running()
        names = _names(running)
        for party, ctx in list(self._parked(running).items()):
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


def _holders(running: dict[ProcessContext, int]) -> dict[Chan[Any], list[ProcessContext]]:
    holders: dict[Chan[Any], list[ProcessContext]] = {}
    for ctx in running:
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
