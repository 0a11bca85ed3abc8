"""TemporalBackend: run placed processes as activities on Temporal workers.

The Temporal client lives on a private asyncio loop thread (see ``_loop``), so a
backend works the same from asyncio and from trio programs.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import TracebackType
from typing import Any

import anyio
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RetryConfig
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from .._compose._placement import ExecutionBackend, Placement
from .._compose._process import Process, ProcessContext
from .._compose._result import Failure, ProcessResult
from ._codec import (
    PROCESS_FAILED,
    RUN_WORKFLOW,
    Call,
    NotJSONError,
    Outcome,
    check_json,
    dump,
    result_from_outcome,
)
from ._loop import LoopThread, cancelling_remote, wait_through_outage
from ._tracing import tracing_interceptors
from ._paths import RemotePlacementError, process_path


def _positive(owner: str, label: str, value: object, *, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{owner}: {label} must be a positive number, got {value!r}")
    return value


def checked_config(name: str, placement: Placement | None) -> dict[str, Any]:
    """The placement config of process *name*, checked to be JSON before it
    travels (:class:`~stbass.temporal.RemotePlacementError` naming the value if not)."""
    if placement is None:
        return {}
    try:
        config: dict[str, Any] = check_json(
            dict(placement.config), f"process {name!r}: placement config"
        )
    except NotJSONError as exc:
        raise RemotePlacementError(str(exc)) from None
    return config


class TemporalBackend(ExecutionBackend):
    """Runs processes as activities on Temporal workers polling task queue *endpoint*.

    Processes travel by import path (``module:name`` of a module-level process),
    arguments and results as JSON. A failure on the worker comes back as a failed
    :class:`~stbass.ProcessResult` whose error is a
    :class:`~stbass.temporal.RemoteProcessError` named like the remote one.
    Each call is one workflow whose id is ``stbass/<run>/<module:name>``, where
    ``<run>`` is ``placement.config["run_id"]`` or the context's process id:
    calling again with the same context attaches to the running workflow, or
    returns the result of one that succeeded, instead of running the process
    twice; the id reaches the body as ``ctx.placement.config["idempotency_key"]``.

    >>> backend = TemporalBackend("gpu", target="127.0.0.1:7233")
    >>> registry = BackendRegistry(); registry.register("gpu", backend)  # doctest: +SKIP
    >>> result = await backend.execute(summarise, ProcessContext("summarise"))  # doctest: +SKIP
    """

    def __init__(
        self,
        endpoint: str,
        target: str = "127.0.0.1:7233",
        namespace: str = "default",
        *,
        concurrency_limit: int | None = None,
        name: str | None = None,
        activity_timeout: float = 3600.0,
        heartbeat_timeout: float | None = 10.0,
        retry_interval: float = 1.0,
        max_attempts: int = 0,
        poller_window: float = 90.0,
        outage_timeout: float = 300.0,
    ) -> None:
        owner = "TemporalBackend"
        for label, value in (("endpoint", endpoint), ("target", target), ("namespace", namespace)):
            if not isinstance(value, str) or not value:
                raise TypeError(f"{owner}: {label} must be a non-empty str, got {value!r}")
        if concurrency_limit is not None and (
            isinstance(concurrency_limit, bool)
            or not isinstance(concurrency_limit, int)
            or concurrency_limit < 1
        ):
            raise ValueError(
                f"{owner}: concurrency_limit must be a positive int or None, got {concurrency_limit!r}"
            )
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 0:
            raise ValueError(f"{owner}: max_attempts must be an int >= 0 (0: no limit), got {max_attempts!r}")
        self.endpoint = endpoint
        self.target = target
        self.namespace = namespace
        self.concurrency_limit = concurrency_limit
        self._name = name if name is not None else f"temporal:{endpoint}"
        self.activity_timeout = float(_positive(owner, "activity_timeout", activity_timeout))
        self.heartbeat_timeout = _positive(owner, "heartbeat_timeout", heartbeat_timeout, allow_none=True)
        self.retry_interval = float(_positive(owner, "retry_interval", retry_interval))
        self.max_attempts = max_attempts
        self.poller_window = float(_positive(owner, "poller_window", poller_window))
        self.outage_timeout = float(_positive(owner, "outage_timeout", outage_timeout))
        self._loop = LoopThread(f"stbass-temporal-{endpoint}")
        self._client: Client | None = None  # touched only on the loop thread
        self._local_limiters: dict[Any, anyio.CapacityLimiter] = {}

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"TemporalBackend({self.endpoint!r}, target={self.target!r}, namespace={self.namespace!r})"

    # ------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop the client's loop thread (it starts again on the next call)."""
        self._client = None
        self._loop.stop()

    async def aclose(self) -> None:
        """Async form of :meth:`close` (does not block the event loop)."""
        await anyio.to_thread.run_sync(self.close)

    async def __aenter__(self) -> TemporalBackend:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ the client side

    async def _connect(self) -> Client:
        if self._client is None:
            self._client = await Client.connect(
                self.target,
                namespace=self.namespace,
                # Short SDK-level retries: a longer outage is waited out (and
                # bounded) by wait_through_outage, which knows the workflow id.
                retry_config=RetryConfig(max_interval_millis=1000, max_elapsed_time_millis=3000),
                interceptors=tracing_interceptors(),
            )
        return self._client

    def options(self, queue: str | None = None) -> dict[str, Any]:
        """Activity options sent with each workflow (JSON)."""
        return {
            "queue": queue or self.endpoint,
            "start_to_close": self.activity_timeout,
            "heartbeat": self.heartbeat_timeout,
            "retry_interval": self.retry_interval,
            "max_attempts": self.max_attempts,
        }

    @staticmethod
    def check(process: Process) -> str:
        """Can *process* run remotely? Returns its import path or raises
        :class:`~stbass.temporal.RemotePlacementError` saying why not."""
        if not isinstance(process, Process):
            raise TypeError(f"TemporalBackend: expected a Process, got {type(process).__name__}")
        if process.channels:
            raise RemotePlacementError(
                f"process {process.name!r} uses channels ({', '.join(sorted(process.channels))}); "
                f"processes that use channels stay local in this version: run it on a "
                f"LocalBackend, or pass values as its input and result instead"
            )
        return process_path(process)

    def workflow_id(self, process: Process, ctx: ProcessContext) -> str:
        """The id of the workflow running *process* in *ctx* (its idempotency key)."""
        config = ctx.placement.config if ctx.placement is not None else {}
        run = config.get("run_id") or ctx.process_id
        return f"stbass/{run}/{self.check(process)}"

    async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        """Run *process* on a worker of this backend's task queue.

        Raises :class:`~stbass.temporal.RemotePlacementError` when the process
        cannot travel (not importable, or it uses channels); any other problem
        (server down, bad result) gives a failed ``ProcessResult``.
        """
        path = self.check(process)
        wf_id = self.workflow_id(process, ctx)
        placement = ctx.placement
        timeout = None
        if ctx.deadline is not None:
            timeout = max(0.001, ctx.deadline - anyio.current_time())
        call = Call(
            path=path,
            name=process.name,
            process_id=ctx.process_id,
            parent=ctx.parent,
            model=placement.model if placement is not None else None,
            endpoint=placement.endpoint if placement is not None else None,
            config=checked_config(process.name, placement),
            timeout=timeout,
            idempotency_key=wf_id,
        )
        payload = dump(call)
        async with self._local_limiter():
            budget = None if timeout is None else min(self.outage_timeout, timeout)
            try:
                raw = await self._loop.call(self._run_remote(wf_id, payload, budget))
                outcome = Outcome.model_validate(raw)
            except Exception as exc:  # on this side (server, client): the error itself
                failure = Failure(
                    exc,
                    process_name=process.name,
                    process_id=ctx.process_id,
                    placement=placement,
                    parent_process=ctx.parent,
                )
                return ProcessResult.fail(failure)
        return result_from_outcome(
            outcome, process_id=ctx.process_id, parent=ctx.parent, placement=placement
        )

    def _local_limiter(self) -> anyio.CapacityLimiter | _NoLimit:
        if self.concurrency_limit is None:
            return _NoLimit()
        token = anyio.lowlevel.current_token()
        limiter = self._local_limiters.get(token)
        if limiter is None:
            self._local_limiters.clear()
            limiter = self._local_limiters[token] = anyio.CapacityLimiter(self.concurrency_limit)
        return limiter

    async def _run_remote(
        self, wf_id: str, call: dict[str, Any], budget: float | None = None
    ) -> dict[str, Any]:
        client = await self._connect()
        return await cancelling_remote(
            wait_through_outage(
                client,
                lambda: self._start_and_wait(client, wf_id, call),
                wf_id=wf_id,
                target=self.target,
                budget=self.outage_timeout if budget is None else budget,
                reattach="call execute() again with the same context (same workflow id) to reattach",
            ),
            lambda: client.get_workflow_handle(wf_id).cancel(),
        )

    async def _start_and_wait(
        self, client: Client, wf_id: str, call: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            handle = await client.start_workflow(
                RUN_WORKFLOW,
                {"call": call, "options": self.options()},
                id=wf_id,
                task_queue=self.endpoint,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        except WorkflowAlreadyStartedError:
            handle = client.get_workflow_handle(wf_id)  # it succeeded before: reuse it
        try:
            result: dict[str, Any] = await handle.result()
            return result
        except WorkflowFailureError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == PROCESS_FAILED and cause.details:
                details: dict[str, Any] = cause.details[0]
                return details
            raise RuntimeError(f"workflow {wf_id} failed: {cause}") from None

    async def health_check(self) -> bool:
        """True when a worker polled this task queue (workflows and activities)
        within ``poller_window`` seconds and the server answers."""
        try:
            return await self._loop.call(self._pollers_present())
        except Exception:
            return False

    async def _pollers_present(self) -> bool:
        client = await self._connect()
        cutoff = datetime.now(timezone.utc) - timedelta(seconds=self.poller_window)
        for kind in (TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY):
            response = await client.workflow_service.describe_task_queue(
                DescribeTaskQueueRequest(
                    namespace=self.namespace,
                    task_queue=TaskQueue(name=self.endpoint),
                    task_queue_type=kind,
                ),
                timeout=timedelta(seconds=5),
            )
            recent = [
                p for p in response.pollers
                if p.last_access_time.ToDatetime(tzinfo=timezone.utc) >= cutoff
            ]
            if not recent:
                return False
        return True


class _NoLimit:
    async def __aenter__(self) -> None:
        await anyio.lowlevel.checkpoint()

    async def __aexit__(self, *exc: object) -> None:
        return None
