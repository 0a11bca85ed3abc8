"""Law-checking a user's own processes: leaf(process, model=...), terms over
them, check_laws, and assert_equivalent(inputs=...) in plain tests (each check
runs on asyncio and trio itself)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from stbass import PAR, SEQ, Process, ProcessContext
from stbass.testing import (
    Leaf,
    Outcome,
    Par,
    Seq,
    Tag,
    check_laws,
    equivalent_once,
    leaf,
    model,
    run_term,
    terms,
)


@Process
async def inc(ctx: ProcessContext) -> int:
    return int(await ctx.recv("input")) + 1


@Process
async def double(ctx: ProcessContext) -> Any:
    x = await ctx.recv("input")
    return None if x is None else 2 * x


@Process
async def lower(ctx: ProcessContext) -> str:
    return str(await ctx.recv("input")).lower()


@Process
async def strip(ctx: ProcessContext) -> str:
    return str(await ctx.recv("input")).strip()


@Process
async def normalise(ctx: ProcessContext) -> str:
    return str(await ctx.recv("input")).strip().lower()


INC = leaf(inc, model=lambda x: int(x) + 1)
DOUBLE = leaf(double, model=lambda x: None if x is None else 2 * x)


def test_a_user_leaf_has_the_model_it_was_given() -> None:
    t = Seq(Leaf(1), INC, DOUBLE)
    assert repr(t) == "Seq(Leaf(1), leaf(inc), leaf(double))"
    assert model(t) == {Outcome.ok(4)}
    # a model that raises: the process is expected to fail the same way
    assert model(Par(INC)) == {
        Outcome.failed("TypeError: int() argument must be a string, a bytes-like object "
                       "or a real number, not 'NoneType'")
    }


@pytest.mark.anyio
async def test_a_user_leaf_runs_the_process() -> None:
    assert await run_term(Seq(Leaf(1), INC, Tag("t"))) == Outcome.ok((2, "t"))
    assert await run_term(Par(DOUBLE, Leaf(5))) == Outcome.ok((None, 5))
    await equivalent_once(Seq(Leaf(2), INC), Leaf(3))


def test_a_plain_process_in_a_term_asks_for_a_model() -> None:
    with pytest.raises(TypeError, match=r"Seq: child 1 must be a term.*leaf\(inc, model=\.\.\.\)"):
        Seq(Leaf(1), inc)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Par: child 0 must be a term"):
        Par(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="leaf: expected a stbass Process"):
        leaf(lambda x: x, model=lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"leaf\(inc\): model must be a callable"):
        leaf(inc, model=3)  # type: ignore[arg-type]


def test_terms_build_programs_from_a_list_of_user_leaves() -> None:
    seen: list[Any] = []

    from hypothesis import given, settings

    @settings(max_examples=30, database=None)
    @given(terms(leaves=[INC, DOUBLE], max_leaves=4))
    def collect(t: Any) -> None:
        seen.append(t)
        assert set(t.leaves()) <= {INC, DOUBLE}

    collect()
    assert any(INC in set(t.leaves()) for t in seen)
    with pytest.raises(TypeError, match="leaves must be a strategy or a non-empty list"):
        terms(leaves=[inc])  # type: ignore[list-item]


def test_assert_equivalent_in_a_plain_test_on_both_backends() -> None:
    from stbass.testing import assert_equivalent

    assert_equivalent(normalise, SEQ(strip, lower), inputs=st.text(max_size=8), max_examples=20)


def test_assert_equivalent_reports_a_shrunk_counterexample() -> None:
    from stbass.testing import assert_equivalent

    @Process
    async def off_by_one_above_two(ctx: ProcessContext) -> int:
        x = int(await ctx.recv("input"))
        return x + 1 if x < 3 else x

    with pytest.raises(AssertionError) as info:
        assert_equivalent(off_by_one_above_two, inc, inputs=st.integers(0, 100))
    assert str(info.value) == (
        "on asyncio, input 3: off_by_one_above_two gave Outcome.ok(3) but inc gave Outcome.ok(4)"
    )
    with pytest.raises(AssertionError, match="^on trio, input 3: "):
        assert_equivalent(off_by_one_above_two, inc, inputs=st.integers(0, 100),
                          backends=("trio",))
    with pytest.raises(ValueError, match="unknown backend 'curio'"):
        assert_equivalent(inc, inc, inputs=st.integers(), backends=("curio",))


def test_check_laws_on_user_processes() -> None:
    check_laws([INC, DOUBLE], inputs=st.integers(-5, 5), max_examples=15)


def test_check_laws_catches_a_wrong_model() -> None:
    wrong = leaf(double, model=lambda x: None if x is None else 3 * x)
    with pytest.raises(AssertionError, match=r"gave Outcome\.ok\(.*the model allows"):
        check_laws([wrong], inputs=st.integers(1, 5), max_examples=15)


def test_user_leaves_in_a_real_par_of_the_built_terms() -> None:
    # the built process of a user leaf is an ordinary stbass process
    built = Seq(Leaf(1), INC).build()
    assert isinstance(built, SEQ)
    assert isinstance(Par(INC).build(), PAR)
