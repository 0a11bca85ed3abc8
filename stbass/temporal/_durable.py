"""Durable compositions: a SEQ/PAR/PAR_FOR/SEQ_FOR tree run as one Temporal workflow.

:func:`durable` turns a composition into a process whose run is one workflow
execution; its leaves run as activities on workers. Temporal records each
completed leaf in the workflow's history, so when a worker dies the next worker
replays the history and carries on from the last completed step: completed steps
are not run again, the step that was running when the worker died runs again
(at least once).

A run's workflow id is derived from the composition and its input (unless a
``workflow_id`` is given), so running the same composition on the same input
again is the *same* run: it reattaches to a workflow that is still running,
returns the result of one that succeeded, and after a failed run starts a new
run that takes the outcomes of the steps that had completed instead of running
them again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, overload

import anyio
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from .. import _names as N
from .. import observe
from .._compose._seqpar import PAR, SEQ, Composition, CompositionResult, PARResult, SEQResult, ProcessCancelledError
from .._compose._placement import BackendRegistry, PLACED_PAR
from .._compose._process import Process, ProcessContext
from .._compose._replicator import PAR_FOR, SEQ_FOR
from .._compose._result import Failure, FailurePolicy, ProcessResult
from ..dag._dag import DAG, DAGResult, task_function
from ._backend import TemporalBackend, checked_config
from ._codec import (
    DURABLE_WORKFLOW,
    PROCESS_FAILED,
    Call,
    Outcome,
    check_json,
    dump,
    result_from_outcome,
)
from ._loop import cancelling_remote, wait_through_outage
from ._paths import RemotePlacementError, callable_path

Json = dict[str, Any]


class _Remote:
    """What every durable run shares: where leaves go, the workflow id, and
    starting (or reattaching to) the workflow."""

    backend: TemporalBackend
    workflow_id: str | None
    registry: BackendRegistry | None

    def _queue_for(self, process: Process) -> str:
        placement = process.placement
        if placement is not None:
            queue = placement.config.get("task_queue")
            if isinstance(queue, str) and queue:
                return queue
            if self.registry is not None:
                found = self.registry.get(placement)
                if isinstance(found, TemporalBackend):
                    return found.endpoint
        return self.backend.endpoint

    def _budget(self, own: object, ctx: ProcessContext | None) -> float:
        """How long to wait out a server outage: the backend's outage_timeout,
        or less: the composition's own deadline (*own*), or the caller's."""
        budget = self.backend.outage_timeout
        if isinstance(own, (int, float)) and own > 0:
            budget = min(budget, float(own))
        deadline = ctx.deadline if ctx is not None else None
        if deadline is not None:
            budget = max(0.001, min(budget, deadline - anyio.current_time()))
        return budget

    def run_id(self, tree: Json, input_value: Any) -> str:
        """The workflow id of a run with *input_value* when no ``workflow_id`` was
        given: derived from the composition (its shape, process paths, names,
        queues and placement configs), its input and the backend's namespace, so
        running the same composition on the same input again is the same run."""
        identity = {
            "tree": tree,
            "input": input_value,
            "namespace": self.backend.namespace,
            "queue": self.backend.endpoint,
        }
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
        return f"stbass-durable/{hashlib.sha256(text.encode()).hexdigest()[:32]}"

    async def _run_remote(self, wf_id: str, request: Json, budget: float) -> Json:
        client = await self.backend._connect()

        async def start_and_wait() -> Json:
            handle = client.get_workflow_handle(wf_id)
            done = await _completed_steps(handle)
            try:
                handle = await client.start_workflow(
                    DURABLE_WORKFLOW,
                    {**request, "done": done} if done else request,
                    id=wf_id,
                    task_queue=self.backend.endpoint,
                    id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
            except WorkflowAlreadyStartedError:
                pass  # it succeeded before: its result is the answer
            try:
                result: Json = await handle.result()
            except WorkflowFailureError as exc:
                cause = exc.cause
                if isinstance(cause, ApplicationError) and cause.type == PROCESS_FAILED and cause.details:
                    details: Json = cause.details[0]
                    return details
                raise RuntimeError(f"workflow {wf_id} failed: {cause}") from None
            return result

        return await cancelling_remote(
            wait_through_outage(
                client,
                start_and_wait,
                wf_id=wf_id,
                target=self.backend.target,
                budget=budget,
                reattach=(
                    "run the same composition on the same input again to reattach to it "
                    "(completed steps are not run again)"
                    if self.workflow_id is None
                    else "run it again with the same workflow_id to reattach to it"
                ),
            ),
            lambda: client.get_workflow_handle(wf_id).cancel(),
        )


class DurableComposition(_Remote, Composition):
    """A composition that runs as one Temporal workflow (made by :func:`durable`).

    ``run(input_value=None)`` returns what the composition's own ``run`` would:
    a :class:`~stbass.SEQResult` for SEQ/SEQ_FOR, a :class:`~stbass.PARResult`
    for PAR/PAR_FOR/PLACED_PAR. It nests in other compositions like any process.
    ``last_workflow_id`` is the workflow id of the last run (see :func:`durable`).
    """

    def __init__(
        self,
        composition: Composition,
        backend: TemporalBackend,
        *,
        workflow_id: str | None = None,
        registry: BackendRegistry | None = None,
    ) -> None:
        if not isinstance(composition, (SEQ, PAR, PAR_FOR, SEQ_FOR, PLACED_PAR)):
            raise TypeError(
                f"durable() takes a SEQ, PAR, PLACED_PAR, PAR_FOR or SEQ_FOR, "
                f"got {type(composition).__name__}"
            )
        if not isinstance(backend, TemporalBackend):
            raise TypeError(f"durable(): backend must be a TemporalBackend, got {type(backend).__name__}")
        if workflow_id is not None and (not isinstance(workflow_id, str) or not workflow_id):
            raise TypeError(f"durable(): workflow_id must be a non-empty str, got {workflow_id!r}")
        super().__init__(name=f"durable {composition.name}")
        self.composition = composition
        self.backend = backend
        self.workflow_id = workflow_id
        self.registry = registry
        self.on_failure = getattr(composition, "on_failure", FailurePolicy.HALT)
        self.last_workflow_id: str | None = None
        # Check now that every leaf can travel (raises RemotePlacementError).
        if not isinstance(composition, (PAR_FOR, SEQ_FOR)) or isinstance(composition.count, int):
            _encode(composition, self._queue_for, count=None)

    def __repr__(self) -> str:
        return f"durable({self.composition!r}, backend={self.backend!r})"

    async def run(self, input_value: Any = None) -> CompositionResult:
        """Run the workflow (or attach to it, with a fixed ``workflow_id``) and
        return the composition's result."""
        if isinstance(input_value, ProcessContext):
            return await self._run_in(input_value, None)
        return await self._run_in(None, input_value)

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> CompositionResult:
        comp = self.composition
        count = None
        if isinstance(comp, (PAR_FOR, SEQ_FOR)):
            count = await comp.resolve_count()
        tree = _encode(comp, self._queue_for, count=count)
        parent = ctx.process_name if ctx is not None else None
        kind = tree["kind"]
        attrs = {
            N.COMPOSITION: getattr(comp, "span_name", None) or comp.name,
            N.CHILDREN: len(tree.get("children", ())) or tree.get("count", 0),
            N.ON_FAILURE: self.on_failure.value,
            "stbass.temporal.task_queue": self.backend.endpoint,
        }
        with observe.span(f"durable {attrs[N.COMPOSITION]}", attrs) as rec:
            try:
                checked = check_json(input_value, f"the input of {self.name!r}")
                wf_id = self.workflow_id or self.run_id(tree, checked)
                self.last_workflow_id = wf_id
                rec.set("stbass.temporal.workflow_id", wf_id)
                request = {"tree": tree, "input": checked, "options": self.backend.options()}
                budget = self._budget(getattr(comp, "deadline", None), ctx)
                raw = await self.backend._loop.call(self._run_remote(wf_id, request, budget))
            except Exception as exc:
                failure = Failure(exc, process_name=self.name, parent_process=parent)
                rec.failed(exc, failure.summary)
                return _wrap(kind, [ProcessResult.fail(failure)], [False], None)
            children = _leaf_names(tree)
            results = []
            optional = []
            for i, item in enumerate(raw["results"]):
                outcome = Outcome.model_validate(item)
                results.append(_rebuild(outcome, wf_id, i, parent))
                optional.append(children[i][1] if i < len(children) else False)
            result = _wrap(kind, results, optional, raw.get("value"))
            if not result.is_ok:
                rec.failed(result.failures[0].error, result.failures[0].summary)
            return result

class DurableDAG(_Remote, Process):
    """A :class:`~stbass.dag.DAG` that runs as one Temporal workflow (made by
    :func:`durable`): each task is an activity, started inside the workflow as
    soon as the tasks it depends on succeeded.

    ``run(input_value=None)`` returns a :class:`~stbass.dag.DAGResult`, as
    ``dag.run()`` does (``values``, ``failures``, ``skipped``; ``resumed`` names
    the tasks whose outcome came from an earlier, failed run of the same
    workflow; ``run_id`` is the workflow id). ``on_failure`` and
    ``max_parallel`` are the DAG's own; a task's ``retry`` policy retries it
    inside the workflow, on durable timers. It nests in SEQ/PAR like any process.
    ``last_workflow_id`` is the workflow id of the last run.
    """

    def __init__(
        self,
        dag: DAG,
        backend: TemporalBackend,
        *,
        workflow_id: str | None = None,
        registry: BackendRegistry | None = None,
    ) -> None:
        if not isinstance(dag, DAG):
            raise TypeError(f"DurableDAG takes a DAG, got {type(dag).__name__}")
        if not isinstance(backend, TemporalBackend):
            raise TypeError(f"durable(): backend must be a TemporalBackend, got {type(backend).__name__}")
        if workflow_id is not None and (not isinstance(workflow_id, str) or not workflow_id):
            raise TypeError(f"durable(): workflow_id must be a non-empty str, got {workflow_id!r}")
        super().__init__(name=f"durable {dag.name}")
        self.dag = dag
        self.backend = backend
        self.workflow_id = workflow_id
        self.registry = registry
        self.last_workflow_id: str | None = None
        _encode(dag, self._queue_for, count=None)  # checks the graph and that every task can travel

    def __repr__(self) -> str:
        return f"durable({self.dag!r}, backend={self.backend!r})"

    async def run(self, input_value: Any = None) -> DAGResult:
        """Run the DAG's workflow (or attach to it) and return its
        :class:`~stbass.dag.DAGResult`."""
        if isinstance(input_value, ProcessContext):
            raise TypeError(
                f"{self.name!r}.run() takes the DAG's input value, not a ProcessContext"
            )
        return await self._run_in(None, input_value)

    async def execute(self, ctx: ProcessContext) -> ProcessResult[Any]:
        """Run as a child of a composition: the input is what arrives on the
        ``"input"`` channel, if the context has one; the value is the dict of
        task values."""
        input_value = None
        if "input" in ctx.channels:
            input_value = await ctx.recv("input")
        result = await self._run_in(ctx, input_value)
        return result.as_process_result()

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> DAGResult:
        dag = self.dag
        tree = _encode(dag, self._queue_for, count=None)
        parent = ctx.process_name if ctx is not None else None
        names = list(dag.tasks)
        attrs = {
            N.COMPOSITION: "DAG",
            N.CHILDREN: len(names),
            N.ON_FAILURE: dag.on_failure.value,
            N.MAX_PARALLEL: dag.max_parallel,
            N.DAG_NAME: dag.name,
            N.DAG_EDGES: [f"{d} -> {t.name}" for t in dag.tasks.values() for d in t.after] or None,
            "stbass.temporal.task_queue": self.backend.endpoint,
        }
        with observe.span("durable DAG", attrs) as rec:
            wf_id = self.workflow_id or ""
            try:
                checked = check_json(input_value, f"the input of {self.name!r}")
                wf_id = self.workflow_id or self.run_id(tree, checked)
                self.last_workflow_id = wf_id
                rec.set("stbass.temporal.workflow_id", wf_id)
                rec.set(N.DAG_RUN_ID, wf_id)
                request = {"tree": tree, "input": checked, "options": self.backend.options()}
                raw = await self.backend._loop.call(
                    self._run_remote(wf_id, request, self._budget(None, ctx))
                )
            except Exception as exc:
                # The run did not happen (bad input, no server): every task is skipped.
                failure = Failure(exc, process_name=self.name, parent_process=parent)
                rec.failed(exc, failure.summary)
                return DAGResult(dag.name, {}, {self.name: failure}, tuple(names), (), wf_id)
            values: dict[str, Any] = {}
            failures: dict[str, Failure] = {}
            skipped: list[str] = []
            resumed: list[str] = []
            ranks: dict[str, int] = {}
            for i, report in enumerate(raw["results"]):
                name = str(report["task"])
                status = report["status"]
                if status in ("ok", "resumed"):
                    values[name] = report["outcome"].get("value")
                    if status == "resumed":
                        resumed.append(name)
                elif status == "failed":
                    outcome = Outcome.model_validate(report["outcome"])
                    failures[name] = _rebuild(outcome, wf_id, i, parent).failure
                    ranks[name] = int(report.get("rank", i))
                else:
                    skipped.append(name)
            # the task that made HALT stop the run first, as dag.run() reports it
            order = sorted(failures, key=lambda n: ranks[n])
            result = DAGResult(
                dag.name,
                values,
                {n: failures[n] for n in order},
                tuple(skipped),
                tuple(resumed),
                wf_id,
            )
            rec.set(N.DAG_RESUMED, len(resumed))
            for name in resumed:
                rec.event(N.EVENT_DAG_TASK_RESUMED, {N.DAG_TASK: name})
            for name in skipped:
                rec.event(N.EVENT_DAG_TASK_SKIPPED, {N.DAG_TASK: name})
            if failures:
                first = next(iter(result.failures.values()))
                rec.failed(first.error, first.summary)
            return result


async def _completed_steps(handle: WorkflowHandle[Any, Any]) -> Json:
    """The leaves that completed in the last run of *handle*'s workflow id, when
    that run failed: the next run takes their outcomes instead of running them."""
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return {}
        raise
    if description.status != WorkflowExecutionStatus.FAILED:
        return {}
    try:
        await handle.result()
    except WorkflowFailureError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type == PROCESS_FAILED and cause.details:
            done: Json = dict(cause.details[0].get("done") or {})
            return done
    return {}


@overload
def durable(
    composition: DAG,
    *,
    backend: TemporalBackend,
    workflow_id: str | None = None,
    registry: BackendRegistry | None = None,
) -> DurableDAG: ...


@overload
def durable(
    composition: Composition,
    *,
    backend: TemporalBackend,
    workflow_id: str | None = None,
    registry: BackendRegistry | None = None,
) -> DurableComposition: ...


def durable(
    composition: Composition | DAG,
    *,
    backend: TemporalBackend,
    workflow_id: str | None = None,
    registry: BackendRegistry | None = None,
) -> DurableComposition | DurableDAG:
    """Run *composition* as one Temporal workflow on *backend*'s task queue.

    Leaves run as activities (on ``placement.config["task_queue"]``, on the
    queue of the :class:`TemporalBackend` that *registry* finds for their
    placement, or on *backend*'s queue).

    The workflow id is ``stbass-durable/<digest>``, a digest of the composition
    (shape, process paths, names, queues, placement configs), its input, the
    namespace and the queue: running the same composition on the same input again
    reattaches to that run (or returns its result) and never redoes a completed
    step. Give *workflow_id* to choose the id yourself (e.g. one per day, to run
    the same input again as a new run). A server outage is waited out for up to
    the backend's ``outage_timeout`` (or the caller's deadline); after that the
    run fails with :class:`~stbass.temporal.TemporalUnavailableError` naming the
    workflow id, and the workflow keeps running.

    A :class:`~stbass.dag.DAG` gives a :class:`DurableDAG`: each task is an
    activity, started inside the workflow as soon as its dependencies
    succeeded, and ``run()`` returns a :class:`~stbass.dag.DAGResult`. A DAG
    may also be a step of a durable SEQ/PAR (its value: the task values).

    >>> backend = TemporalBackend("steps")
    >>> pipeline = durable(SEQ(extract, transform, load), backend=backend)  # doctest: +SKIP
    >>> result = await pipeline.run("s3://bucket/key")                       # doctest: +SKIP
    """
    if isinstance(composition, DAG):
        return DurableDAG(composition, backend, workflow_id=workflow_id, registry=registry)
    return DurableComposition(composition, backend, workflow_id=workflow_id, registry=registry)


def _leaf_call(process: Process, queue: str, path: str) -> Json:
    placement = process.placement
    call = Call(
        path=path,
        name=process.name,
        process_id="",
        model=placement.model if placement is not None else None,
        endpoint=placement.endpoint if placement is not None else None,
        config=checked_config(process.name, placement),
    )
    out = dump(call)
    out["queue"] = queue
    return out


def _encode(comp: Process, queue_for: Any, *, count: int | None) -> Json:
    """The JSON tree the durable workflow interprets."""
    halt = getattr(comp, "on_failure", FailurePolicy.HALT) is FailurePolicy.HALT
    if isinstance(comp, (PAR_FOR, SEQ_FOR)):
        n = count if count is not None else (comp.count if isinstance(comp.count, int) else 0)
        path = callable_path(comp.factory, what=f"{comp.span_name} factory")
        replica = comp.replicas(1)[0] if n else Process(_noop, name=comp.body_name)
        return {
            "kind": "par_for" if isinstance(comp, PAR_FOR) else "seq_for",
            "name": comp.name,
            "optional": comp.is_optional,
            "halt": halt,
            "count": n,
            "deadline": getattr(comp, "deadline", None),
            "max_parallel": getattr(comp, "max_parallel", None),
            "call": _leaf_call(replica.with_name(comp.body_name), queue_for(comp), path),
        }
    if isinstance(comp, (SEQ, PAR, PLACED_PAR)):
        children = comp.procs
        nested = []
        for child in children:
            if isinstance(child, (PAR_FOR, SEQ_FOR)) and not isinstance(child.count, int):
                raise RemotePlacementError(
                    f"{child.span_name} nested in a durable composition needs an int count"
                )
            nested.append(_encode(child, queue_for, count=None))
        return {
            "kind": "seq" if isinstance(comp, SEQ) else "par",
            "name": comp.name,
            "optional": comp.is_optional,
            "halt": halt,
            "deadline": getattr(comp, "deadline", None),
            "children": nested,
        }
    if isinstance(comp, DAG):
        comp.check()
        if comp.state is not None:
            raise ValueError(
                f"durable(): DAG {comp.name!r} has a state file ({str(comp.state)!r}); a durable "
                f"run resumes from Temporal's history instead: build the DAG without state="
            )
        tasks = []
        for task in comp.tasks.values():
            retry = task.retry
            tasks.append(
                {
                    "name": task.name,
                    "after": list(task.after),
                    "retry": None if retry is None else dataclasses.asdict(retry),
                    "node": _encode_task(comp.name, task.process, queue_for),
                }
            )
        return {
            "kind": "dag",
            "name": comp.name,
            "optional": comp.is_optional,
            "halt": comp.on_failure is FailurePolicy.HALT,
            "max_parallel": comp.max_parallel,
            "tasks": tasks,
        }
    if isinstance(comp, Composition):
        raise RemotePlacementError(
            f"{type(comp).__name__} cannot run inside a durable composition "
            f"(SEQ, PAR, PLACED_PAR, PAR_FOR and SEQ_FOR can)"
        )
    path = TemporalBackend.check(comp)
    return {"kind": "leaf", "optional": comp.is_optional, "call": _leaf_call(comp, queue_for(comp), path)}


def _encode_task(dag_name: str, process: Process, queue_for: Any) -> Json:
    """The tree node of a DAG task: a function task is a leaf calling the
    function (by import path) with the task's input."""
    fn = task_function(process)
    if fn is None:
        if isinstance(process, (PAR_FOR, SEQ_FOR)) and not isinstance(process.count, int):
            raise RemotePlacementError(
                f"{process.span_name} in a durable DAG needs an int count"
            )
        return _encode(process, queue_for, count=None)
    path = callable_path(fn, what=f"DAG {dag_name!r}: the function of task {process.name!r}")
    call = _leaf_call(process, queue_for(process), path)
    call["function"] = True
    return {"kind": "leaf", "optional": False, "call": call}


async def _noop(ctx: ProcessContext) -> None:  # pragma: no cover - placeholder body
    await anyio.lowlevel.checkpoint()


def _leaf_names(tree: Json) -> list[tuple[str, bool]]:
    if tree["kind"] in ("par_for", "seq_for"):
        return [(f"{tree['call']['name']}[{i}]", False) for i in range(int(tree["count"]))]
    return [
        (str(c["call"]["name"]) if c["kind"] == "leaf" else str(c.get("name")), bool(c.get("optional")))
        for c in tree["children"]
    ]


def _rebuild(outcome: Outcome, wf_id: str, index: int, parent: str | None) -> ProcessResult[Any]:
    if not outcome.ok and outcome.error_type == "ProcessCancelledError" and outcome.cancel_reason:
        return ProcessResult.fail(
            ProcessCancelledError(
                outcome.message or "", reason=outcome.cancel_reason, process_name=outcome.process_name
            ),
            process_name=outcome.process_name,
            process_id=f"{wf_id}/0.{index}",
            parent_process=parent,
        )
    return result_from_outcome(outcome, process_id=f"{wf_id}/0.{index}", parent=parent, placement=None)


def _wrap(kind: str, results: list[ProcessResult[Any]], optional: list[bool], value: Any) -> CompositionResult:
    if kind in ("seq", "seq_for"):
        return SEQResult(results, optional, value)
    return PARResult(results, optional)
