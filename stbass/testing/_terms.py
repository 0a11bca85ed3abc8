"""Process *terms*: small, printable descriptions of stbass programs, a reference
interpreter (the model) for them, and the code that runs them for real.

A term is a value: ``Seq(Tag('a'), Par(Leaf(1), Fail('boom')))``. Its ``repr`` is
valid Python (with ``from stbass.testing import *``), so when hypothesis shrinks
a failing law it prints a program you can paste. :meth:`Term.build` turns a term
into a real stbass :class:`~stbass.Process` (a composition for the composite
terms); :func:`model` says which :class:`Outcome` values running it may give, and
:func:`run_term` runs it on the current backend and reports the one it gave.

The model is timing-agnostic: it returns the *set* of outcomes possible under any
interleaving (ALT's choice, and which siblings a HALT manages to cancel, depend on
timing), so a real run must land inside the set on either backend.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Literal, overload

import anyio

from .._core._alt import ALT, Guard
from .._core._chan import Chan, ChannelClosedError
from .._compose._choice import (
    HEDGE,
    IF,
    QUORUM,
    RACE,
    WHILE,
    MaxIterationsError,
    NoBranchError,
)
from .._compose._seqpar import PAR, SEQ, CompositionResult, ProcessCancelledError
from .._compose._process import Process, ProcessContext
from .._compose._replicator import PAR_FOR, SEQ_FOR
from .._compose._result import FailurePolicy, ProcessResult

Policy = Literal["halt", "collect"]

#: the backends the synchronous checks run on
BACKENDS: Final = ("asyncio", "trio")

#: the label of a child cancelled by a sibling's failure under HALT
CANCELLED_BY_HALT: Final = "cancelled:halt"
#: the label of a child cancelled by its composition's deadline
CANCELLED_BY_DEADLINE: Final = "cancelled:deadline"
#: the label of an :class:`Alt` none of whose branches succeeded
ALT_ALL_FAILED: Final = "alt:all-failed"
#: the label of an :class:`If` with no branch that holds and no ``otherwise``
IF_NO_BRANCH: Final = "if:no-branch"
#: the label of a :class:`While` whose condition still holds after ``max_iterations``
WHILE_MAX_ITERATIONS: Final = "while:max-iterations"
#: a :class:`Hedge` whose ``after`` is at least this many seconds is modelled as
#: "longer than every process in the term takes" (a fallback chain)
HEDGE_LONG: Final = 60.0


class TermError(Exception):
    """The error a :class:`Fail` leaf raises; its message is the leaf's label.

    >>> str(TermError("boom"))
    'boom'
    """


# ----------------------------------------------------------------- outcomes


def freeze(value: Any) -> Any:
    """*value* with every list turned into a tuple (so outcomes hash and compare).

    >>> freeze([1, [2, 3]])
    (1, (2, 3))
    """
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


@dataclass(frozen=True)
class Outcome:
    """What running a process gave, at the level a parent composition sees it:
    success with a value, or failure with a label.

    The label of a failure is the :class:`TermError` message, ``"cancelled:halt"``
    / ``"cancelled:deadline"`` for a child its composition cancelled, or
    ``"<ErrorType>: <message>"`` for any other error.

    >>> Outcome.ok((1, 2))
    Outcome.ok((1, 2))
    >>> Outcome.failed('boom')
    Outcome.failed('boom')
    """

    is_ok: bool
    value: Any = None
    error: str | None = None

    @classmethod
    def ok(cls, value: Any = None) -> Outcome:
        """A success with *value* (lists are frozen into tuples)."""
        return cls(True, freeze(value), None)

    @classmethod
    def failed(cls, error: str) -> Outcome:
        """A failure labelled *error*."""
        return cls(False, None, error)

    @classmethod
    def of(cls, result: ProcessResult[Any] | CompositionResult) -> Outcome:
        """The outcome of a ``ProcessResult``, ``SEQResult`` or ``PARResult``.

        >>> Outcome.of(ProcessResult.ok([1]))
        Outcome.ok((1,))
        """
        if isinstance(result, CompositionResult):
            result = result.as_process_result()
        if result.is_ok:
            return cls.ok(result.value)
        return cls.failed(error_label(result.failure.error))

    def __repr__(self) -> str:
        if self.is_ok:
            return f"Outcome.ok({self.value!r})"
        return f"Outcome.failed({self.error!r})"


def error_label(error: BaseException) -> str:
    """The :class:`Outcome` label of *error*.

    >>> error_label(TermError("boom"))
    'boom'
    >>> error_label(KeyError("x"))
    "KeyError: 'x'"
    """
    if isinstance(error, TermError):
        return str(error)
    if isinstance(error, ProcessCancelledError):
        return f"cancelled:{error.reason}"
    if isinstance(error, NoBranchError):
        return IF_NO_BRANCH
    if isinstance(error, MaxIterationsError):
        return WHILE_MAX_ITERATIONS
    return f"{type(error).__name__}: {error}"


# -------------------------------------------------------------------- terms


def _policy(on_failure: Policy) -> FailurePolicy:
    if on_failure == "halt":
        return FailurePolicy.HALT
    if on_failure == "collect":
        return FailurePolicy.COLLECT
    raise ValueError(f"on_failure must be 'halt' or 'collect', got {on_failure!r}")


async def _input_of(ctx: ProcessContext) -> Any:
    """The value on the process's ``"input"`` channel (``None`` without one)."""
    if "input" not in ctx.channels:
        return None
    try:
        return await ctx.recv("input")
    except ChannelClosedError:
        return None


async def _pause(delay: float) -> None:
    if delay:
        await anyio.sleep(delay)


def _terms_only(owner: str, children: tuple[Any, ...]) -> tuple[Any, ...]:
    """*children*, or a TypeError naming the first that is not a :class:`Term`
    (a plain Process needs a model: ``leaf(process, model=...)``)."""
    for i, child in enumerate(children):
        if not isinstance(child, Term):
            hint = (
                f"; wrap it with leaf({child.name}, model=...) to say what it does"
                if isinstance(child, Process)
                else ""
            )
            raise TypeError(
                f"{owner}: child {i} must be a term, got {type(child).__name__} {child!r}{hint}"
            )
    return children


def _kw(**fields: Any) -> str:
    """``, name=value`` for each field that is not at its default (given as
    ``name=(value, default)``)."""
    return "".join(f", {k}={v!r}" for k, (v, d) in fields.items() if v != d)


class Term:
    """Base of all terms. A term is immutable, hashable and printable as Python.

    >>> term = Seq(Leaf(1), Tag('b'))
    >>> isinstance(term, Term), term
    (True, Seq(Leaf(1), Tag('b')))
    >>> term.outcomes()
    frozenset({Outcome.ok((1, 'b'))})
    >>> list(term.leaves())
    [Leaf(1), Tag('b')]
    """

    __slots__ = ()

    def build(self) -> Process:
        """A fresh stbass :class:`~stbass.Process` that runs this term."""
        raise NotImplementedError

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        """Every outcome this term may have when run with *input_value*."""
        raise NotImplementedError

    def with_index(self, index: int) -> Term:
        """This term with every unindexed :class:`Idx` leaf given *index*."""
        return self

    def leaves(self) -> Iterator[Term]:
        """The leaves of this term, in declaration order."""
        yield self

    def _key(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Term) and type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))


class Leaf(Term):
    """Wait *delay* seconds, then succeed with *value* (the input is ignored).

    >>> Leaf(3, delay=0.5)
    Leaf(3, delay=0.5)
    """

    __slots__ = ("value", "delay")

    def __init__(self, value: Any = None, *, delay: float = 0.0) -> None:
        self.value = value
        self.delay = delay

    def _key(self) -> tuple[Any, ...]:
        return (self.value, self.delay)

    def __repr__(self) -> str:
        return f"Leaf({self.value!r}{_kw(delay=(self.delay, 0.0))})"

    def build(self) -> Process:
        value, delay = self.value, self.delay

        async def leaf(ctx: ProcessContext) -> ProcessResult[Any]:
            await _pause(delay)
            return ProcessResult.ok(value)

        return Process(leaf, name=f"Leaf({value!r})")

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return frozenset({Outcome.ok(self.value)})


class Tag(Term):
    """Read the input ``x``, wait *delay*, succeed with ``(x, label)``: a stage
    whose output records the order of the pipeline it ran in.

    >>> Tag('a')
    Tag('a')
    """

    __slots__ = ("label", "delay")

    def __init__(self, label: str, *, delay: float = 0.0) -> None:
        self.label = label
        self.delay = delay

    def _key(self) -> tuple[Any, ...]:
        return (self.label, self.delay)

    def __repr__(self) -> str:
        return f"Tag({self.label!r}{_kw(delay=(self.delay, 0.0))})"

    def build(self) -> Process:
        label, delay = self.label, self.delay

        async def tag(ctx: ProcessContext) -> ProcessResult[Any]:
            x = await _input_of(ctx)
            await _pause(delay)
            return ProcessResult.ok((x, label))

        return Process(tag, name=f"Tag({label!r})")

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return frozenset({Outcome.ok((input_value, self.label))})


class Fail(Term):
    """Wait *delay*, then fail with ``TermError(label)``.

    >>> Fail('boom', delay=1.0)
    Fail('boom', delay=1.0)
    """

    __slots__ = ("label", "delay")

    def __init__(self, label: str, *, delay: float = 0.0) -> None:
        self.label = label
        self.delay = delay

    def _key(self) -> tuple[Any, ...]:
        return (self.label, self.delay)

    def __repr__(self) -> str:
        return f"Fail({self.label!r}{_kw(delay=(self.delay, 0.0))})"

    def build(self) -> Process:
        label, delay = self.label, self.delay

        async def fail(ctx: ProcessContext) -> ProcessResult[Any]:
            await _pause(delay)
            raise TermError(label)

        return Process(fail, name=f"Fail({label!r})")

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return frozenset({Outcome.failed(self.label)})


class Skip(Term):
    """The SKIP process: does nothing and succeeds, passing its input on.

    >>> Skip()
    Skip()
    """

    __slots__ = ()

    def _key(self) -> tuple[Any, ...]:
        return ()

    def __repr__(self) -> str:
        return "Skip()"

    def build(self) -> Process:
        async def skip(ctx: ProcessContext) -> ProcessResult[Any]:
            return ProcessResult.ok(await _input_of(ctx))

        return Process(skip, name="Skip")

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return frozenset({Outcome.ok(input_value)})


class Idx(Term):
    """A replicator body leaf: succeeds with ``(label, index)``, or fails with
    ``TermError('<label>[<index>]')`` when *index* is in *fail_on*. The index is
    set by the enclosing :class:`ParFor`/:class:`SeqFor` (``None`` outside one).

    >>> Idx('w', fail_on=(2,))
    Idx('w', fail_on=(2,))
    >>> Idx('w').with_index(1)
    Idx('w', index=1)
    """

    __slots__ = ("label", "delay", "fail_on", "index")

    def __init__(
        self,
        label: str,
        *,
        delay: float = 0.0,
        fail_on: tuple[int, ...] = (),
        index: int | None = None,
    ) -> None:
        self.label = label
        self.delay = delay
        self.fail_on = tuple(fail_on)
        self.index = index

    def _key(self) -> tuple[Any, ...]:
        return (self.label, self.delay, self.fail_on, self.index)

    def __repr__(self) -> str:
        return f"Idx({self.label!r}{_kw(delay=(self.delay, 0.0), fail_on=(self.fail_on, ()), index=(self.index, None))})"

    def with_index(self, index: int) -> Term:
        if self.index is not None:
            return self
        return Idx(self.label, delay=self.delay, fail_on=self.fail_on, index=index)

    def _fails(self) -> bool:
        return self.index is not None and self.index in self.fail_on

    def build(self) -> Process:
        label, delay, index, fails = self.label, self.delay, self.index, self._fails()

        async def idx(ctx: ProcessContext) -> ProcessResult[Any]:
            await _pause(delay)
            if fails:
                raise TermError(f"{label}[{index}]")
            return ProcessResult.ok((label, index))

        return Process(idx, name=f"Idx({label!r})")

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        if self._fails():
            return frozenset({Outcome.failed(f"{self.label}[{self.index}]")})
        return frozenset({Outcome.ok((self.label, self.index))})


class Opt(Term):
    """The term made optional (``process.optional()``): its failure does not fail
    or HALT the composition it is in.

    >>> Opt(Fail('x'))
    Opt(Fail('x'))
    """

    __slots__ = ("term",)

    def __init__(self, term: Term) -> None:
        self.term = term

    def _key(self) -> tuple[Any, ...]:
        return (self.term,)

    def __repr__(self) -> str:
        return f"Opt({self.term!r})"

    def with_index(self, index: int) -> Term:
        return Opt(self.term.with_index(index))

    def leaves(self) -> Iterator[Term]:
        yield from self.term.leaves()

    def build(self) -> Process:
        return self.term.build().optional()

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        # Optionality matters to the parent; a top-level term runs inside SEQ.
        return self.term.outcomes(input_value)


def _is_optional(term: Term) -> bool:
    return isinstance(term, Opt)


class _Composite(Term):
    __slots__ = ("children", "on_failure")

    children: tuple[Term, ...]
    on_failure: Policy

    def leaves(self) -> Iterator[Term]:
        for child in self.children:
            yield from child.leaves()

    def _args(self) -> list[str]:
        args = [repr(c) for c in self.children]
        if self.on_failure != "halt":
            args.append(f"on_failure={self.on_failure!r}")
        return args

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._args())})"


class Seq(_Composite):
    """``SEQ`` of the children: each stage gets the previous stage's value.

    >>> Seq(Tag('a'), Tag('b'), on_failure='collect')
    Seq(Tag('a'), Tag('b'), on_failure='collect')
    """

    __slots__ = ()

    def __init__(self, *children: Term, on_failure: Policy = "halt") -> None:
        _policy(on_failure)
        self.children = _terms_only("Seq", children)
        self.on_failure = on_failure

    def _key(self) -> tuple[Any, ...]:
        return (self.children, self.on_failure)

    def with_index(self, index: int) -> Term:
        return Seq(*(c.with_index(index) for c in self.children), on_failure=self.on_failure)

    def build(self) -> Process:
        return SEQ(*(c.build() for c in self.children), on_failure=_policy(self.on_failure))

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return _seq_outcomes(self.children, self.on_failure, input_value)


def _seq_outcomes(
    children: Sequence[Term], on_failure: Policy, input_value: Any
) -> frozenset[Outcome]:
    # states: (value passed on, label of the first non-optional failure or None)
    states: set[tuple[Any, str | None]] = {(freeze(input_value), None)}
    for child in children:
        after: set[tuple[Any, str | None]] = set()
        seen: dict[Any, frozenset[Outcome]] = {}  # the child's outcomes per input
        for value, first in states:
            if first is not None and on_failure == "halt":
                after.add((value, first))  # halted: later stages do not run
                continue
            if value not in seen:
                seen[value] = child.outcomes(value)
            for o in seen[value]:
                if o.is_ok:
                    after.add((o.value, first))
                elif _is_optional(child):
                    after.add((None, first))
                else:
                    after.add((None, first if first is not None else o.error))
        states = after
    return frozenset(
        Outcome.ok(value) if first is None else Outcome.failed(first) for value, first in states
    )


class Par(_Composite):
    """``PAR`` of the children: as a stage, every child gets the stage input (run
    nested in another Par, none); the value is the tuple of their values,
    ``None`` for a failed optional child. ``deadline`` is in seconds.

    >>> Par(Leaf(1), Leaf(2), deadline=0.5)
    Par(Leaf(1), Leaf(2), deadline=0.5)
    """

    __slots__ = ("deadline",)

    def __init__(
        self, *children: Term, on_failure: Policy = "halt", deadline: float | None = None
    ) -> None:
        _policy(on_failure)
        self.children = _terms_only("Par", children)
        self.on_failure = on_failure
        self.deadline = deadline

    def _key(self) -> tuple[Any, ...]:
        return (self.children, self.on_failure, self.deadline)

    def _args(self) -> list[str]:
        args = super()._args()
        if self.deadline is not None:
            args.append(f"deadline={self.deadline!r}")
        return args

    def with_index(self, index: int) -> Term:
        return Par(
            *(c.with_index(index) for c in self.children),
            on_failure=self.on_failure,
            deadline=self.deadline,
        )

    def build(self) -> Process:
        return PAR(
            *(c.build() for c in self.children),
            on_failure=_policy(self.on_failure),
            deadline=self.deadline,
        )

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return _par_outcomes(
            self.children, self.on_failure, self.deadline is not None, input_value
        )


_DEADLINE: Final = Outcome.failed(CANCELLED_BY_DEADLINE)


def _par_outcomes(
    children: Sequence[Term], on_failure: Policy, has_deadline: bool, input_value: Any = None
) -> frozenset[Outcome]:
    # Folds the children in one at a time, keeping only the distinct partial
    # results, so the cost grows with the number of distinct outcomes rather
    # than with the product of every child's choices. Every child sees the
    # PAR's input (a stage input; ``None`` when the PAR is nested in a PAR).
    child_sets = [c.outcomes(input_value) for c in children]
    optional = [_is_optional(c) for c in children]
    halt = on_failure == "halt"
    found: set[Outcome] = set()
    if halt:
        # Any failure of a non-optional child may be the one that made the PAR
        # halt (every other child can still finish in any way or be cancelled),
        # and the PAR reports the failure that caused the halt.
        for s, opt in zip(child_sets, optional):
            if not opt:
                found.update(Outcome.failed(o.error) for o in s if not o.is_ok and o.error is not None)
    # The runs in which nothing halted the PAR: under HALT no non-optional child
    # failed by itself; under COLLECT every run. A state is the tuple of values
    # so far, or the label of the first non-optional failure in child order.
    states: set[tuple[bool, Any]] = {(True, ())}
    for s, opt in zip(child_sets, optional):
        options = [o for o in s if o.is_ok or opt or not halt]
        if has_deadline:
            options.append(_DEADLINE)
        if not options:
            return frozenset(found)  # no run gets past this child without halting
        after: set[tuple[bool, Any]] = set()
        for is_ok, acc in states:
            if not is_ok:
                after.add((is_ok, acc))  # the first failure stays the first
                continue
            for o in options:
                if o.is_ok:
                    after.add((True, (*acc, o.value)))
                elif opt:
                    after.add((True, (*acc, None)))
                else:
                    after.add((False, o.error))
        states = after
    found.update(Outcome.ok(acc) if is_ok else Outcome.failed(acc) for is_ok, acc in states)
    return frozenset(found)


def _replica_factory(body: Term) -> Any:
    async def body_factory(index: int, ctx: ProcessContext) -> ProcessResult[Any]:
        x = await _input_of(ctx)
        result = await SEQ(body.with_index(index).build()).run(x)
        return result.as_process_result()

    return body_factory


class _ReplicatedTerm(Term):
    """What :class:`ParFor` and :class:`SeqFor` share: a count, a body whose
    :class:`Idx` leaves take the replica's index, and a policy."""

    __slots__ = ("count", "body", "on_failure")

    #: the replicator that builds this term
    _replicator: ClassVar[type[PAR_FOR] | type[SEQ_FOR]]

    def __init__(self, count: int, body: Term, *, on_failure: Policy = "halt") -> None:
        _policy(on_failure)
        self.count = count
        self.body = body
        self.on_failure = on_failure

    def _key(self) -> tuple[Any, ...]:
        return (self.count, self.body, self.on_failure)

    def __repr__(self) -> str:
        kw = _kw(on_failure=(self.on_failure, "halt"))
        return f"{type(self).__name__}({self.count!r}, {self.body!r}{kw})"

    def leaves(self) -> Iterator[Term]:
        yield from self.body.leaves()

    def expand(self) -> Term:
        raise NotImplementedError

    def build(self) -> Process:
        return self._replicator(
            self.count, _replica_factory(self.body), on_failure=_policy(self.on_failure)
        )

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return self.expand().outcomes(input_value)


class ParFor(_ReplicatedTerm):
    """``PAR_FOR(count, factory)`` where replica ``i`` runs *body* with its
    :class:`Idx` leaves given index ``i``.

    >>> ParFor(3, Idx('w'))
    ParFor(3, Idx('w'))
    """

    __slots__ = ()
    _replicator = PAR_FOR

    def expand(self) -> Par:
        """The PAR of the replicas this stands for."""
        return Par(*(self.body.with_index(i) for i in range(self.count)), on_failure=self.on_failure)


class SeqFor(_ReplicatedTerm):
    """``SEQ_FOR(count, factory)``: replica ``i`` runs *body* (indexed ``i``) with
    the previous replica's value as input.

    >>> SeqFor(2, Tag('s'), on_failure='collect')
    SeqFor(2, Tag('s'), on_failure='collect')
    """

    __slots__ = ()
    _replicator = SEQ_FOR

    def expand(self) -> Seq:
        """The SEQ of the replicas this stands for."""
        return Seq(*(self.body.with_index(i) for i in range(self.count)), on_failure=self.on_failure)


class Alt(Term):
    """Run the branches at once (each with this term's input); each successful
    branch offers its value on its own channel, and one ``ALT`` over those
    channels takes exactly one of them. Fails with ``"alt:all-failed"`` when no
    branch succeeds.

    >>> Alt(Leaf(1), Leaf(2, delay=0.1))
    Alt(Leaf(1), Leaf(2, delay=0.1))
    """

    __slots__ = ("children",)

    def __init__(self, *children: Term) -> None:
        if not children:
            raise ValueError("Alt needs at least one branch")
        self.children = children

    def _key(self) -> tuple[Any, ...]:
        return self.children

    def __repr__(self) -> str:
        return f"Alt({', '.join(repr(c) for c in self.children)})"

    def leaves(self) -> Iterator[Term]:
        for child in self.children:
            yield from child.leaves()

    def with_index(self, index: int) -> Term:
        return Alt(*(c.with_index(index) for c in self.children))

    def build(self) -> Process:
        return _AltProcess(self.children)

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        # each branch runs as the one stage of a SEQ (an optional one cannot fail)
        sets = [model(c, input_value) for c in self.children]
        found = {o for s in sets for o in s if o.is_ok}
        if all(any(not o.is_ok for o in s) for s in sets):
            found.add(Outcome.failed(ALT_ALL_FAILED))
        return frozenset(found)


class _AltProcess(Process):
    def __init__(self, children: tuple[Term, ...]) -> None:
        super().__init__(name="Alt")
        self.children = children

    def __repr__(self) -> str:
        return f"Alt({', '.join(repr(c) for c in self.children)}).build()"

    async def run(self, ctx: ProcessContext) -> Any:
        x = await _input_of(ctx)
        n = len(self.children)
        chans: list[Chan[Any]] = [Chan(object, name=f"alt.branch{i}") for i in range(n)]
        failed: Chan[int] = Chan(int, name="alt.failed")
        procs = [c.build() for c in self.children]

        async def branch(i: int) -> None:
            result = await SEQ(procs[i]).run(x)
            try:
                if result.is_ok:
                    await chans[i].send(result.value)
                else:
                    await failed.send(i)
            except ChannelClosedError:
                pass

        chosen: list[Any] = []
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(branch, i)
            failures = 0
            guards: list[Guard[Any]] = [Guard(c) for c in chans]
            guards.append(Guard(failed))
            while not chosen and failures < n:
                index, value = await ALT(*guards).choose()
                if index == n:
                    failures += 1
                else:
                    chosen.append(value)
            for c in chans:
                c.close()
            failed.close()
            tg.cancel_scope.cancel()
        if not chosen:
            raise TermError(ALT_ALL_FAILED)
        return ProcessResult.ok(chosen[0])


# ------------------------------------------------------------ choice terms


class Inc(Term):
    """Read the input and succeed with it plus one (an input that is not an int
    counts as 0): the body of a :class:`While` that terminates.

    >>> Inc().outcomes(2)
    frozenset({Outcome.ok(3)})
    """

    __slots__ = ()

    def _key(self) -> tuple[Any, ...]:
        return ()

    def __repr__(self) -> str:
        return "Inc()"

    def build(self) -> Process:
        async def inc(ctx: ProcessContext) -> ProcessResult[Any]:
            return ProcessResult.ok(_as_int(await _input_of(ctx)) + 1)

        return Process(inc, name="Inc")

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return frozenset({Outcome.ok(_as_int(input_value) + 1)})


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class Below:
    """A printable predicate for :class:`If` and :class:`While`: the value is an
    int below *n*.

    >>> Below(3)(2), Below(3)(3), Below(3)('x')
    (True, False, False)
    """

    n: int

    def __call__(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value < self.n

    def __repr__(self) -> str:
        return f"Below({self.n!r})"


#: what :class:`If` and :class:`While` take as a predicate
TermPredicate = bool | Below


def _holds(pred: TermPredicate, value: Any) -> bool:
    return pred if isinstance(pred, bool) else pred(value)


class If(Term):
    """``IF`` of ``(predicate, term)`` branches (predicates: bools or
    :class:`Below`), with an optional ``otherwise``.

    >>> If((Below(2), Leaf('small')), otherwise=Leaf('big')).outcomes(5)
    frozenset({Outcome.ok('big')})
    """

    __slots__ = ("branches", "otherwise")

    def __init__(self, *branches: tuple[TermPredicate, Term], otherwise: Term | None = None) -> None:
        self.branches = tuple(branches)
        self.otherwise = otherwise

    def _key(self) -> tuple[Any, ...]:
        return (self.branches, self.otherwise)

    def __repr__(self) -> str:
        args = [f"({p!r}, {t!r})" for p, t in self.branches]
        if self.otherwise is not None:
            args.append(f"otherwise={self.otherwise!r}")
        return f"If({', '.join(args)})"

    def leaves(self) -> Iterator[Term]:
        for _, t in self.branches:
            yield from t.leaves()
        if self.otherwise is not None:
            yield from self.otherwise.leaves()

    def with_index(self, index: int) -> Term:
        return If(
            *((p, t.with_index(index)) for p, t in self.branches),
            otherwise=None if self.otherwise is None else self.otherwise.with_index(index),
        )

    def build(self) -> Process:
        return IF(
            *((p, t.build()) for p, t in self.branches),
            otherwise=None if self.otherwise is None else self.otherwise.build(),
        )

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        for pred, term in self.branches:
            if _holds(pred, input_value):
                return term.outcomes(input_value)
        if self.otherwise is not None:
            return self.otherwise.outcomes(input_value)
        return frozenset({Outcome.failed(IF_NO_BRANCH)})


class While(Term):
    """``WHILE(condition, body, max_iterations=...)`` (the condition a bool or a
    :class:`Below`; *max_iterations* keeps every term finite).

    >>> While(Below(3), Inc(), max_iterations=5).outcomes(0)
    frozenset({Outcome.ok(3)})
    >>> While(True, Inc(), max_iterations=2).outcomes(0)
    frozenset({Outcome.failed('while:max-iterations')})
    """

    __slots__ = ("condition", "body", "max_iterations")

    def __init__(self, condition: TermPredicate, body: Term, *, max_iterations: int = 3) -> None:
        self.condition = condition
        self.body = body
        self.max_iterations = max_iterations

    def _key(self) -> tuple[Any, ...]:
        return (self.condition, self.body, self.max_iterations)

    def __repr__(self) -> str:
        return f"While({self.condition!r}, {self.body!r}, max_iterations={self.max_iterations!r})"

    def leaves(self) -> Iterator[Term]:
        yield from self.body.leaves()

    def with_index(self, index: int) -> Term:
        return While(self.condition, self.body.with_index(index), max_iterations=self.max_iterations)

    def build(self) -> Process:
        return WHILE(self.condition, self.body.build(), max_iterations=self.max_iterations)

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        found: set[Outcome] = set()
        values = {freeze(input_value)}
        for iteration in range(self.max_iterations + 1):
            going: set[Any] = set()
            for v in values:
                if _holds(self.condition, v):
                    going.add(v)
                else:
                    found.add(Outcome.ok(v))
            if not going:
                break
            if iteration == self.max_iterations:
                found.add(Outcome.failed(WHILE_MAX_ITERATIONS))
                break
            values = set()
            for v in going:
                for o in self.body.outcomes(v):
                    if o.is_ok:
                        values.add(o.value)
                    else:
                        found.add(o)
        return frozenset(found)


def _first_successes(
    children: Sequence[Term], k: int, input_value: Any, *, single: bool
) -> frozenset[Outcome]:
    """The outcomes of a QUORUM(k) of *children* (RACE: k == 1, *single* value).

    Success: any k distinct children, in any completion order, each with one of
    its successful values. Failure: once more than ``n - k`` children failed; the
    composition reports the first failure in declaration order among those that
    had failed by then (more may have failed in the same turn), so child ``i``'s
    failure can be reported when at least ``n - k + 1`` of the children from
    ``i`` on can fail.
    """
    sets = [c.outcomes(input_value) for c in children]
    n = len(sets)
    oks = [sorted({o.value for o in s if o.is_ok}, key=repr) for s in sets]
    fails = [sorted({o.error for o in s if not o.is_ok and o.error is not None}) for s in sets]
    found: set[Outcome] = set()
    for chosen in itertools.permutations(range(n), k):
        for values in itertools.product(*(oks[i] for i in chosen)):
            found.add(Outcome.ok(values[0] if single else values))
    failable = [bool(f) for f in fails]
    for i in range(n):
        if failable[i] and sum(failable[i:]) >= n - k + 1:
            found.update(Outcome.failed(e) for e in fails[i])
    return frozenset(found)


class _Racing(Term):
    __slots__ = ("children",)

    children: tuple[Term, ...]

    def leaves(self) -> Iterator[Term]:
        for child in self.children:
            yield from child.leaves()

    def _args(self) -> list[str]:
        return [repr(c) for c in self.children]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self._args())})"


class Race(_Racing):
    """``RACE`` of the children: the first success wins.

    >>> sorted(Race(Leaf(1), Fail('x'), Leaf(2)).outcomes(), key=repr)
    [Outcome.ok(1), Outcome.ok(2)]
    """

    __slots__ = ()

    def __init__(self, *children: Term) -> None:
        if not children:
            raise ValueError("Race needs at least one child")
        self.children = children

    def _key(self) -> tuple[Any, ...]:
        return self.children

    def with_index(self, index: int) -> Term:
        return Race(*(c.with_index(index) for c in self.children))

    def build(self) -> Process:
        return RACE(*(c.build() for c in self.children))

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return _first_successes(self.children, 1, input_value, single=True)


class Quorum(_Racing):
    """``QUORUM(k, ...)``: the first *k* successes, in completion order.

    >>> sorted(Quorum(2, Leaf(1), Leaf(2)).outcomes(), key=repr)
    [Outcome.ok((1, 2)), Outcome.ok((2, 1))]
    """

    __slots__ = ("k",)

    def __init__(self, k: int, *children: Term) -> None:
        if not 0 < k <= len(children):
            raise ValueError(f"Quorum needs 0 < k <= {len(children)}, got {k}")
        self.k = k
        self.children = children

    def _key(self) -> tuple[Any, ...]:
        return (self.k, self.children)

    def _args(self) -> list[str]:
        return [repr(self.k), *super()._args()]

    def with_index(self, index: int) -> Term:
        return Quorum(self.k, *(c.with_index(index) for c in self.children))

    def build(self) -> Process:
        return QUORUM(self.k, *(c.build() for c in self.children))

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        return _first_successes(self.children, self.k, input_value, single=False)


class Hedge(_Racing):
    """``HEDGE(..., after=after)``. With ``after >= HEDGE_LONG`` the model reads it
    as longer than every process here takes: the next child starts only when
    every started one has failed (a fallback chain); otherwise any child may win,
    as in :class:`Race`.

    >>> sorted(Hedge(Leaf(1), Leaf(2), after=600).outcomes(), key=repr)
    [Outcome.ok(1)]
    """

    __slots__ = ("after",)

    def __init__(self, *children: Term, after: float) -> None:
        if not children:
            raise ValueError("Hedge needs at least one child")
        self.children = children
        self.after = after

    def _key(self) -> tuple[Any, ...]:
        return (self.children, self.after)

    def _args(self) -> list[str]:
        return [*super()._args(), f"after={self.after!r}"]

    def with_index(self, index: int) -> Term:
        return Hedge(*(c.with_index(index) for c in self.children), after=self.after)

    def build(self) -> Process:
        return HEDGE(*(c.build() for c in self.children), after=self.after)

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        if self.after < HEDGE_LONG:
            return _first_successes(self.children, 1, input_value, single=True)
        found: set[Outcome] = set()
        first_failures: frozenset[Outcome] = frozenset()
        for i, child in enumerate(self.children):
            outcomes = child.outcomes(input_value)
            found.update(o for o in outcomes if o.is_ok)
            failures = frozenset(o for o in outcomes if not o.is_ok)
            if i == 0:
                first_failures = failures
            if not failures:
                return frozenset(found)  # this one always succeeds: no later one starts
        return frozenset(found | first_failures)


# ------------------------------------------------------------------ running


def model(term: Term, input_value: Any = None) -> frozenset[Outcome]:
    """Every outcome :func:`run_term` may report for *term* (the reference
    interpreter): the term runs as the one stage of a ``SEQ``.

    >>> sorted(model(Alt(Leaf(1), Leaf(2))), key=repr)
    [Outcome.ok(1), Outcome.ok(2)]
    >>> model(Seq(Tag('a'), Tag('b')), input_value=0)
    frozenset({Outcome.ok(((0, 'a'), 'b'))})
    """
    return _seq_outcomes((term,), "halt", input_value)


async def run_process(process: Process, input_value: Any = None) -> Outcome:
    """Run any stbass *process* once, as the single stage of a ``SEQ`` fed
    *input_value*, on the current backend, and report its :class:`Outcome`.

    >>> outcome = await run_process(my_process, input_value=3)  # doctest: +SKIP
    """
    result = await SEQ(process).run(input_value)
    return Outcome.of(result)


async def run_term(term: Term, input_value: Any = None) -> Outcome:
    """Build *term* and run it once on the current backend (see :func:`run_process`).

    >>> outcome = await run_term(Seq(Leaf(1), Tag('t')))  # doctest: +SKIP
    >>> outcome  # doctest: +SKIP
    Outcome.ok((1, 't'))
    """
    return await run_process(term.build(), input_value)


async def check_term(term: Term, input_value: Any = None) -> Outcome:
    """Run *term* and assert that what it gave is one of the model's outcomes.

    >>> await check_term(Par(Leaf(1), Fail('x'), on_failure='collect'))  # doctest: +SKIP
    Outcome.failed('x')
    """
    expected = model(term, input_value)
    got = await run_term(term, input_value)
    assert got in expected, (
        f"{term!r} (input {input_value!r}) gave {got!r}; the model allows "
        f"{sorted(expected, key=repr)!r}"
    )
    return got


def is_deterministic(term: Term, input_value: Any = None) -> bool:
    """Does the model allow exactly one outcome for *term*?

    >>> is_deterministic(Seq(Leaf(1), Tag('a')))
    True
    >>> is_deterministic(Alt(Leaf(1), Leaf(2)))
    False
    """
    return len(model(term, input_value)) == 1


def can_fail(term: Term) -> bool:
    """Does *term* contain a leaf that can fail (a :class:`Fail`, or an
    :class:`Idx` with ``fail_on``)?

    >>> can_fail(Par(Leaf(1), Opt(Fail('x'))))
    True
    """
    return any(isinstance(t, Fail) or (isinstance(t, Idx) and t.fail_on) for t in term.leaves())


@overload
def assert_equivalent(
    lhs: Term | Process,
    rhs: Term | Process,
    *,
    input_value: Any = None,
    transform: Callable[[Outcome], Outcome] | None = None,
    view: Callable[[Outcome], Outcome] | None = None,
    inputs: None = None,
) -> Coroutine[Any, Any, tuple[Outcome, Outcome]]: ...
@overload
def assert_equivalent(
    lhs: Term | Process,
    rhs: Term | Process,
    *,
    input_value: Any = None,
    transform: Callable[[Outcome], Outcome] | None = None,
    view: Callable[[Outcome], Outcome] | None = None,
    inputs: Any,
    max_examples: int = 100,
    backends: Sequence[str] = BACKENDS,
) -> None: ...


def assert_equivalent(
    lhs: Term | Process,
    rhs: Term | Process,
    *,
    input_value: Any = None,
    transform: Callable[[Outcome], Outcome] | None = None,
    view: Callable[[Outcome], Outcome] | None = None,
    inputs: Any = None,
    max_examples: int = 100,
    backends: Sequence[str] = BACKENDS,
) -> Coroutine[Any, Any, tuple[Outcome, Outcome]] | None:
    """Assert that two processes (or terms) are equivalent.

    **With** ``inputs`` (a hypothesis strategy) this is a plain function for a
    plain test — no fixture, no ``async``: for every input hypothesis draws it
    runs both sides on each of *backends* (``anyio.run``, asyncio and trio) and
    compares them as below; a failure is shrunk to a minimal input and reported
    with it and the backend.

    >>> from hypothesis import strategies as st
    >>> def test_normalise():                                          # doctest: +SKIP
    ...     assert_equivalent(normalise, SEQ(strip, lower), inputs=st.text())

    **Without** ``inputs`` it returns a coroutine to await inside an anyio
    test: one run of each side on the current backend with *input_value*
    (see :func:`equivalent_once`).
    """
    if inputs is None:
        return equivalent_once(lhs, rhs, input_value=input_value, transform=transform, view=view)
    _check_for_all(
        lambda x: equivalent_once(lhs, rhs, input_value=x, transform=transform, view=view),
        inputs,
        max_examples,
        backends,
    )
    return None


def _check_for_all(
    run_one: Callable[[Any], Awaitable[Any]],
    inputs: Any,
    max_examples: int,
    backends: Sequence[str],
) -> None:
    """For every input hypothesis draws from *inputs*: ``anyio.run(run_one(x))``
    on each backend; a failure is re-raised naming the backend and the input."""
    from hypothesis import HealthCheck, given, settings

    for backend in backends:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; use 'asyncio' or 'trio'")

    @settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        database=None,
    )
    @given(inputs)
    def for_all(x: Any) -> None:
        for backend in backends:
            async def once() -> None:
                await run_one(x)

            try:
                anyio.run(once, backend=backend)
            except AssertionError as exc:
                raise AssertionError(f"on {backend}, input {x!r}: {exc}") from None

    for_all()


async def equivalent_once(
    lhs: Term | Process,
    rhs: Term | Process,
    *,
    input_value: Any = None,
    transform: Callable[[Outcome], Outcome] | None = None,
    view: Callable[[Outcome], Outcome] | None = None,
) -> tuple[Outcome, Outcome]:
    """Run both sides once and assert they agree; returns the two outcomes.

    Terms are also checked against the model: each real outcome must be one the
    model allows, and the two models must agree. When both models are a single
    outcome (or the sides are plain processes) the two real outcomes must be
    equal. *transform* maps a right-hand outcome into the left-hand shape (e.g.
    reorders a PAR's values); *view* maps both sides' outcomes to what "equal"
    means for the law (e.g. :func:`failure_status` to compare failures only by
    status).

    >>> await assert_equivalent(Seq(Seq(a, b), c), Seq(a, Seq(b, c)))  # doctest: +SKIP
    """
    see: Callable[[Outcome], Outcome] = view if view is not None else _same
    fix: Callable[[Outcome], Outcome] = transform if transform is not None else _same
    if isinstance(lhs, Term):
        got_l = await check_term(lhs, input_value)
    else:
        got_l = await run_process(lhs, input_value)
    if isinstance(rhs, Term):
        got_r = await check_term(rhs, input_value)
    else:
        got_r = await run_process(rhs, input_value)
    exact = True
    if isinstance(lhs, Term) and isinstance(rhs, Term):
        m_l = frozenset(see(o) for o in model(lhs, input_value))
        m_r = frozenset(see(fix(o)) for o in model(rhs, input_value))
        assert m_l == m_r, (
            f"the model says {lhs!r} and {rhs!r} differ: {sorted(m_l, key=repr)!r} vs "
            f"{sorted(m_r, key=repr)!r}"
        )
        exact = len(m_l) == 1
    if exact:
        assert see(got_l) == see(fix(got_r)), (
            f"{lhs!r} gave {got_l!r} but {rhs!r} gave {got_r!r}"
        )
    return got_l, got_r


def _same(outcome: Outcome) -> Outcome:
    return outcome


def failure_status(outcome: Outcome) -> Outcome:
    """*outcome* with a failure's label erased: for laws where *which* failure a
    HALT composition reports depends on timing, only *that* it failed counts.

    >>> failure_status(Outcome.failed('boom'))
    Outcome.failed('*')
    """
    return outcome if outcome.is_ok else Outcome.failed("*")


def with_policy(term: Term, on_failure: Policy) -> Term:
    """*term* with every composition's ``on_failure`` set to *on_failure*.

    >>> with_policy(Seq(Par(Leaf(1)), Tag('a')), 'collect')
    Seq(Par(Leaf(1), on_failure='collect'), Tag('a'), on_failure='collect')
    """
    if isinstance(term, Seq):
        return Seq(*(with_policy(c, on_failure) for c in term.children), on_failure=on_failure)
    if isinstance(term, Par):
        return Par(
            *(with_policy(c, on_failure) for c in term.children),
            on_failure=on_failure,
            deadline=term.deadline,
        )
    if isinstance(term, ParFor):
        return ParFor(term.count, with_policy(term.body, on_failure), on_failure=on_failure)
    if isinstance(term, SeqFor):
        return SeqFor(term.count, with_policy(term.body, on_failure), on_failure=on_failure)
    if isinstance(term, Alt):
        return Alt(*(with_policy(c, on_failure) for c in term.children))
    if isinstance(term, Opt):
        return Opt(with_policy(term.term, on_failure))
    if isinstance(term, If):
        return If(
            *((p, with_policy(t, on_failure)) for p, t in term.branches),
            otherwise=None if term.otherwise is None else with_policy(term.otherwise, on_failure),
        )
    if isinstance(term, While):
        return While(
            term.condition, with_policy(term.body, on_failure), max_iterations=term.max_iterations
        )
    if isinstance(term, Race):
        return Race(*(with_policy(c, on_failure) for c in term.children))
    if isinstance(term, Quorum):
        return Quorum(term.k, *(with_policy(c, on_failure) for c in term.children))
    if isinstance(term, Hedge):
        return Hedge(*(with_policy(c, on_failure) for c in term.children), after=term.after)
    return term


# ------------------------------------------------------------ your processes


class UserLeaf(Term):
    """A leaf that runs one of *your* processes, with a model of what it does:
    made by :func:`leaf`. Its ``repr`` is ``leaf(<process name>)``.

    >>> from stbass import Process
    >>> @Process
    ... async def echo(ctx):
    ...     return await ctx.recv("input")
    >>> leaf(echo, model=lambda x: x)
    leaf(echo)
    """

    __slots__ = ("process", "model")

    def __init__(self, process: Process, model: Callable[[Any], Any]) -> None:
        if not isinstance(process, Process):
            raise TypeError(
                f"leaf: expected a stbass Process, got {type(process).__name__} {process!r}"
            )
        if not callable(model):
            raise TypeError(
                f"leaf({process.name}): model must be a callable (input -> expected value), "
                f"got {type(model).__name__}"
            )
        self.process = process
        self.model = model

    def _key(self) -> tuple[Any, ...]:
        return (id(self.process), id(self.model))

    def __repr__(self) -> str:
        return f"leaf({self.process.name})"

    def build(self) -> Process:
        return _UserLeafProcess(self.process)

    def outcomes(self, input_value: Any = None) -> frozenset[Outcome]:
        try:
            expected = self.model(input_value)
        except Exception as exc:  # the model says the process fails this way
            return frozenset({Outcome.failed(error_label(exc))})
        if isinstance(expected, Outcome):
            return frozenset({expected})
        if isinstance(expected, (set, frozenset)) and all(
            isinstance(o, Outcome) for o in expected
        ):
            return frozenset(expected)
        return frozenset({Outcome.ok(expected)})


class _UserLeafProcess(Process):
    """Runs the user's process as a one-stage SEQ fed this process's input, so it
    always has an ``"input"`` channel (``None`` inside a PAR, as the model sees)."""

    def __init__(self, process: Process) -> None:
        super().__init__(name=process.name)
        self.inner = process

    def __repr__(self) -> str:
        return f"leaf({self.inner.name}).build()"

    async def run(self, ctx: ProcessContext) -> Any:
        x = freeze(await _input_of(ctx))  # the value the model sees
        return (await SEQ(self.inner).run(x)).as_process_result()


def leaf(process: Process, *, model: Callable[[Any], Any]) -> UserLeaf:
    """Use your own *process* in generated terms, with a *model* of it.

    ``model(x)`` says what the process gives for input ``x`` (``None`` when it
    runs inside a ``Par``, which feeds no input): a value (success with that
    value), an :class:`Outcome`, a set of outcomes (any of them may happen), or
    it raises — the process is expected to fail with the same error (compared by
    :func:`error_label`). The process reads its input from ``ctx.recv("input")``
    and returns its value, like any ``SEQ`` stage; the input is :func:`freeze`-d
    (lists become tuples), so the process and its model see the same value.

    >>> from stbass import Process
    >>> @Process
    ... async def inc(ctx):
    ...     return await ctx.recv("input") + 1
    >>> t = Seq(Leaf(1), leaf(inc, model=lambda x: x + 1))
    >>> t, model(t)
    (Seq(Leaf(1), leaf(inc)), frozenset({Outcome.ok(2)}))
    """
    return UserLeaf(process, model)
