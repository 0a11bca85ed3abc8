"""The worker side: the generic activity that runs a process by import path, and
:func:`run_worker`, which polls one task queue with it and the stbass workflows.

Start one with ``python -m stbass.temporal worker --endpoint QUEUE --import
pkg.module``; the worker imports the given modules up front, and looks processes
up in them (or in their submodules) by the path each request carries.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import anyio
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from .._core._chan import Chan, ChannelClosedError
from ..dag._dag import task_call
from .._compose._placement_value import Placement
from .._compose._process import Process, ProcessContext
from .._compose._result import ProcessResult
from ._codec import (
    ACTIVITY_NAME,
    Call,
    NotJSONError,
    dump,
    outcome_from_exception,
    outcome_from_result,
)
from ._paths import load
from ._tracing import tracing_interceptors
from ._workflows import DurableWorkflow, RunWorkflow

#: module prefixes this worker may import on demand (set by run_worker)
_allowed_prefixes: list[str] = []


def _allowed(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in _allowed_prefixes)


def import_target(spec: str) -> str:
    """Import a module given by dotted name or by ``.py`` file path; returns its name."""
    if spec.endswith(".py") or os.sep in spec:
        path = os.path.abspath(spec)
        name = os.path.splitext(os.path.basename(path))[0]
        if name not in sys.modules:
            directory = os.path.dirname(path)
            if directory not in sys.path:
                sys.path.insert(0, directory)
            loaded = importlib.util.spec_from_file_location(name, path)
            if loaded is None or loaded.loader is None:
                raise ImportError(f"cannot import {spec!r}")
            module = importlib.util.module_from_spec(loaded)
            sys.modules[name] = module
            loaded.loader.exec_module(module)
        return name
    importlib.import_module(spec)
    return spec


def _build(call: Call) -> Process:
    target = load(call.path, _allowed)
    if call.function:
        if not callable(target) or isinstance(target, Process):
            raise TypeError(f"{call.path} is not a function (for DAG task {call.name!r})")
        return task_call(target, call.name)
    if call.index is not None:
        if not callable(target):
            raise TypeError(f"{call.path} is not a factory function (for {call.name!r})")
        index = call.index

        async def instance(ctx: ProcessContext) -> Any:
            return await target(index, ctx)

        return Process(instance, name=call.name)
    if not isinstance(target, Process):
        raise TypeError(f"{call.path} is a {type(target).__name__}, not a stbass Process")
    if target.channels:
        raise TypeError(f"{call.path} uses channels; it cannot run on a Temporal worker")
    return target.with_name(call.name) if target.name != call.name else target


async def _run_stage(process: Process, ctx: ProcessContext, value: Any) -> ProcessResult[Any]:
    """Run like a SEQ stage: *value* offered on ``"input"``, ``"output"`` drained."""
    outputs: list[Any] = []

    async def feed() -> None:
        try:
            await ctx.channels["input"].send(value)
        except ChannelClosedError:
            pass

    async def drain() -> None:
        try:
            while True:
                outputs.append(await ctx.channels["output"].recv())
        except ChannelClosedError:
            pass

    async with anyio.create_task_group() as tg:
        tg.start_soon(feed)
        tg.start_soon(drain)
        result = await process.execute(ctx)
        tg.cancel_scope.cancel()
    if result.is_ok and outputs:
        return ProcessResult.ok(outputs[-1])
    return result


async def _heartbeat(interval: float) -> None:
    while True:
        activity.heartbeat()
        await anyio.sleep(interval)


@activity.defn(name=ACTIVITY_NAME)
async def run_process(payload: dict[str, Any]) -> dict[str, Any]:
    """Run the process a :class:`Call` names; return its outcome as JSON.

    A failing process is a *successful* activity returning a failed outcome:
    Temporal retries the activity only when the worker itself was lost.
    """
    try:
        call = Call.model_validate(payload)
    except Exception as exc:  # a newer/older client: report, never retry forever
        name = str(payload.get("name", "unknown")) if isinstance(payload, dict) else "unknown"
        return dump(outcome_from_exception(exc, name))
    try:
        process = _build(call)
    except Exception as exc:
        return dump(outcome_from_exception(exc, call.name))
    return await _execute(call, process)


async def _execute(call: Call, process: Process) -> dict[str, Any]:
    info = activity.info()
    config = {
        **call.config,
        "idempotency_key": call.idempotency_key,
        "attempt": info.attempt,
        "workflow_id": info.workflow_id,
        "activity_id": info.activity_id,
        "task_queue": info.task_queue,
    }
    placement = Placement(model=call.model, endpoint=call.endpoint, config=config)
    channels: dict[str, Chan[Any]] = {}
    if call.stage:
        channels = {
            "input": Chan(object, name=f"{call.name}.input"),
            "output": Chan(object, name=f"{call.name}.output"),
        }
    deadline = None if call.timeout is None else anyio.current_time() + call.timeout
    ctx = ProcessContext(
        call.name,
        process_id=call.process_id,
        channels=channels,
        parent=call.parent,
        placement=placement,
        deadline=deadline,
    )
    beat = info.heartbeat_timeout.total_seconds() / 3 if info.heartbeat_timeout else 5.0
    async with anyio.create_task_group() as tg:
        tg.start_soon(_heartbeat, max(0.05, beat))
        result: ProcessResult[Any] | None = None
        with anyio.CancelScope(deadline=deadline if deadline is not None else float("inf")):
            if call.stage:
                result = await _run_stage(process, ctx, call.input)
            else:
                result = await process.execute(ctx)
        tg.cancel_scope.cancel()
    if result is None:
        result = ProcessResult.fail(
            TimeoutError(f"process {call.name!r} ran past its deadline on the worker"),
            process_name=call.name,
            checkpoint=ctx.last_checkpoint,
        )
    try:
        return dump(outcome_from_result(result, call.name))
    except (NotJSONError, ValueError) as exc:
        # refused here, on the worker, rather than changed on the way back
        return dump(outcome_from_exception(TypeError(str(exc)), call.name))


async def _wait_visible(client: Client, namespace: str, queue: str, timeout: float = 10.0) -> None:
    """Wait until the server lists this worker's pollers (what health checks see)."""
    kinds = (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    with anyio.move_on_after(timeout):
        for kind in kinds:
            while True:
                response = await client.workflow_service.describe_task_queue(
                    DescribeTaskQueueRequest(
                        namespace=namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
                    )
                )
                if response.pollers:
                    break
                await anyio.sleep(0.05)  # pollers register on the server: nothing to await


def _runner() -> SandboxedWorkflowRunner:
    # The workflows only touch dicts; stbass itself is passed through, not re-imported.
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules("stbass", "pydantic")
    )


async def run_worker(
    endpoint: str,
    imports: Sequence[str] = (),
    *,
    target: str = "127.0.0.1:7233",
    namespace: str = "default",
    max_concurrent_activities: int | None = None,
    sticky_timeout: float = 10.0,
    until: Callable[[], Awaitable[Any]] | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Poll task queue *endpoint* until *until()* returns (or forever), running
    stbass processes from the modules in *imports*. Must run on asyncio.

    >>> asyncio.run(run_worker("gpu", ["myapp.steps"]))  # doctest: +SKIP
    """
    names = [import_target(spec) for spec in imports]
    _allowed_prefixes[:] = names
    client = await Client.connect(target, namespace=namespace, interceptors=tracing_interceptors())
    worker = Worker(
        client,
        task_queue=endpoint,
        workflows=[RunWorkflow, DurableWorkflow],
        activities=[run_process],
        workflow_runner=_runner(),
        max_concurrent_activities=max_concurrent_activities,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=sticky_timeout),
        graceful_shutdown_timeout=timedelta(seconds=5),
    )
    async with worker:
        if on_ready is not None:
            await _wait_visible(client, namespace, endpoint)
            on_ready()
        if until is None:
            await anyio.sleep_forever()
        else:
            await until()
