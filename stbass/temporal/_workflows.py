"""The Temporal workflows every stbass worker registers.

``stbass.Run`` runs one process as one activity (what
:meth:`TemporalBackend.execute` starts). ``stbass.Durable`` interprets a
composition tree (SEQ, PAR, PAR_FOR, SEQ_FOR) whose leaves are activities: the
history Temporal keeps of it is what lets a composition resume after a worker
crash from its last completed step.

Workflow code must be deterministic and replay-safe, so it touches only plain
dicts (never the stbass runtime): the tree and the outcomes are JSON.
"""

from __future__ import annotations

import asyncio  # workflow code runs on Temporal's deterministic asyncio loop
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from ._codec import ACTIVITY_NAME, DURABLE_WORKFLOW, PROCESS_FAILED, RUN_WORKFLOW

Json = dict[str, Any]


def _activity_kwargs(options: Json, timeout: float | None) -> dict[str, Any]:
    start_to_close = float(options["start_to_close"])
    if timeout is not None:
        start_to_close = max(0.001, min(start_to_close, timeout))
    heartbeat = options.get("heartbeat")
    return {
        "start_to_close_timeout": timedelta(seconds=start_to_close),
        "heartbeat_timeout": timedelta(seconds=heartbeat) if heartbeat else None,
        "retry_policy": RetryPolicy(
            initial_interval=timedelta(seconds=float(options["retry_interval"])),
            maximum_interval=timedelta(seconds=max(10.0, float(options["retry_interval"]))),
            maximum_attempts=int(options["max_attempts"]),
        ),
    }


def _failed_outcome(name: str, error_type: str, message: str, **extra: Any) -> Json:
    return {
        "ok": False,
        "process_name": name,
        "error_type": error_type,
        "error_module": "stbass",
        "message": message,
        "failed_at": workflow.now().isoformat(),
        **extra,
    }


@workflow.defn(name=RUN_WORKFLOW)
class RunWorkflow:
    """Run one process (the ``call``) as an activity; fail the workflow, with the
    outcome as its details, when the process failed (so the same workflow id may
    run again on a retry, while a success is never run twice)."""

    @workflow.run
    async def run(self, request: Json) -> Json:
        call: Json = request["call"]
        options: Json = request["options"]
        outcome: Json = await workflow.execute_activity(
            ACTIVITY_NAME,
            call,
            task_queue=options["queue"],
            activity_id="process",
            **_activity_kwargs(options, call.get("timeout")),
        )
        if not outcome.get("ok"):
            raise ApplicationError(
                f"process {call['name']!r} failed: {outcome.get('error_type')}: "
                f"{outcome.get('message')}",
                outcome,
                type=PROCESS_FAILED,
                non_retryable=True,
            )
        return outcome


@workflow.defn(name=DURABLE_WORKFLOW)
class DurableWorkflow:
    """Run a composition tree whose leaves are activities; returns
    ``{"ok", "value", "results"}`` (``results``: one outcome per top-level child)."""

    def __init__(self) -> None:
        self._options: Json = {}
        self._key = ""
        self._before: Json = {}
        self._done: Json = {}

    @workflow.run
    async def run(self, request: Json) -> Json:
        self._options = request["options"]
        self._key = workflow.info().workflow_id
        # leaves that completed in an earlier, failed run of this workflow id
        self._before = dict(request.get("done") or {})
        tree: Json = request["tree"]
        outcome, results = await self._node(tree, request.get("input"), False, "0")
        answer = {"ok": outcome["ok"], "value": outcome.get("value"), "results": results}
        if not outcome["ok"]:
            # A failed run fails the workflow (so running the composition again may
            # reuse its id), carrying the answer and the completed leaves.
            raise ApplicationError(
                f"durable composition failed: {outcome.get('error_type')}: {outcome.get('message')}",
                {**answer, "done": self._done},
                type=PROCESS_FAILED,
                non_retryable=True,
            )
        return answer

    async def _node(
        self, node: Json, value: Any, stage: bool, path: str
    ) -> tuple[Json, list[Json]]:
        kind = node["kind"]
        if kind == "leaf":
            return await self._leaf(node["call"], value, stage, path, None), []
        if kind in ("seq", "seq_for"):
            return await self._seq(self._children(node, path), node, value, path)
        return await self._par(self._children(node, path), node, path)

    def _children(self, node: Json, path: str) -> list[Json]:
        if node["kind"] in ("seq", "par"):
            return list(node["children"])
        # A replicator: one leaf per index, calling the factory.
        return [
            {
                "kind": "leaf",
                "optional": False,
                "call": {**node["call"], "index": i, "name": f"{node['call']['name']}[{i}]"},
            }
            for i in range(int(node["count"]))
        ]

    async def _leaf(
        self, call: Json, value: Any, stage: bool, path: str, timeout: float | None
    ) -> Json:
        before = self._before.get(path)
        if before is not None and before.get("ok"):
            self._done[path] = before
            return dict(before)
        request = {
            **call,
            "stage": stage,
            "input": value if stage else None,
            "idempotency_key": f"{self._key}/{path}",
            "process_id": f"{self._key}/{path}",
        }
        result: Json = await workflow.execute_activity(
            ACTIVITY_NAME,
            request,
            task_queue=call.get("queue") or self._options["queue"],
            activity_id=path,
            **_activity_kwargs(self._options, timeout),
        )
        if result.get("ok"):
            self._done[path] = result
        return result

    async def _seq(
        self, children: list[Json], node: Json, value: Any, path: str
    ) -> tuple[Json, list[Json]]:
        results: list[Json] = []
        for i, child in enumerate(children):
            outcome, _ = await self._node(child, value, True, f"{path}.{i}")
            results.append(outcome)
            if outcome["ok"]:
                value = outcome.get("value")
            else:
                value = None
                if not child.get("optional") and node.get("halt", True):
                    break
        return self._combine(results, children, value), results

    async def _par(
        self, children: list[Json], node: Json, path: str
    ) -> tuple[Json, list[Json]]:
        halt = node.get("halt", True)
        deadline = node.get("deadline")
        limit = node.get("max_parallel")
        gate = asyncio.Semaphore(int(limit)) if limit else None

        async def one(i: int, child: Json) -> Json:
            if gate is None:
                outcome, _ = await self._node(child, None, False, f"{path}.{i}")
                return outcome
            async with gate:
                outcome, _ = await self._node(child, None, False, f"{path}.{i}")
                return outcome

        tasks = [asyncio.ensure_future(one(i, c)) for i, c in enumerate(children)]
        done: dict[int, Json] = {}
        cause: str | None = None
        pending = set(tasks)
        end = None if deadline is None else workflow.time() + float(deadline)
        while pending:
            timeout = None if end is None else max(0.0, end - workflow.time())
            finished, pending = await asyncio.wait(
                pending, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if not finished:
                break  # the deadline passed
            for task in finished:
                i = tasks.index(task)
                done[i] = task.result()
                if halt and not done[i]["ok"] and not children[i].get("optional") and cause is None:
                    cause = done[i].get("process_name", "?")
            if cause is not None:
                break
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        results: list[Json] = []
        for i, child in enumerate(children):
            if i in done:
                results.append(done[i])
                continue
            name = _child_name(child)
            if cause is not None:
                msg = f"process {name!r} was cancelled by HALT after {cause!r} failed"
                reason = "halt"
            else:
                msg = f"process {name!r} was cancelled by the deadline of {float(deadline or 0.0)}s"
                reason = "deadline"
            results.append(
                _failed_outcome(name, "ProcessCancelledError", msg, cancelled=True,
                                cancel_reason=reason)
            )
        return self._combine(results, children, [r.get("value") for r in results]), results

    @staticmethod
    def _combine(results: list[Json], children: list[Json], value: Any) -> Json:
        for outcome, child in zip(results, children):
            if not outcome["ok"] and not child.get("optional"):
                return outcome
        return {"ok": True, "value": value, "process_name": "composition"}


def _child_name(child: Json) -> str:
    if child["kind"] == "leaf":
        return str(child["call"]["name"])
    return str(child.get("name", child["kind"].upper()))
