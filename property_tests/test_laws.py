"""The algebraic laws of SEQ, PAR, the replicators and SKIP (SPEC §9), checked by
hypothesis on asyncio and trio.

Each law runs both sides for real and checks each real outcome against the
reference model of :mod:`stbass.testing` (``check_term``), then compares the two
sides. "Equal" means the same :class:`~stbass.testing.Outcome` — success with the
same value, or failure with the same label — except where a docstring says
"up to failure status": there the *which* failure a HALT PAR reports depends on
timing, and only *that* it failed is compared (the model still checks the label
is a possible one).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stbass.testing import (
    Outcome,
    Par,
    ParFor,
    Seq,
    SeqFor,
    Skip,
    Term,
    assert_equivalent,
    can_fail,
    failure_status,
    terms,
    with_policy,
)

pytestmark = pytest.mark.anyio

policies = st.sampled_from(("halt", "collect"))
inputs = st.integers(0, 5)
small_terms = terms(max_leaves=5)


@given(a=small_terms, b=small_terms, c=small_terms, p=policies, x=inputs)
async def test_seq_is_associative(
    anyio_backend: Any, a: Term, b: Term, c: Term, p: Any, x: int
) -> None:
    """SEQ(SEQ(P, Q), R) = SEQ(P, SEQ(Q, R))

    Equal: the same outcome (value, or first failure) for the same input.
    """
    await assert_equivalent(
        Seq(Seq(a, b, on_failure=p), c, on_failure=p),
        Seq(a, Seq(b, c, on_failure=p), on_failure=p),
        input_value=x,
    )


@given(t=terms(), p=policies, x=inputs)
async def test_skip_is_unit_of_seq(anyio_backend: Any, t: Term, p: Any, x: int) -> None:
    """SEQ(SKIP, P) = P = SEQ(P, SKIP)

    SKIP passes its input on. Equal: the same outcome for the same input.
    """
    await assert_equivalent(Seq(Skip(), t, on_failure=p), t, input_value=x)
    await assert_equivalent(Seq(t, Skip(), on_failure=p), t, input_value=x)


def _append_none(o: Outcome) -> Outcome:
    return Outcome.ok((*o.value, None)) if o.is_ok else o


def _prepend_none(o: Outcome) -> Outcome:
    return Outcome.ok((None, *o.value)) if o.is_ok else o


@given(ts=st.lists(terms(max_leaves=5), max_size=3), p=policies)
async def test_skip_is_unit_of_par(anyio_backend: Any, ts: list[Term], p: Any) -> None:
    """PAR(P1..Pn, SKIP) = PAR(P1..Pn) = PAR(SKIP, P1..Pn), up to failure status

    Equal: the same values with SKIP's ``None`` dropped; both fail or neither.
    """
    await assert_equivalent(
        Par(*ts, Skip(), on_failure=p), Par(*ts, on_failure=p),
        transform=_append_none, view=failure_status,
    )
    await assert_equivalent(
        Par(Skip(), *ts, on_failure=p), Par(*ts, on_failure=p),
        transform=_prepend_none, view=failure_status,
    )


@given(data=st.data(), ts=st.lists(terms(max_leaves=5), max_size=4), p=policies)
async def test_par_is_commutative(
    anyio_backend: Any, data: st.DataObject, ts: list[Term], p: Any
) -> None:
    """PAR(P1, ..., Pn) = PAR(P_σ1, ..., P_σn) for any permutation σ, up to result
    order and failure status

    Equal: the values, put back in declaration order, are the same; both fail or
    neither.
    """
    order = data.draw(st.permutations(range(len(ts))), label="permutation")

    def unpermute(o: Outcome) -> Outcome:
        if not o.is_ok:
            return o
        back: list[Any] = [None] * len(order)
        for pos, i in enumerate(order):
            back[i] = o.value[pos]
        return Outcome.ok(tuple(back))

    await assert_equivalent(
        Par(*ts, on_failure=p),
        Par(*(ts[i] for i in order), on_failure=p),
        transform=unpermute,
        view=failure_status,
    )


@given(a=small_terms, b=small_terms, c=small_terms, p=policies)
async def test_par_is_associative(anyio_backend: Any, a: Term, b: Term, c: Term, p: Any) -> None:
    """PAR(PAR(P, Q), R) = PAR(P, PAR(Q, R)), up to result nesting and failure status

    Equal: ``((p, q), r)`` matches ``(p, (q, r))``; both fail or neither.
    """

    def regroup(o: Outcome) -> Outcome:
        if not o.is_ok:
            return o
        pv, (qv, rv) = o.value
        return Outcome.ok(((pv, qv), rv))

    await assert_equivalent(
        Par(Par(a, b, on_failure=p), c, on_failure=p),
        Par(a, Par(b, c, on_failure=p), on_failure=p),
        transform=regroup,
        view=failure_status,
    )


@given(t=terms(), p=policies)
async def test_par_of_one_is_the_process(anyio_backend: Any, t: Term, p: Any) -> None:
    """PAR(P) = P

    Equal: PAR's value is the 1-tuple of P's value; the same failure label.
    """

    def one(o: Outcome) -> Outcome:
        return Outcome.ok((o.value,)) if o.is_ok else o

    await assert_equivalent(Par(t, on_failure=p), t, transform=one)


@given(n=st.integers(0, 5), body=terms(max_leaves=4), p=policies)
async def test_par_for_is_par_of_instances(anyio_backend: Any, n: int, body: Term, p: Any) -> None:
    """PAR i = 0 FOR n  P(i)  =  PAR(P(0), ..., P(n-1)), up to failure status

    Equal: the same tuple of values in index order; both fail or neither.
    """
    lhs = ParFor(n, body, on_failure=p)
    await assert_equivalent(lhs, lhs.expand(), view=failure_status)


@given(n=st.integers(0, 5), body=terms(max_leaves=4), p=policies, x=inputs)
async def test_seq_for_is_seq_of_instances(
    anyio_backend: Any, n: int, body: Term, p: Any, x: int
) -> None:
    """SEQ i = 0 FOR n  P(i)  =  SEQ(P(0), ..., P(n-1))

    Equal: the same outcome (last value, or first failure) for the same input.
    """
    lhs = SeqFor(n, body, on_failure=p)
    await assert_equivalent(lhs, lhs.expand(), input_value=x)


@given(t=terms(failures=False), x=inputs)
async def test_halt_and_collect_agree_without_failures(anyio_backend: Any, t: Term, x: int) -> None:
    """P[HALT] = P[COLLECT] when no process in P fails

    P[π] is P with every composition's on_failure set to π. Equal: the same outcome.
    """
    assert not can_fail(t)
    await assert_equivalent(with_policy(t, "halt"), with_policy(t, "collect"), input_value=x)


@given(t=terms(max_leaves=10), x=inputs)
async def test_terms_behave_as_the_model_says(anyio_backend: Any, t: Term, x: int) -> None:
    """run(P) ∈ model(P) for every generated term P

    The reference interpreter of ``stbass.testing`` allows a set of outcomes
    (ALT's choice and HALT's reach depend on timing); the real run must be one.
    """
    await assert_equivalent(t, t, input_value=x)
