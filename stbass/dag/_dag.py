"""DAG: tasks that start as soon as the tasks they depend on have succeeded.

A :class:`DAG` holds named tasks, each a :class:`~stbass.Process` or a plain
function of its input, with ``after=`` dependencies. ``run`` starts every task
whose dependencies have all succeeded, at once, in one task group (no waiting
for a whole "level" to finish), and can record each finished task's value in a
JSON state file so that a later run with the same file skips what is done.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import json
import os
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Union, final

import anyio

from .. import _names as N
from .. import observe
from ..process import Process, ProcessContext
from ..result import Failure, FailurePolicy, ProcessResult, RetryPolicy
from .. import ProcessCancelledError
from ..failure import retry_process

TaskFn = Callable[[Any], Union[Awaitable[Any], Any]]

_STATE_VERSION = 1


class DAGCycleError(ValueError):
    """The dependencies of a :class:`DAG` form a cycle; ``cycle`` lists it,
    first task repeated at the end (``["a", "b", "a"]``).

    >>> dag = DAG("loop")
    >>> dag.add("a", lambda x: x, after=["b"]).add("b", lambda x: x, after=["a"])
    DAG('loop', tasks=['a', 'b'])
    >>> dag.check()
    Traceback (most recent call last):
      ...
    stbass.dag.DAGCycleError: DAG 'loop' has a cycle: a -> b -> a
    """

    def __init__(self, message: str, *, cycle: list[str]) -> None:
        super().__init__(message)
        self.cycle = cycle


@final
@dataclasses.dataclass(frozen=True)
class DAGTask:
    """One task of a :class:`DAG`: its name, the process that runs it, the tasks
    it runs after, and its retry policy (``None``: one attempt).

    >>> dag = DAG("d").add("a", lambda x: 1).add("b", lambda d: 2, after=["a"])
    >>> dag.tasks["b"].after
    ('a',)
    """

    name: str
    process: Process
    after: tuple[str, ...] = ()
    retry: RetryPolicy | None = None


class _TaskContext(ProcessContext):
    """The context of a DAG task: ``recv("input")`` gives the task's input and
    ``send("output", v)`` sets its value, as for a SEQ stage, without a channel
    (unless the process has its own channel of that name bound)."""

    __slots__ = ("input", "outputs")

    def __init__(self, task: DAGTask, value: Any, parent: str, deadline: float | None) -> None:
        process = task.process
        super().__init__(
            task.name,
            channels=process.channels,
            parent=parent,
            placement=process.placement,
            deadline=deadline,
        )
        self.input = value
        self.outputs: list[Any] = []

    async def recv(self, name: str) -> Any:
        if name == "input" and name not in self.channels:
            await anyio.lowlevel.checkpoint()
            return self.input
        return await super().recv(name)

    async def send(self, name: str, value: Any) -> None:
        if name == "output" and name not in self.channels:
            await anyio.lowlevel.checkpoint()
            self.outputs.append(value)
            return
        await super().send(name, value)


class _Call(Process):
    """A task given as a function of its input: ``fn(input)``, sync or async."""

    def __init__(self, fn: TaskFn, name: str) -> None:
        super().__init__(name=name)
        self.fn = fn

    async def run(self, ctx: ProcessContext) -> Any:
        if isinstance(ctx, _TaskContext):
            arg = ctx.input
        elif "input" in ctx.channels:  # a SEQ stage, or a task on a Temporal worker
            arg = await ctx.recv("input")
        else:
            arg = None
        value = self.fn(arg)
        if inspect.isawaitable(value):
            value = await value
        return value

    def __repr__(self) -> str:
        return getattr(self.fn, "__name__", "task")


def task_call(fn: TaskFn, name: str) -> Process:
    """The process that runs a DAG task given as a function (``fn(input)``)."""
    return _Call(fn, name)


def task_function(process: Process) -> TaskFn | None:
    """The function of a task given as one, else ``None``."""
    return process.fn if isinstance(process, _Call) else None


@final
class DAGResult:
    """What :meth:`DAG.run` returns.

    ``values`` maps each task that succeeded (in this run or, with a state file,
    in an earlier one) to its value; ``failures`` maps each failed task to its
    :class:`~stbass.Failure` (a task cancelled by HALT fails with
    :class:`~stbass.ProcessCancelledError`); ``skipped`` names the tasks that
    did not run because a dependency failed or HALT stopped the run; ``resumed``
    names the tasks whose value came from the state file; ``run_id`` identifies
    the run (kept across resumed runs).

    >>> import anyio
    >>> dag = DAG("sum").add("a", lambda x: 1).add("b", lambda x: 2)
    >>> dag.add("total", lambda d: d["a"] + d["b"], after=["a", "b"])
    DAG('sum', tasks=['a', 'b', 'total'])
    >>> result = anyio.run(dag.run)
    >>> result.values["total"], result.is_ok
    (3, True)
    """

    __slots__ = ("dag_name", "values", "failures", "skipped", "resumed", "run_id")

    def __init__(
        self,
        dag_name: str,
        values: dict[str, Any],
        failures: dict[str, Failure],
        skipped: tuple[str, ...],
        resumed: tuple[str, ...],
        run_id: str,
    ) -> None:
        self.dag_name = dag_name
        self.values = values
        self.failures = failures
        self.skipped = skipped
        self.resumed = resumed
        self.run_id = run_id

    @property
    def is_ok(self) -> bool:
        """True when every task succeeded (nothing failed, nothing skipped)."""
        return not self.failures and not self.skipped

    @property
    def value(self) -> dict[str, Any]:
        """The values by task name (what a DAG nested in SEQ/PAR passes on)."""
        return self.values

    def as_process_result(self) -> ProcessResult[Any]:
        """A success with :attr:`values`, or a failure with the first failure."""
        if self.failures:
            return ProcessResult.fail(next(iter(self.failures.values())))
        if self.skipped:
            return ProcessResult.fail(
                RuntimeError(f"DAG {self.dag_name!r}: tasks skipped: {', '.join(self.skipped)}"),
                process_name=self.dag_name,
            )
        return ProcessResult.ok(self.values)

    def __repr__(self) -> str:
        return (
            f"DAGResult(is_ok={self.is_ok}, values={sorted(self.values)!r}, "
            f"failures={sorted(self.failures)!r}, skipped={list(self.skipped)!r})"
        )


class DAG(Process):
    """A workflow of named tasks with dependencies; each task starts as soon as
    every task it depends on has succeeded.

    A task is a :class:`~stbass.Process` (``await ctx.recv("input")`` gives its
    input and ``await ctx.send("output", v)`` may set its value, as for a SEQ
    stage) or a function ``fn(input)``, sync or async.
    The input of a task with dependencies is a dict of their values by name; a
    task with none gets the DAG's input. A DAG is a Process too: it nests in
    SEQ and PAR (in a SEQ it gets the previous stage's value as input).

    >>> import anyio
    >>> async def fetch(url: str) -> int:
    ...     return len(url)
    >>> dag = DAG("report")
    >>> dag.add("size", fetch).add("double", lambda d: 2 * d["size"], after=["size"])
    DAG('report', tasks=['size', 'double'])
    >>> anyio.run(dag.run, "https://example.org").values
    {'size': 19, 'double': 38}
    """

    def __init__(
        self,
        name: str = "DAG",
        *,
        on_failure: FailurePolicy = FailurePolicy.HALT,
        max_parallel: int | None = None,
        state: str | os.PathLike[str] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"DAG name must be a non-empty str, got {name!r}")
        super().__init__(name=name)
        self.tasks: dict[str, DAGTask] = {}
        self.on_failure = _check_policy(on_failure)
        self.max_parallel = _check_max_parallel(max_parallel)
        self.state = _check_state(state)

    def __repr__(self) -> str:
        return f"DAG({self.name!r}, tasks={list(self.tasks)!r})"

    def add(
        self,
        name: str,
        process: Process | TaskFn,
        *,
        after: Iterable[str] = (),
        retry: RetryPolicy | None = None,
    ) -> DAG:
        """Add task *name*, run by *process* after the tasks named in *after*;
        *retry* retries a failed task (see :class:`~stbass.RetryPolicy`).
        Returns the DAG, so calls chain.

        A dependency may be added later; :meth:`check` (called by :meth:`run`)
        reports an unknown one or a cycle.

        >>> DAG("d").add("a", lambda x: x).add("a", lambda x: x)
        Traceback (most recent call last):
          ...
        ValueError: DAG 'd': duplicate task name 'a'
        """
        if not isinstance(name, str) or not name:
            raise TypeError(f"DAG {self.name!r}: task name must be a non-empty str, got {name!r}")
        if name in self.tasks:
            raise ValueError(f"DAG {self.name!r}: duplicate task name {name!r}")
        if isinstance(process, Process):
            proc = process if process.name == name else process.with_name(name)
        elif callable(process):
            proc = _Call(process, name)
        else:
            raise TypeError(
                f"DAG {self.name!r}: task {name!r} must be a Process or a function, "
                f"got {type(process).__name__}"
            )
        if isinstance(after, str):
            raise TypeError(
                f"DAG {self.name!r}: task {name!r}: after= takes a list of task names, "
                f"got the str {after!r}"
            )
        deps = tuple(after)
        for dep in deps:
            if not isinstance(dep, str):
                raise TypeError(
                    f"DAG {self.name!r}: task {name!r}: dependency names must be str, "
                    f"got {type(dep).__name__}"
                )
        if len(set(deps)) != len(deps):
            raise ValueError(f"DAG {self.name!r}: task {name!r} lists a dependency twice")
        if name in deps:
            raise DAGCycleError(
                f"DAG {self.name!r} has a cycle: {name} -> {name}", cycle=[name, name]
            )
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise TypeError(
                f"DAG {self.name!r}: task {name!r}: retry must be a RetryPolicy, "
                f"got {type(retry).__name__}"
            )
        self.tasks[name] = DAGTask(name, proc, deps, retry)
        return self

    def check(self) -> None:
        """Raise ``ValueError`` for a dependency on a task that does not exist and
        :class:`DAGCycleError` (a ``ValueError``) naming a cycle."""
        for task in self.tasks.values():
            for dep in task.after:
                if dep not in self.tasks:
                    raise ValueError(
                        f"DAG {self.name!r}: task {task.name!r} depends on unknown task {dep!r}"
                    )
        cycle = _find_cycle(self.tasks)
        if cycle is not None:
            raise DAGCycleError(
                f"DAG {self.name!r} has a cycle: {' -> '.join(cycle)}", cycle=cycle
            )

    def to_mermaid(self, result: DAGResult | None = None) -> str:
        """The graph as a Mermaid flowchart; with a *result*, tasks are styled
        by outcome (ok, failed, skipped).

        >>> print(DAG("d").add("a", lambda x: 1).add("b", lambda d: 2, after=["a"]).to_mermaid())
        flowchart LR
            t0["a"]
            t1["b"]
            t0 --> t1
        """
        ids = {name: f"t{i}" for i, name in enumerate(self.tasks)}
        lines = ["flowchart LR"]
        for name in self.tasks:
            label = name.replace('"', "#quot;")
            lines.append(f'    {ids[name]}["{label}"]')
        for task in self.tasks.values():
            for dep in task.after:
                if dep in ids:
                    lines.append(f"    {ids[dep]} --> {ids[task.name]}")
        if result is not None:
            lines.append("    classDef ok fill:#d4f7d4,stroke:#2a2")
            lines.append("    classDef failed fill:#f7d4d4,stroke:#a22")
            lines.append("    classDef skipped fill:#eee,stroke:#999,stroke-dasharray:4")
            for name in self.tasks:
                if name in result.failures:
                    kind = "failed"
                elif name in result.values:
                    kind = "ok"
                else:
                    kind = "skipped"
                lines.append(f"    class {ids[name]} {kind}")
        return "\n".join(lines)

    # ------------------------------------------------------------- running

    async def run(
        self,
        input_value: Any = None,
        *,
        on_failure: FailurePolicy | None = None,
        max_parallel: int | None = None,
        state: str | os.PathLike[str] | None = None,
    ) -> DAGResult:
        """Run the tasks; returns a :class:`DAGResult`.

        ``on_failure=HALT`` (the default) cancels the running tasks at the first
        failure and skips the rest; ``COLLECT`` runs every task whose
        dependencies succeeded and skips the others. ``max_parallel`` bounds how
        many tasks run at once. ``state`` (a path) records each finished task's
        value in a JSON file (replaced atomically after every task); a later run
        with the same file skips the tasks recorded there and runs the others.
        Values must then be JSON-serialisable or pydantic models. Options not
        given here fall back to the DAG's constructor arguments.
        """
        if isinstance(input_value, ProcessContext):
            raise TypeError(
                f"DAG {self.name!r}.run() takes the DAG's input value, not a ProcessContext"
            )
        policy = self.on_failure if on_failure is None else _check_policy(on_failure)
        limit = self.max_parallel if max_parallel is None else _check_max_parallel(max_parallel)
        path = self.state if state is None else _check_state(state)
        return await self._run(input_value, None, policy, limit, path)

    async def execute(self, ctx: ProcessContext) -> ProcessResult[Any]:
        """Run as a child of a composition: the input is what arrives on the
        ``"input"`` channel, if the context has one; the value is the dict of
        task values."""
        input_value = None
        if "input" in ctx.channels:
            input_value = await ctx.recv("input")
        result = await self._run(input_value, ctx, self.on_failure, self.max_parallel, self.state)
        return result.as_process_result()

    async def _run(
        self,
        input_value: Any,
        ctx: ProcessContext | None,
        policy: FailurePolicy,
        limit: int | None,
        path: Path | None,
    ) -> DAGResult:
        self.check()
        tasks = self.tasks
        store = _State(self.name, path, input_value) if path is not None else None
        resumed = store.load(tasks) if store is not None else {}
        run_id = store.run_id if store is not None else str(uuid.uuid4())
        attrs = {
            N.COMPOSITION: "DAG",
            N.CHILDREN: len(tasks),
            N.ON_FAILURE: policy.value,
            N.MAX_PARALLEL: limit,
            N.DAG_NAME: self.name,
            N.DAG_RUN_ID: run_id,
            N.DAG_EDGES: [f"{d} -> {t.name}" for t in tasks.values() for d in t.after] or None,
            N.DAG_RESUMED: len(resumed),
        }
        with observe.span("DAG", attrs) as rec:
            run = _Run(self.name, tasks, policy, limit, store, ctx, input_value, resumed)
            await run.go()
            skipped = tuple(
                n for n in tasks if n not in run.values and n not in run.failures
            )
            for name in resumed:
                rec.event(N.EVENT_DAG_TASK_RESUMED, {N.DAG_TASK: name})
            for name in skipped:
                rec.event(N.EVENT_DAG_TASK_SKIPPED, {N.DAG_TASK: name})
            result = DAGResult(
                self.name,
                {n: run.values[n] for n in tasks if n in run.values},
                {n: run.failures[n] for n in run.order if n in run.failures},
                skipped,
                tuple(resumed),
                run_id,
            )
            if run.failures:
                first = next(iter(result.failures.values()))
                rec.failed(first.error, first.summary)
            return result


class _Run:
    """The state of one DAG run: what is done, what is waiting, what failed."""

    def __init__(
        self,
        dag_name: str,
        tasks: Mapping[str, DAGTask],
        policy: FailurePolicy,
        limit: int | None,
        store: _State | None,
        ctx: ProcessContext | None,
        input_value: Any,
        resumed: Mapping[str, Any],
    ) -> None:
        self.dag_name = dag_name
        self.tasks = tasks
        self.halt = policy is FailurePolicy.HALT
        self.limiter = anyio.CapacityLimiter(limit) if limit is not None else None
        self.store = store
        self.parent = ctx.process_name if ctx is not None else dag_name
        self.deadline = ctx.deadline if ctx is not None else None
        self.input_value = input_value
        self.values: dict[str, Any] = dict(resumed)
        self.failures: dict[str, Failure] = {}
        self.order: list[str] = []  # failure order: the HALT cause first
        self.running: dict[str, ProcessContext] = {}
        self.halted_by: str | None = None
        # how many dependencies each task still waits for, and who waits on whom
        self.waiting = {
            n: sum(1 for d in t.after if d not in self.values) for n, t in tasks.items()
        }
        self.dependents: dict[str, list[str]] = {n: [] for n in tasks}
        for t in tasks.values():
            for d in t.after:
                self.dependents[d].append(t.name)

    async def go(self) -> None:
        async with anyio.create_task_group() as tg:
            self.tg = tg
            for name, task in self.tasks.items():
                if name not in self.values and self.waiting[name] == 0:
                    self.start(task)
        for name, ctx in self.running.items():
            self.failures[name] = _cancelled(name, ctx, self.halted_by or "")
            self.order.append(name)

    def start(self, task: DAGTask) -> None:
        if self.halted_by is not None:
            return
        if task.after:
            value: Any = {d: self.values[d] for d in task.after}
        else:
            value = self.input_value
        ctx = _TaskContext(task, value, self.parent, self.deadline)
        self.tg.start_soon(self.run_task, task, ctx, name=task.name)

    async def run_task(self, task: DAGTask, ctx: _TaskContext) -> None:
        if self.limiter is not None:
            # A task still waiting for a slot when HALT comes is skipped, not cancelled.
            async with self.limiter:
                await self.run_one(task, ctx)
        else:
            await self.run_one(task, ctx)

    async def run_one(self, task: DAGTask, ctx: _TaskContext) -> None:
        if self.halted_by is not None:
            return  # HALT came while this task waited for a slot: it is skipped
        self.running[task.name] = ctx
        result = await self.attempt(task, ctx)
        del self.running[task.name]
        if result.is_ok:
            value = ctx.outputs[-1] if ctx.outputs else result._value
            if self.store is not None:
                try:
                    self.store.record(task.name, value)
                except TypeError as exc:
                    result = ProcessResult.fail(
                        exc, process_name=task.name, parent_process=self.parent
                    )
        if result.is_ok:
            self.values[task.name] = value
            for name in self.dependents[task.name]:
                self.waiting[name] -= 1
                if self.waiting[name] == 0:
                    self.start(self.tasks[name])
            return
        self.failures[task.name] = result.failure
        self.order.append(task.name)
        if self.halt and self.halted_by is None:
            self.halted_by = task.name
            for other in self.running.values():
                other._cancel_reason = "halt"
            self.tg.cancel_scope.cancel()

    async def attempt(self, task: DAGTask, ctx: _TaskContext) -> ProcessResult[Any]:
        # The task's span (a process's, or a composition's: PAR, SEQ, a
        # replicator, a nested DAG) names the task, for the viewer's edges.
        with observe._tag_next_span({N.DAG_TASK: task.name}):
            if task.retry is None:
                return await task.process.execute(ctx)
            return await retry_process(_Attempt(task.process), ctx, task.retry)


class _Attempt(Process):
    """One attempt of a retried task: what an earlier attempt sent on
    ``"output"`` does not count."""

    def __init__(self, inner: Process) -> None:
        super().__init__(name=inner.name)
        self.inner = inner

    async def execute(self, ctx: ProcessContext) -> ProcessResult[Any]:
        if isinstance(ctx, _TaskContext):
            ctx.outputs.clear()
        return await self.inner.execute(ctx)


def _cancelled(name: str, ctx: ProcessContext, cause: str) -> Failure:
    error = ProcessCancelledError(
        f"task {name!r} was cancelled by HALT after {cause!r} failed",
        reason="halt",
        process_name=name,
    )
    return Failure(
        error,
        process_name=name,
        process_id=ctx.process_id,
        parent_process=ctx.parent,
        checkpoint=ctx.last_checkpoint,
    )


def _find_cycle(tasks: Mapping[str, DAGTask]) -> list[str] | None:
    """A cycle among *tasks* as a list of names (first repeated last), or None."""
    colour: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in tasks:
        if root in colour:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        colour[root] = 1
        path.append(root)
        while stack:
            node, i = stack[-1]
            deps = tasks[node].after
            if i < len(deps):
                stack[-1] = (node, i + 1)
                dep = deps[i]
                state = colour.get(dep)
                if state == 1:
                    # dep is on the path: the cycle runs dep -> ... -> node -> dep,
                    # read in the direction of the edges (dependency first).
                    return [dep, *reversed(path[path.index(dep) + 1 :]), dep]
                if state is None:
                    colour[dep] = 1
                    path.append(dep)
                    stack.append((dep, 0))
            else:
                colour[node] = 2
                path.pop()
                stack.pop()
    return None


def _check_policy(policy: object) -> FailurePolicy:
    if not isinstance(policy, FailurePolicy):
        raise TypeError(
            f"DAG: on_failure must be FailurePolicy.HALT or FailurePolicy.COLLECT, "
            f"got {policy!r}"
        )
    return policy


def _check_max_parallel(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"DAG: max_parallel must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"DAG: max_parallel must be at least 1, got {value}")
    return value


def _check_state(state: object) -> Path | None:
    if state is None:
        return None
    if not isinstance(state, (str, os.PathLike)):
        raise TypeError(f"DAG: state must be a path, got {type(state).__name__}")
    return Path(state)


# ------------------------------------------------------------------ state file


def _encode(value: Any, what: str) -> Any:
    """*value* as JSON data; pydantic models are tagged with their class."""
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover - pydantic is a dependency
        BaseModel = None  # type: ignore[misc,assignment]
    if BaseModel is not None and isinstance(value, BaseModel):
        cls = type(value)
        return {
            "pydantic": f"{cls.__module__}:{cls.__qualname__}",
            "data": value.model_dump(mode="json"),
        }
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{what} is a {type(value).__name__}, which the state file cannot hold "
            f"(values must be JSON-serialisable or pydantic models): {exc}"
        ) from None
    return {"json": value}


def _decode(entry: Any, what: str) -> Any:
    if not isinstance(entry, dict):
        raise ValueError(f"{what}: malformed entry {entry!r}")
    if "json" in entry:
        return entry["json"]
    if "pydantic" in entry:
        module, _, qualname = str(entry["pydantic"]).partition(":")
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj.model_validate(entry["data"])
    raise ValueError(f"{what}: malformed entry {entry!r}")


class _State:
    """The JSON state file of a DAG: the values of the tasks that succeeded."""

    def __init__(self, dag_name: str, path: Path, input_value: Any) -> None:
        self.dag_name = dag_name
        self.path = path
        self.input = _encode(input_value, f"DAG {dag_name!r}: the input value")
        self.run_id = str(uuid.uuid4())
        self.entries: dict[str, Any] = {}

    def load(self, tasks: Mapping[str, DAGTask]) -> dict[str, Any]:
        """The values recorded for tasks of this DAG (others are dropped)."""
        if not self.path.exists():
            return {}
        what = f"DAG {self.dag_name!r}: state file {str(self.path)!r}"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ValueError(f"{what} is not valid JSON: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise ValueError(f"{what} is not a DAG state file")
        if data.get("dag") != self.dag_name:
            raise ValueError(f"{what} belongs to DAG {data.get('dag')!r}")
        if data.get("input") != self.input:
            raise ValueError(f"{what} was written for another input value")
        self.run_id = str(data.get("run_id", self.run_id))
        recorded = data.get("tasks", {})
        values = {}
        for name in tasks:
            if name in recorded:
                values[name] = _decode(recorded[name], f"{what}, task {name!r}")
                self.entries[name] = recorded[name]
        return values

    def record(self, name: str, value: Any) -> None:
        """Add a finished task's value and replace the file atomically."""
        self.entries[name] = _encode(value, f"DAG {self.dag_name!r}: task {name!r} returned a value that")
        data = {
            "version": _STATE_VERSION,
            "dag": self.dag_name,
            "run_id": self.run_id,
            "input": self.input,
            "tasks": self.entries,
        }
        text = json.dumps(data, indent=1, allow_nan=False)
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
