"""Hypothesis strategies for process terms (needs ``hypothesis``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from ._terms import (
    Alt,
    Fail,
    Idx,
    Leaf,
    Opt,
    Par,
    ParFor,
    Policy,
    Seq,
    SeqFor,
    Skip,
    Tag,
    Term,
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
    leaves: st.SearchStrategy[Term] | None = None,
    max_leaves: int = 8,
    max_children: int = 3,
    policies: Sequence[Policy] = _POLICIES,
    alt: bool = True,
    replicators: bool = True,
    optional: bool = True,
    failures: bool = True,
    delays: Sequence[float] = (0.0,),
) -> st.SearchStrategy[Term]:
    """Whole process terms: *leaves* nested in :class:`Seq`, :class:`Par`,
    :class:`Alt`, :class:`ParFor`, :class:`SeqFor` and :class:`Opt` with
    ``st.recursive``. ``replicators=False`` leaves out :class:`ParFor` and
    :class:`SeqFor`.

    >>> @given(terms(failures=False))                     # doctest: +SKIP
    ... async def test_par_of_one(anyio_backend, t):
    ...     await assert_equivalent(Par(t), t, transform=...)
    """
    base = leaves if leaves is not None else leaf_terms(failures=failures, delays=delays)
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
        return st.one_of(options)

    return st.recursive(base, extend, max_leaves=max_leaves)
