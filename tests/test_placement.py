"""Placement, backends, the registry and PLACED_PAR."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from testing_backends import TIMER_BACKENDS
from stbass import PAR, FailurePolicy, Process, ProcessCancelledError, ProcessContext, ProcessResult
from stbass.placement import (
    PLACED_PAR,
    BackendRegistry,
    BackendUnavailableError,
    ExecutionBackend,
    LocalBackend,
    Placement,
)

COLLECT = FailurePolicy.COLLECT


class RecordingBackend(LocalBackend):
    """A real local backend that remembers what it ran."""

    def __init__(self, name: str, *, concurrency_limit: int | None = None) -> None:
        super().__init__(name=name, concurrency_limit=concurrency_limit)
        self.ran: list[str] = []

    async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        self.ran.append(process.name)
        return await super().execute(process, ctx)


class Unhealthy(ExecutionBackend):
    def __init__(self, *, raises: bool = False) -> None:
        self.raises = raises
        self.checks = 0
        self.executed = 0

    async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        self.executed += 1
        return ProcessResult.ok("should not run")

    async def health_check(self) -> bool:
        await anyio.lowlevel.checkpoint()
        self.checks += 1
        if self.raises:
            raise ConnectionRefusedError("127.0.0.1:9 refused")
        return False


class Exploding(LocalBackend):
    async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        raise OSError("backend lost its connection")


@Process
async def where(ctx: ProcessContext) -> str:
    await anyio.lowlevel.checkpoint()
    assert ctx.placement is not None
    return ctx.placement.summary


def named(name: str) -> Process:
    return where.with_name(name)


# -------------------------------------------------------------- Placement


def test_placement_summary_repr_and_equality() -> None:
    p = Placement(model="gpt-4o", endpoint="openai:eu", config={"temperature": 0})
    assert p.summary == "model=gpt-4o endpoint=openai:eu config=temperature=0"
    assert Placement().summary == "local"
    assert repr(Placement(endpoint="gpu:1")) == "Placement(endpoint='gpu:1')"
    assert Placement(model="m") == Placement(model="m") != Placement(model="n")
    with pytest.raises(TypeError, match="model"):
        Placement(model=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="config"):
        Placement(config=[1])  # type: ignore[arg-type]


def test_registry_tries_endpoint_then_prefix_then_model_then_default() -> None:
    default = LocalBackend(name="default")
    exact, prefix, model = LocalBackend(name="exact"), LocalBackend(name="pre"), LocalBackend(name="m")
    reg = BackendRegistry(default)
    reg.register("local:8080", exact)
    reg.register("local", prefix)
    reg.register("llama", model)
    assert reg.get(Placement(endpoint="local:8080", model="llama")) is exact
    assert reg.get(Placement(endpoint="local:9090", model="llama")) is prefix
    assert reg.get(Placement(endpoint="remote:1", model="llama")) is model
    assert reg.get(Placement(endpoint="remote:1", model="other")) is default
    assert reg.get(None) is default
    assert "local" in reg


# -------------------------------------------------------------- PLACED_PAR


@pytest.mark.anyio
async def test_placed_par_routes_each_process_to_its_backend() -> None:
    gpu, cpu, default = RecordingBackend("gpu"), RecordingBackend("cpu"), RecordingBackend("default")
    reg = BackendRegistry(default)
    reg.register("gpu", gpu)
    reg.register("small-model", cpu)
    with anyio.fail_after(10):
        result = await PLACED_PAR(
            (named("a"), Placement(endpoint="gpu:0")),
            (named("b"), Placement(model="small-model")),
            (named("c"), Placement(endpoint="gpu:1", model="small-model")),
            (named("d"), Placement(endpoint="elsewhere")),
            registry=reg,
        ).run()
    assert result.is_ok
    assert sorted(gpu.ran) == ["a", "c"]
    assert cpu.ran == ["b"]
    assert default.ran == ["d"]
    # the body saw its placement in ctx.placement
    assert result.value == [
        "endpoint=gpu:0",
        "model=small-model",
        "model=small-model endpoint=gpu:1",
        "endpoint=elsewhere",
    ]


@pytest.mark.anyio
async def test_a_none_placement_keeps_the_process_own_placement() -> None:
    backend = RecordingBackend("mine")
    reg = BackendRegistry()
    reg.register("mine", backend)
    placed = where.with_placement(Placement(endpoint="mine:1"))
    result = await PLACED_PAR((placed, None), registry=reg).run()
    assert result.value == ["endpoint=mine:1"] and backend.ran == ["where"]


@pytest.mark.anyio
async def test_concurrency_limit_2_is_never_exceeded_even_across_placed_pars() -> None:
    backend = RecordingBackend("limited", concurrency_limit=2)
    reg = BackendRegistry()
    reg.register("limited", backend)
    running = 0
    peak = 0
    release = anyio.Event()

    @Process
    async def job(ctx: ProcessContext) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await release.wait()
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
        finally:
            running -= 1

    def placed_par() -> PLACED_PAR:
        return PLACED_PAR(
            *[(job.with_name(f"job{i}"), Placement(endpoint=f"limited:{i}")) for i in range(5)],
            registry=reg,
        )

    outcomes: list[Any] = []

    async def run_one() -> None:
        outcomes.append(await placed_par().run())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run_one)
            tg.start_soon(run_one)
            await anyio.wait_all_tasks_blocked()
            assert running == 2  # two hold the backend's slots, eight wait
            release.set()
    assert peak == 2
    assert len(backend.ran) == 10
    assert all(o.is_ok for o in outcomes)


@pytest.mark.anyio
async def test_backends_without_a_limit_run_everything_at_once() -> None:
    reg = BackendRegistry(RecordingBackend("free"))
    running = 0
    release = anyio.Event()

    @Process
    async def job(ctx: ProcessContext) -> None:
        nonlocal running
        running += 1
        await release.wait()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(PLACED_PAR(*[(job, Placement(model="x"))] * 4, registry=reg).run)
            await anyio.wait_all_tasks_blocked()
            assert running == 4
            release.set()


@pytest.mark.anyio
@pytest.mark.parametrize("raises", [False, True])
async def test_an_unhealthy_backend_gives_a_failure_that_carries_the_placement(raises: bool) -> None:
    down = Unhealthy(raises=raises)
    reg = BackendRegistry()
    reg.register("down", down)
    placement = Placement(model="big", endpoint="down:7")
    with anyio.fail_after(10):
        result = await PLACED_PAR(
            (named("x"), placement),
            (named("y"), placement),
            (named("fine"), Placement(endpoint="local")),
            registry=reg,
            on_failure=COLLECT,
        ).run()
    assert result.value[2] == "endpoint=local"
    assert down.executed == 0
    assert down.checks == 1  # checked once per run, not once per process
    for failure in result.failures:
        assert isinstance(failure.error, BackendUnavailableError)
        assert failure.placement == placement
        assert failure.error.placement == placement
        assert "down:7" in str(failure.error)
        assert failure.process_name in {"x", "y"}
    if raises:
        assert "ConnectionRefusedError" in str(result.failures[0].error)


@pytest.mark.anyio
async def test_failures_of_placed_processes_record_their_placement() -> None:
    @Process
    async def broken(ctx: ProcessContext) -> None:
        raise ValueError("model said no")

    reg = BackendRegistry()
    reg.register("boom", Exploding(name="boom"))
    p1, p2 = Placement(model="m1"), Placement(endpoint="boom:1")
    result = await PLACED_PAR(
        (broken, p1), (named("lost"), p2), registry=reg, on_failure=COLLECT
    ).run()
    assert [f.placement for f in result.failures] == [p1, p2]
    assert isinstance(result.failures[0].error, ValueError)
    assert isinstance(result.failures[1].error, OSError)
    assert result.failures[1].process_name == "lost"


@pytest.mark.anyio
async def test_placed_par_halt_cancels_the_others() -> None:
    @Process
    async def fails(ctx: ProcessContext) -> None:
        await anyio.wait_all_tasks_blocked()
        raise RuntimeError("stop")

    @Process
    async def waits(ctx: ProcessContext) -> None:
        await anyio.sleep_forever()

    with anyio.fail_after(10):
        result = await PLACED_PAR(
            (fails, Placement(model="a")), (waits, Placement(model="b"))
        ).run()
    error = result.results[1].failure.error
    assert isinstance(error, ProcessCancelledError) and error.reason == "halt"
    assert result.results[1].failure.placement == Placement(model="b")


class TestDeadline:
    pytestmark = pytest.mark.parametrize("anyio_backend", TIMER_BACKENDS)

    @pytest.mark.anyio
    async def test_placed_par_deadline_cancels_running_and_queued_processes(self) -> None:
        reg = BackendRegistry()
        reg.register("one", LocalBackend(name="one", concurrency_limit=1))

        @Process
        async def slow(ctx: ProcessContext) -> str:
            await anyio.sleep(0.6)
            return "done"

        with anyio.fail_after(30):
            result = await PLACED_PAR(
                *[(slow.with_name(f"s{i}"), Placement(endpoint="one")) for i in range(3)],
                registry=reg,
                deadline=1.0,
                on_failure=COLLECT,
            ).run()
        assert result.value.count("done") == 1
        cancelled = [f for f in result.failures]
        assert len(cancelled) == 2
        for f in cancelled:
            assert isinstance(f.error, ProcessCancelledError) and f.error.reason == "deadline"
            assert f.placement == Placement(endpoint="one")


@pytest.mark.anyio
async def test_placed_par_nests_in_par_and_runs_many_times() -> None:
    placed = PLACED_PAR((where, Placement(model="m")))
    assert (await placed.run()).value == ["model=m"]
    outer = await PAR(placed, where.with_placement(Placement(model="n"))).run()
    assert outer.value == [["model=m"], "model=n"]


@pytest.mark.anyio
async def test_placed_par_emits_a_span_with_placement_attributes(
    span_exporter: InMemorySpanExporter,
) -> None:
    reg = BackendRegistry()
    reg.register("gpu", LocalBackend(name="gpu"))
    await PLACED_PAR(
        (named("a"), Placement(endpoint="gpu:0", model="llama")),
        (named("b"), Placement(model="tiny")),
        registry=reg,
    ).run()
    spans = span_exporter.get_finished_spans()
    (top,) = [s for s in spans if s.name == "PLACED_PAR"]
    attrs = dict(top.attributes or {})
    assert attrs["stbass.composition"] == "PLACED_PAR"
    assert attrs["stbass.children"] == 2
    assert list(attrs["stbass.placement.backend"]) == ["gpu", "local"]  # type: ignore[arg-type]
    assert list(attrs["stbass.placement.endpoint"]) == ["gpu:0", ""]  # type: ignore[arg-type]
    assert list(attrs["stbass.placement.model"]) == ["llama", "tiny"]  # type: ignore[arg-type]
    (a,) = [s for s in spans if s.name == "process a"]
    assert a.parent is not None and a.parent.span_id == top.context.span_id
    assert a.attributes is not None and a.attributes["stbass.placement.endpoint"] == "gpu:0"


# -------------------------------------------------------------- bad input


def test_placed_par_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="pair"):
        PLACED_PAR(where)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pair"):
        PLACED_PAR((where, Placement(), 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a Process"):
        PLACED_PAR(("where", Placement()))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="placement must be a Placement"):
        PLACED_PAR((where, "gpu:0"))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="registry"):
        PLACED_PAR((where, None), registry={})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="deadline"):
        PLACED_PAR((where, None), deadline="soon")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="concurrency_limit"):
        LocalBackend(concurrency_limit=0)


def test_placed_par_repr() -> None:
    assert (
        repr(PLACED_PAR((where, Placement(model="m")), deadline=2))
        == "PLACED_PAR((where, Placement(model='m')), deadline=2.0)"
    )


@pytest.mark.anyio
async def test_placed_par_of_nothing_succeeds() -> None:
    result = await PLACED_PAR().run()
    assert result.is_ok and result.results == []


@pytest.mark.anyio
async def test_a_process_refused_by_an_unhealthy_backend_still_has_its_failed_span(
    span_exporter: InMemorySpanExporter,
) -> None:
    reg = BackendRegistry()
    reg.register("down", Unhealthy())
    placement = Placement(model="big", endpoint="down:7")
    result = await PLACED_PAR((named("x"), placement), registry=reg, on_failure=COLLECT).run()
    assert isinstance(result.failures[0].error, BackendUnavailableError)
    spans = span_exporter.get_finished_spans()
    (top,) = [s for s in spans if s.name == "PLACED_PAR"]
    (x,) = [s for s in spans if s.name == "process x"]
    assert x.parent is not None and x.parent.span_id == top.context.span_id
    assert x.status.status_code is StatusCode.ERROR
    assert "down:7" in (x.status.description or "")
    assert x.attributes is not None and x.attributes["stbass.placement.endpoint"] == "down:7"
