"""Tests of stbass.testing: terms, the model, the runners, the span recorder,
the sequencer and the wait helper."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings

import stbass.testing as T
from stbass import PAR, Chan, Process, ProcessContext, ProcessResult
from stbass.testing import (
    Alt,
    Below,
    Fail,
    Hedge,
    Idx,
    If,
    Inc,
    Leaf,
    Opt,
    Outcome,
    Par,
    ParFor,
    Quorum,
    Race,
    Seq,
    SeqFor,
    Sequencer,
    Skip,
    Tag,
    Term,
    While,
    assert_equivalent,
    check_term,
    model,
    record_spans,
    run_process,
    run_term,
    terms,
    wait_all_tasks_blocked,
    with_policy,
)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(t=terms(max_leaves=10))
def test_term_repr_is_python_that_rebuilds_the_term(t: Term) -> None:
    namespace = {name: getattr(T, name) for name in T.__all__}
    assert eval(repr(t), namespace) == t
    assert hash(eval(repr(t), namespace)) == hash(t)


def test_model_of_seq_threads_the_input_through_the_stages() -> None:
    assert model(Seq(Tag("a"), Tag("b")), input_value=0) == {Outcome.ok(((0, "a"), "b"))}


def test_model_of_halting_par_reports_the_failure_that_caused_the_halt() -> None:
    got = model(Par(Leaf(1, delay=1.0), Fail("x")))
    assert got == {Outcome.failed("x")}
    # When several children fail, any of them may be the first (the cause).
    assert model(Par(Fail("x"), Fail("y"))) == {Outcome.failed("x"), Outcome.failed("y")}


def test_model_of_collecting_par_reports_the_first_failure_in_order() -> None:
    assert model(Par(Fail("x"), Fail("y"), on_failure="collect")) == {Outcome.failed("x")}


def test_model_of_optional_failure_passes_none_on() -> None:
    assert model(Seq(Opt(Fail("x")), Tag("t"))) == {Outcome.ok((None, "t"))}


def test_model_of_alt_allows_each_successful_branch() -> None:
    assert model(Alt(Leaf(1), Fail("x"), Leaf(2))) == {Outcome.ok(1), Outcome.ok(2)}
    assert model(Alt(Fail("x"))) == {Outcome.failed(T.ALT_ALL_FAILED)}


def test_replicator_terms_expand_to_indexed_instances() -> None:
    assert ParFor(2, Idx("w")).expand() == Par(Idx("w", index=0), Idx("w", index=1))
    assert SeqFor(2, Idx("w", fail_on=(1,))).outcomes() == {Outcome.failed("w[1]")}


def test_with_policy_rewrites_every_composition() -> None:
    t = with_policy(Seq(Par(Leaf(1)), Alt(Seq())), "collect")
    assert t == Seq(Par(Leaf(1), on_failure="collect"), Alt(Seq(on_failure="collect")), on_failure="collect")


def test_failure_labels_name_the_error() -> None:
    assert T.error_label(T.TermError("boom")) == "boom"
    assert T.error_label(ValueError("v")) == "ValueError: v"
    assert T.failure_status(Outcome.failed("x")) == Outcome.failed("*")
    assert T.freeze([1, [2]]) == (1, (2,))


@pytest.mark.anyio
@pytest.mark.parametrize(
    "term, expected",
    [
        (Seq(Leaf(1), Tag("t")), Outcome.ok((1, "t"))),
        (Seq(Skip(), Tag("t")), Outcome.ok((5, "t"))),
        # a PAR used as a stage gives every child the stage input
        (Par(Leaf(1), Tag("t")), Outcome.ok((1, (5, "t")))),
        (Par(Par(Tag("t"))), Outcome.ok((((5, "t"),),))),
        (Race(Fail("x"), Tag("t")), Outcome.ok((5, "t"))),
        (Quorum(2, Leaf(1), Fail("x"), Leaf(1)), Outcome.ok((1, 1))),
        (If((Below(3), Leaf("small")), otherwise=Tag("big")), Outcome.ok((5, "big"))),
        (If((Below(3), Leaf("small"))), Outcome.failed("if:no-branch")),
        (While(Below(8), Inc(), max_iterations=5), Outcome.ok(8)),
        (While(True, Inc(), max_iterations=2), Outcome.failed("while:max-iterations")),
        (Hedge(Fail("x"), Leaf(2), after=600.0), Outcome.ok(2)),
        (Seq(Fail("x"), Leaf(2), on_failure="collect"), Outcome.failed("x")),
        (Alt(Fail("x"), Leaf(3)), Outcome.ok(3)),
        (ParFor(3, Idx("w")), Outcome.ok((("w", 0), ("w", 1), ("w", 2)))),
        (SeqFor(2, Tag("s")), Outcome.ok(((5, "s"), "s"))),
    ],
    ids=repr,
)
async def test_run_term_gives_the_modelled_outcome(
    anyio_backend: Any, term: Term, expected: Outcome
) -> None:
    with anyio.fail_after(10):
        assert await check_term(term, input_value=5) == expected


@pytest.mark.anyio
async def test_check_term_rejects_an_outcome_outside_the_model(anyio_backend: Any) -> None:
    @Process
    async def wrong(ctx: ProcessContext) -> ProcessResult[Any]:
        return ProcessResult.ok(2)

    class Lies(Leaf):
        def build(self) -> Process:
            return wrong

    with pytest.raises(AssertionError, match="the model allows"):
        await check_term(Lies(1))


@pytest.mark.anyio
async def test_assert_equivalent_detects_different_sides(anyio_backend: Any) -> None:
    await assert_equivalent(Seq(Seq(Tag("a"), Tag("b")), Tag("c")), Seq(Tag("a"), Seq(Tag("b"), Tag("c"))))
    with pytest.raises(AssertionError, match="differ"):
        await assert_equivalent(Seq(Tag("a"), Tag("b")), Seq(Tag("b"), Tag("a")))


@pytest.mark.anyio
async def test_run_process_reports_a_plain_process(anyio_backend: Any) -> None:
    @Process
    async def double(ctx: ProcessContext) -> int:
        got: int = await ctx.recv("input")
        return 2 * got

    assert await run_process(double, input_value=4) == Outcome.ok(8)
    assert await run_term(Fail("nope")) == Outcome.failed("nope")


@pytest.mark.anyio
async def test_record_spans_collects_the_process_spans(anyio_backend: Any) -> None:
    with record_spans() as spans:
        await PAR(Leaf(1).build().with_name("one"), Leaf(2).build().with_name("two")).run()
    assert {"process one", "process two", "PAR"} <= set(spans.names())
    (par,) = spans.named("PAR")
    assert {s.name for s in spans.children_of(par)} == {"process one", "process two"}
    spans.clear()
    assert spans.spans == []


@pytest.mark.anyio
async def test_sequencer_runs_blocks_in_number_order(anyio_backend: Any) -> None:
    seq = Sequencer()
    order: list[str] = []

    async def worker(name: str, position: int) -> None:
        async with seq(position):
            order.append(name)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, "c", 2)
            tg.start_soon(worker, "b", 1)
            tg.start_soon(worker, "a", 0)
    assert order == ["a", "b", "c"]
    with pytest.raises(RuntimeError, match="used twice"):
        async with seq(0):
            pass


@pytest.mark.anyio
async def test_wait_all_tasks_blocked_returns_once_others_wait(anyio_backend: Any) -> None:
    ch: Chan[int] = Chan(int, name="w")
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ch.send, 7)
            await wait_all_tasks_blocked()
            assert ch.statistics().waiting_senders == 1
            assert ch.recv_nowait() == 7
