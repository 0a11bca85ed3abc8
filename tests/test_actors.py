"""stbass.actors on both backends: handlers by message type, tell/ask, the
mailbox's back-pressure, errors returned to the asker, unknown messages,
supervision, pydantic coercion, cancellation that loses no reply, and spans."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import pydantic
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stbass import PAR, Process, ProcessContext, RetryPolicy
from stbass import _names as N
from stbass.actors import Actor, ActorRef, ActorStoppedError, handles
from stbass.observe import use_tracer_provider

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Add:
    n: int


@dataclass(frozen=True)
class Get:
    pass


@dataclass(frozen=True)
class Boom:
    why: str


class Counter(Actor):
    def __init__(self, start: int = 0, **options: Any) -> None:
        super().__init__(**options)
        self.count = start

    @handles(Add)
    async def add(self, msg: Add) -> int:
        self.count += msg.n
        return self.count

    @handles
    async def get(self, msg: Get) -> int:  # the type comes from the annotation
        return self.count

    @handles(Boom)
    async def boom(self, msg: Boom) -> None:
        raise ValueError(msg.why)


class Deposit(pydantic.BaseModel):
    account: str
    amount: int


class Ledger(Actor):
    def __init__(self) -> None:
        super().__init__()
        self.entries: list[Deposit] = []

    @handles
    async def deposit(self, msg: Deposit) -> int:
        self.entries.append(msg)
        return len(self.entries)


async def test_handlers_are_chosen_by_type_from_decorator_or_annotation() -> None:
    assert set(Counter.handled_types()) == {Add, Get, Boom}
    with anyio.fail_after(10):
        async with Counter(5).start() as ref:
            await ref.tell(Add(1))
            assert await ref.ask(Add(2)) == 8
            assert await ref.ask(Get()) == 8
    assert ref.handled == 3 and ref.stopped


async def test_an_actor_runs_inside_a_par_and_ends_when_its_mailbox_closes() -> None:
    counter = Counter()
    seen: list[int] = []

    @Process
    async def client(ctx: ProcessContext) -> None:
        ref = counter.ref
        for i in range(1, 4):
            seen.append(await ref.ask(Add(i)))
        ref.stop()

    with anyio.fail_after(10):
        result = await PAR(counter, client).run()
    assert result.is_ok, result.failures
    assert seen == [1, 3, 6]
    assert result.results[0].value == 3  # messages handled


async def test_the_handlers_exception_is_raised_at_the_asker_and_the_actor_keeps_running() -> None:
    with anyio.fail_after(10):
        async with Counter().start() as ref:
            with pytest.raises(ValueError, match="nope"):
                await ref.ask(Boom("nope"))
            assert await ref.ask(Add(1)) == 1
    assert [f.summary for f in ref.failures] == ["[Counter] ValueError: nope"]


async def test_ask_with_an_unknown_type_raises_type_error_naming_actor_and_type() -> None:
    with anyio.fail_after(10):
        async with Counter().start() as ref:
            with pytest.raises(TypeError, match=r"actor 'Counter' has no handler for str"):
                await ref.ask("hello")
            assert await ref.ask(Add(1)) == 1
    assert ref.failures == ()  # refused before it was sent


async def test_tell_with_an_unknown_type_records_a_failure_and_the_actor_keeps_running() -> None:
    with anyio.fail_after(10):
        async with Counter().start() as ref:
            await ref.tell(3.5)
            assert await ref.ask(Add(1)) == 1
    (failure,) = ref.failures
    assert isinstance(failure.error, TypeError)
    assert "actor 'Counter' has no handler for float" in str(failure.error)


async def test_tell_waits_while_the_mailbox_is_full_and_tell_nowait_would_block() -> None:
    gate = anyio.Event()

    class Slow(Actor):
        mailbox = 2

        @handles(int)
        async def take(self, n: int) -> None:
            await gate.wait()

    told: list[int] = []
    with anyio.fail_after(10):
        async with Slow().start() as ref:
            async with anyio.create_task_group() as tg:

                async def tell(n: int) -> None:
                    await ref.tell(n)
                    told.append(n)

                for n in range(4):  # one in the handler, two in the mailbox, one waits
                    tg.start_soon(tell, n)
                    await anyio.wait_all_tasks_blocked()
                assert told == [0, 1, 2]
                with pytest.raises(anyio.WouldBlock):
                    ref.tell_nowait(9)
                gate.set()
            assert told == [0, 1, 2, 3]
    assert ref.handled == 4


async def test_ask_timeout_leaves_no_reply_stuck_in_the_actor() -> None:
    release = anyio.Event()

    class Slow(Actor):
        @handles(int)
        async def take(self, n: int) -> int:
            if n == 0:
                await release.wait()
            return n

    with anyio.fail_after(10):
        async with Slow().start() as ref:
            with pytest.raises(TimeoutError):
                await ref.ask(0, timeout=0.01)
            release.set()  # the handler now replies to an asker that left
            assert await ref.ask(1) == 1
            assert await ref.ask(2) == 2
    assert ref.handled == 3 and ref.failures == ()


async def test_a_cancelled_asker_never_blocks_the_actor() -> None:
    entered = anyio.Event()
    release = anyio.Event()

    class Slow(Actor):
        @handles(int)
        async def take(self, n: int) -> int:
            if n == 0:
                entered.set()
                await release.wait()
            return n

    with anyio.fail_after(10):
        async with Slow().start() as ref:
            async with anyio.create_task_group() as tg:
                tg.start_soon(ref.ask, 0)
                await entered.wait()
                tg.cancel_scope.cancel()
            release.set()
            assert await ref.ask(1) == 1


async def test_asks_in_the_mailbox_of_a_stopped_actor_fail_instead_of_hanging() -> None:
    class Fragile(Actor):
        on_error = "stop"

        @handles(int)
        async def take(self, n: int) -> int:
            if n == 0:
                raise RuntimeError("broken")
            return n

    results: list[object] = []

    async def ask(ref: ActorRef, n: int) -> None:
        try:
            results.append(await ref.ask(n))
        except Exception as exc:
            results.append(type(exc))

    fragile = Fragile()
    ref = fragile.ref
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for n in (0, 1, 2):  # all three wait in the mailbox before the actor starts
                tg.start_soon(ask, ref, n)
                await anyio.wait_all_tasks_blocked()
            result = await fragile.execute(ProcessContext("fragile"))
    assert result.is_fail and "broken" in result.failure.summary
    assert sorted(map(str, results)) == sorted(
        map(str, [RuntimeError, ActorStoppedError, ActorStoppedError])
    )
    with pytest.raises(ActorStoppedError, match="'Fragile' has stopped"):
        await ref.tell(1)


async def test_a_cancelled_actor_fails_the_ask_it_was_handling_and_those_queued() -> None:
    entered = anyio.Event()

    class Stuck(Actor):
        @handles(int)
        async def take(self, n: int) -> int:
            entered.set()
            await anyio.sleep_forever()
            return n

    outcomes: list[str] = []

    async def ask(ref: ActorRef, n: int) -> None:
        try:
            await ref.ask(n)
        except ActorStoppedError:
            outcomes.append("stopped")

    stuck = Stuck()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            async with anyio.create_task_group() as actor_tg:
                actor_tg.start_soon(stuck.execute, ProcessContext("stuck"))
                tg.start_soon(ask, stuck.ref, 0)
                await entered.wait()
                tg.start_soon(ask, stuck.ref, 1)  # waits in the mailbox
                await anyio.wait_all_tasks_blocked()
                actor_tg.cancel_scope.cancel()  # e.g. a PAR halting
    assert outcomes == ["stopped", "stopped"]
    assert stuck.ref.stopped


async def test_restart_runs_a_fresh_instance_with_the_init_arguments() -> None:
    with anyio.fail_after(10):
        async with Counter(
            10, on_error="restart", restart=RetryPolicy(2, base_delay=0.0)
        ).start() as ref:
            assert await ref.ask(Add(1)) == 11
            with pytest.raises(ValueError):
                await ref.ask(Boom("x"))
            assert await ref.ask(Get()) == 10  # fresh state, same __init__ args
            with pytest.raises(ValueError):
                await ref.ask(Boom("y"))
            with pytest.raises(ValueError):
                await ref.ask(Boom("z"))  # the third failure is past the limit: stop
            with pytest.raises(ActorStoppedError):
                await ref.ask(Get())
    assert ref.restarts == 2 and len(ref.failures) == 3


async def test_a_dict_is_coerced_into_the_handlers_pydantic_model() -> None:
    ledger = Ledger()
    with anyio.fail_after(10):
        async with ledger.start() as ref:
            assert await ref.ask({"account": "ada", "amount": 5}) == 1
            with pytest.raises(TypeError, match="no handler for dict.*Deposit"):
                await ref.ask({"account": "ada", "amount": "lots"})
    assert ledger.entries == [Deposit(account="ada", amount=5)]


def test_bad_options_and_handlers_raise_at_definition_time() -> None:
    with pytest.raises(ValueError, match="on_error"):
        Counter(on_error="explode")
    with pytest.raises(ValueError, match="mailbox"):
        Counter(mailbox=-1)
    with pytest.raises(TypeError, match="async"):

        class Sync(Actor):
            @handles(int)  # type: ignore[type-var]
            def take(self, n: int) -> None: ...

    with pytest.raises(TypeError, match="annotate"):

        class Bare(Actor):
            @handles
            async def take(self, n):  # type: ignore[no-untyped-def]
                ...


async def test_ask_and_tell_spans_are_linked_to_the_handler_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with use_tracer_provider(provider), anyio.fail_after(10):
        async with Counter().start() as ref:
            await ref.tell(Add(1))
            assert await ref.ask(Get()) == 1
    spans = exporter.get_finished_spans()
    by_name = {s.name: s for s in spans}
    tell, ask = by_name["tell Counter"], by_name["ask Counter"]
    handle_add, handle_get = by_name["handle Add"], by_name["handle Get"]
    assert [lk.context.span_id for lk in handle_add.links] == [tell.context.span_id]
    assert [lk.context.span_id for lk in handle_get.links] == [ask.context.span_id]
    actor_span = by_name["process Counter"]
    assert handle_add.parent is not None
    assert handle_add.parent.span_id == actor_span.context.span_id  # the actor's lane
    assert handle_get.attributes is not None
    assert handle_get.attributes[N.ACTOR_ASK] is True


async def test_an_unhandled_tell_leaves_an_error_span() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with use_tracer_provider(provider), anyio.fail_after(10):
        async with Counter().start() as ref:
            await ref.tell("what")
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "handle str"]
    assert span.status.status_code.name == "ERROR"
    assert span.attributes is not None and span.attributes[N.ERROR_TYPE] == "TypeError"


def test_repr_is_short() -> None:
    assert repr(Counter()) == "Counter()"
    assert repr(Counter().ref) == "ActorRef('Counter')"


async def test_the_viewer_draws_the_actor_as_a_lane_holding_its_handled_messages(
    span_exporter: InMemorySpanExporter,
) -> None:
    from stbass_tracing import layout_trace, trace_from_spans

    with anyio.fail_after(10):
        async with Counter().start() as ref:
            await ref.tell(Add(1))
            await ref.ask(Get())
    layout = layout_trace(trace_from_spans(span_exporter.get_finished_spans()))
    (lane,) = [row for row in layout.process_rows if row.label == "Counter"]
    assert {"handle Add", "handle Get"} <= {span.name for span in lane.items}
