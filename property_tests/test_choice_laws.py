"""The laws of IF, WHILE, RACE, HEDGE and QUORUM (issue 19), checked by hypothesis
on asyncio and trio.

As in ``test_laws.py``, each side runs for real and its outcome is checked
against the reference model of :mod:`stbass.testing`; then the sides are
compared ("up to" says what is allowed to differ). Terms nest the choice
compositions inside SEQ, PAR, ALT and the replicators, and the other way round.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stbass.testing import (
    HEDGE_LONG,
    Hedge,
    If,
    Inc,
    Opt,
    Outcome,
    Par,
    Quorum,
    Race,
    Seq,
    Skip,
    Term,
    While,
    assert_equivalent,
    choice_terms,
    failure_status,
    model,
    predicates,
    terms,
)

pytestmark = pytest.mark.anyio

inputs = st.integers(-1, 4)
# An optional term at the top runs as an optional SEQ stage (its failure reads as
# success); inside a choice composition its failure counts. Laws that compare a
# term with a composition of it take terms that are not optional at the top.
small_terms = terms(max_leaves=4).filter(lambda t: not isinstance(t, Opt))
plain_terms = terms(max_leaves=4, optional=False)  # no Opt anywhere: PAR treats it specially


@given(t=small_terms, x=inputs)
async def test_race_of_one_is_the_process(anyio_backend: Any, t: Term, x: int) -> None:
    """RACE(P) = P

    Equal: the same outcome for the same input.
    """
    await assert_equivalent(Race(t), t, input_value=x)


@given(data=st.data(), ts=st.lists(small_terms, min_size=1, max_size=3), x=inputs)
async def test_race_is_commutative_up_to_the_winner(
    anyio_backend: Any, data: st.DataObject, ts: list[Term], x: int
) -> None:
    """RACE(P1, ..., Pn) = RACE(P_σ1, ..., P_σn), up to the winner index and failure
    status

    Equal: the same possible values; both fail or neither (a RACE that fails
    reports its first child's failure, which the permutation changes).
    """
    order = data.draw(st.permutations(range(len(ts))))
    await assert_equivalent(
        Race(*ts), Race(*(ts[i] for i in order)), input_value=x, view=failure_status
    )


def _unwrap_one(o: Outcome) -> Outcome:
    return Outcome.ok(o.value[0]) if o.is_ok else o


@given(ts=st.lists(small_terms, min_size=1, max_size=3), x=inputs)
async def test_quorum_of_one_is_race(anyio_backend: Any, ts: list[Term], x: int) -> None:
    """QUORUM(1, P1, ..., Pn) = RACE(P1, ..., Pn)

    Equal: the same outcome, the QUORUM's one-value list unwrapped.
    """
    await assert_equivalent(Race(*ts), Quorum(1, *ts), input_value=x, transform=_unwrap_one)


def _as_multiset(o: Outcome) -> Outcome:
    return Outcome.ok(tuple(sorted(o.value, key=repr))) if o.is_ok else Outcome.failed("*")


@given(ts=st.lists(plain_terms, min_size=1, max_size=3), x=inputs)
async def test_quorum_of_all_is_par_up_to_order(anyio_backend: Any, ts: list[Term], x: int) -> None:
    """QUORUM(n, P1, ..., Pn) = PAR(P1, ..., Pn), up to the order of the values and
    failure status

    Equal: the same values as a multiset (QUORUM's are in completion order);
    both fail or neither.
    """
    await assert_equivalent(Par(*ts), Quorum(len(ts), *ts), input_value=x, view=_as_multiset)


@given(t=small_terms, x=inputs)
async def test_if_true_is_the_process(anyio_backend: Any, t: Term, x: int) -> None:
    """IF((TRUE, P)) = P

    Equal: the same outcome for the same input.
    """
    await assert_equivalent(If((True, t)), t, input_value=x)


@given(t=small_terms, other=small_terms, x=inputs)
async def test_if_skips_false_branches(anyio_backend: Any, t: Term, other: Term, x: int) -> None:
    """IF((FALSE, Q), (TRUE, P)) = P = IF((FALSE, Q), otherwise=P)

    Equal: the same outcome for the same input.
    """
    await assert_equivalent(If((False, other), (True, t)), t, input_value=x)
    await assert_equivalent(If((False, other), otherwise=t), t, input_value=x)


@given(t=small_terms, m=st.integers(0, 3), x=inputs)
async def test_while_false_is_the_identity(anyio_backend: Any, t: Term, m: int, x: int) -> None:
    """WHILE(FALSE, P) = SKIP

    Equal: the input comes out unchanged, and the body never runs.
    """
    await assert_equivalent(While(False, t, max_iterations=m), Skip(), input_value=x)


@given(
    cond=predicates(),
    body=st.just(Inc()) | small_terms,
    m=st.integers(0, 3),
    x=inputs,
)
async def test_while_unrolls_into_if_and_seq(
    anyio_backend: Any, cond: Any, body: Term, m: int, x: int
) -> None:
    """WHILE(c, P) = IF((c, SEQ(P, WHILE(c, P))), otherwise=SKIP)

    With bounded loops: a WHILE allowed m + 1 iterations is one iteration
    followed by the WHILE allowed m. Equal: the same outcome for the same input
    (including failing with ``while:max-iterations``).
    """
    await assert_equivalent(
        While(cond, body, max_iterations=m + 1),
        If((cond, Seq(body, While(cond, body, max_iterations=m))), otherwise=Skip()),
        input_value=x,
    )


@given(t=small_terms, copies=st.integers(1, 3), x=inputs)
async def test_hedge_with_a_long_delay_is_its_first_process(
    anyio_backend: Any, t: Term, copies: int, x: int
) -> None:
    """HEDGE(P, P, ..., after=t) = P when t is longer than P takes

    A backup starts only if every started copy failed, so the hedge succeeds
    when P can, and fails (with the first copy's failure) when every copy does.
    Equal: the same outcome for the same input.
    """
    await assert_equivalent(Hedge(*([t] * (copies + 1)), after=HEDGE_LONG), t, input_value=x)


def _cannot_fail(t: Term) -> bool:
    return all(o.is_ok for x in range(-1, 5) for o in model(t, x))


@given(
    t=terms(max_leaves=4, failures=False).filter(_cannot_fail),
    others=st.lists(small_terms, max_size=2),
    x=inputs,
)
async def test_hedge_with_a_long_delay_never_needs_a_backup_for_a_process_that_succeeds(
    anyio_backend: Any, t: Term, others: list[Term], x: int
) -> None:
    """HEDGE(P, Q..., after=t) = P when P cannot fail and t is longer than P takes

    Equal: the same outcome for the same input.
    """
    await assert_equivalent(Hedge(t, *others, after=HEDGE_LONG), t, input_value=x)


@given(t=st.one_of(choice_terms(terms(max_leaves=6))), x=inputs)
async def test_choice_terms_behave_as_the_model_says(anyio_backend: Any, t: Term, x: int) -> None:
    """A choice composition over any terms gives an outcome the model allows (and,
    where the model allows one outcome, the same one twice).
    """
    await assert_equivalent(t, t, input_value=x)
