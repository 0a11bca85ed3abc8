"""Hypothesis strategies for process terms (needs ``hypothesis``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ._terms import (
    HEDGE_LONG,

    BACKENDS,
    Alt,
    Below,
    Fail,
    Hedge,
    Idx,
    If,
    Inc,
    Leaf,
    Opt,
    Par,
    ParFor,
    Policy,
    Quorum,
    Race,
    Seq,
    SeqFor,
    Skip,
    Tag,
    Term,
    While,

    Outcome,
    _check_for_all,
    equivalent_once,
    failure_status,
)

_POLICIES: tuple[Policy, ...] = ("halt", "collect")


def leaf_terms(
    *,
    values: st.SearchStrategy[Any] | None = None,
    delays: Sequence[float] = (0.0,),
    failures: bool = True,
    labels: Sequence[str] = ("a", "b", "c", "d"),
) -> st.SearchStrategy[Term]:
    """Leaves: :class:`Leaf` (a value), :class:`Tag` (records the pipeline),
    :class:`Skip`, :class:`Idx` (replicator index) and, if *failures*,
    :class:`Fail`. *delays* are the waits leaves may have (seconds).

    >>> leaf_terms(delays=(0.0, 0.5), failures=False).example()  # doctest: +SKIP
    Tag('b', delay=0.5)
    """
    vals = values if values is not None else st.integers(-3, 9)
    delay = st.sampled_from(tuple(delays))
    label = st.sampled_from(tuple(labels))
    options: list[st.SearchStrategy[Term]] = [
        st.builds(lambda v, d: Leaf(v, delay=d), vals, delay),
        st.builds(lambda l, d: Tag(l, delay=d), label, delay),
        st.just(Skip()),
    ]
    if failures:
        options.append(st.builds(lambda l, d: Fail("E" + l, delay=d), label, delay))
        options.append(
            st.builds(
                lambda l, d, f: Idx(l, delay=d, fail_on=tuple(sorted(f))),
                label,
                delay,
                st.frozensets(st.integers(0, 3), max_size=2),
            )
        )
    else:
        options.append(st.builds(lambda l, d: Idx(l, delay=d), label, delay))
    return st.one_of(options)


def terms(
    *,
    leaves: st.SearchStrategy[Term] | Sequence[Term] | None = None,
    max_leaves: int = 8,
    max_children: int = 3,
    policies: Sequence[Policy] = _POLICIES,
    alt: bool = True,
    replicators: bool = True,
    optional: bool = True,
    failures: bool = True,
    delays: Sequence[float] = (0.0,),
    choice: bool | None = None,
) -> st.SearchStrategy[Term]:
    """Whole process terms: *leaves* nested in :class:`Seq`, :class:`Par`,
    :class:`Alt`, :class:`ParFor`, :class:`SeqFor`, :class:`Opt` and
    :class:`If`, :class:`While`, :class:`Race`, :class:`Hedge` and
    :class:`Quorum`, with ``st.recursive``. ``replicators=False`` leaves out
    :class:`ParFor` and :class:`SeqFor`. *leaves* is a strategy or a list of
    terms to pick from, e.g. your own processes as ``leaf(process, model=...)``
    (see :func:`leaf`). ``choice`` (default: on, except for a list of your own
    leaves, whose values the choice terms' integer predicates and ``Inc``
    bodies do not fit) switches the choice compositions on or off.

    >>> @given(terms(failures=False))                     # doctest: +SKIP
    ... async def test_par_of_one(anyio_backend, t):
    ...     await assert_equivalent(Par(t), t, transform=...)
    """
    if choice is None:
        choice = leaves is None or isinstance(leaves, st.SearchStrategy)
    if leaves is None:
        base = leaf_terms(failures=failures, delays=delays)
    elif isinstance(leaves, st.SearchStrategy):
        base = leaves
    else:
        chosen = list(leaves)
        if not chosen or not all(isinstance(t, Term) for t in chosen):
            raise TypeError(
                f"terms: leaves must be a strategy or a non-empty list of terms "
                f"(your processes as leaf(process, model=...)), got {leaves!r}"
            )
        base = st.sampled_from(chosen)
    policy = st.sampled_from(tuple(policies))

    def extend(children: st.SearchStrategy[Term]) -> st.SearchStrategy[Term]:
        kids = st.lists(children, max_size=max_children).map(tuple)
        options: list[st.SearchStrategy[Term]] = [
            st.builds(lambda cs, p: Seq(*cs, on_failure=p), kids, policy),
            st.builds(lambda cs, p: Par(*cs, on_failure=p), kids, policy),
        ]
        if alt:
            options.append(
                st.builds(lambda cs: Alt(*cs), st.lists(children, min_size=1, max_size=max_children))
            )
        if replicators:
            count = st.integers(0, 3)
            options.append(st.builds(lambda n, b, p: ParFor(n, b, on_failure=p), count, children, policy))
            options.append(st.builds(lambda n, b, p: SeqFor(n, b, on_failure=p), count, children, policy))
        if optional and failures:
            options.append(children.map(Opt))
        if choice:
            options.extend(choice_terms(children))
        return st.one_of(options)

    return st.recursive(base, extend, max_leaves=max_leaves)


def predicates() -> st.SearchStrategy[bool | Below]:
    """Predicates of :class:`If` and :class:`While`: ``True``, ``False`` or a
    :class:`Below`.

    >>> predicates().example()  # doctest: +SKIP
    Below(2)
    """
    return st.one_of(st.booleans(), st.builds(Below, st.integers(0, 4)))


def choice_terms(children: st.SearchStrategy[Term], max_children: int = 3) -> list[st.SearchStrategy[Term]]:
    """One strategy per choice composition over *children*: :class:`If`,
    :class:`While` (with an :class:`Inc` or a child as its body),
    :class:`Race`, :class:`Hedge` (``after`` 0 or ``HEDGE_LONG``) and
    :class:`Quorum`.

    >>> st.one_of(choice_terms(leaf_terms())).example()  # doctest: +SKIP
    Quorum(1, Leaf(2), Fail('Ea'))
    """
    some = st.lists(children, min_size=1, max_size=max_children).map(tuple)
    branch = st.tuples(predicates(), children)
    return [
        st.builds(
            lambda bs, o: If(*bs, otherwise=o),
            st.lists(branch, max_size=2),
            st.none() | children,
        ),
        st.builds(
            lambda c, b, m: While(c, b, max_iterations=m),
            predicates(),
            st.just(Inc()) | children,
            st.integers(0, 3),
        ),
        some.map(lambda cs: Race(*cs)),
        st.builds(
            lambda cs, a: Hedge(*cs, after=a), some, st.sampled_from((0.0, HEDGE_LONG))
        ),
        some.flatmap(
            lambda cs: st.integers(1, len(cs)).map(lambda k: Quorum(k, *cs))
        ),
    ]


def _append_none(o: Outcome) -> Outcome:
    return Outcome.ok((*o.value, None)) if o.is_ok else o


def _one(o: Outcome) -> Outcome:
    return Outcome.ok((o.value,)) if o.is_ok else o


def _swap(o: Outcome) -> Outcome:
    return Outcome.ok((o.value[1], o.value[0])) if o.is_ok else o


def check_laws(
    leaves: Sequence[Term],
    *,
    inputs: st.SearchStrategy[Any] | None = None,
    max_examples: int = 50,
    max_leaves: int = 5,
    backends: Sequence[str] = BACKENDS,
) -> None:
    """Check the laws of SEQ and PAR on programs built from *your* processes.

    *leaves* are terms — typically your processes as ``leaf(process,
    model=...)``; hypothesis builds random compositions of them (:func:`terms`,
    without :class:`Alt`) and, on each of *backends*, checks that every program
    does what the models say and that these laws hold: ``SEQ`` is associative,
    SKIP is the unit of ``SEQ`` and of ``PAR``, ``PAR`` is commutative, and
    ``PAR(P) = P``. A plain function for a plain test (no fixture, no async); a
    failure is shrunk and reported with the programs as Python.

    >>> def test_my_processes_obey_the_laws():                      # doctest: +SKIP
    ...     check_laws([leaf(inc, model=lambda x: x + 1)], inputs=st.integers())
    """
    xs = inputs if inputs is not None else st.integers(-3, 9)
    some = terms(leaves=leaves, max_leaves=max_leaves, alt=False, optional=False, choice=False)
    policy = st.sampled_from(_POLICIES)

    async def law(case: tuple[Term, Term, Term, Policy, Any]) -> None:
        a, b, c, p, x = case
        await equivalent_once(a, a, input_value=x)  # run(P) is one of model(P)
        await equivalent_once(
            Seq(Seq(a, b, on_failure=p), c, on_failure=p),
            Seq(a, Seq(b, c, on_failure=p), on_failure=p),
            input_value=x,
        )
        await equivalent_once(Seq(Skip(), a, on_failure=p), a, input_value=x)
        await equivalent_once(Seq(a, Skip(), on_failure=p), a, input_value=x)
        await equivalent_once(
            Par(a, b, Skip(), on_failure=p), Par(a, b, on_failure=p),
            transform=_append_none, view=failure_status,
        )
        await equivalent_once(
            Par(a, b, on_failure=p), Par(b, a, on_failure=p),
            transform=_swap, view=failure_status,
        )
        await equivalent_once(Par(a, on_failure=p), a, transform=_one)

    _check_for_all(law, st.tuples(some, some, some, policy, xs), max_examples, backends)
