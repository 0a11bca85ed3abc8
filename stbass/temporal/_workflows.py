"""The Temporal workflows every stbass worker registers.

``stbass.Run`` runs one process as one activity (what
:meth:`TemporalBackend.execute` starts). ``stbass.Durable`` interprets a
composition tree (SEQ, PAR, PAR_FOR, SEQ_FOR, DAG) whose leaves are activities: the
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
        if kind == "dag":
            return await self._dag(node, value, path)
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

    async def _dag(self, node: Json, value: Any, path: str) -> tuple[Json, list[Json]]:
        """Run a DAG's tasks, each as soon as the tasks it depends on succeeded.

        Returns the DAG's outcome (its value: the task values by name) and one
        report per task, in declaration order: ``{"task", "status", "outcome"}``
        with status ``ok``, ``resumed`` (taken from an earlier, failed run),
        ``failed`` or ``skipped``.
        """
        tasks: list[Json] = list(node["tasks"])
        names = [str(t["name"]) for t in tasks]
        index = {name: i for i, name in enumerate(names)}
        halt = node.get("halt", True)
        limit = node.get("max_parallel")
        gate = asyncio.Semaphore(int(limit)) if limit else None
        values: dict[str, Any] = {}
        outcomes: dict[int, Json] = {}
        resumed: set[int] = set()
        for i in range(len(tasks)):
            before = self._before.get(f"{path}.{i}")
            if before is not None and before.get("ok"):
                self._done[f"{path}.{i}"] = before
                outcomes[i] = dict(before)
                values[names[i]] = before.get("value")
                resumed.add(i)
        waiting = {
            i: sum(1 for d in t["after"] if d not in values)
            for i, t in enumerate(tasks)
            if i not in resumed
        }
        dependents: dict[int, list[int]] = {i: [] for i in range(len(tasks))}
        for i, t in enumerate(tasks):
            for d in t["after"]:
                dependents[index[d]].append(i)
        started: set[int] = set()
        running: dict[asyncio.Future[Json], int] = {}
        failed: list[int] = []  # in failure order: the HALT cause first
        halted = False

        def start(i: int) -> None:
            after = tasks[i]["after"]
            given = {d: values[d] for d in after} if after else value
            task = asyncio.ensure_future(self._dag_task(tasks[i], given, f"{path}.{i}", gate, i, started))
            running[task] = i

        for i in range(len(tasks)):
            if i not in resumed and waiting[i] == 0:
                start(i)
        while running and not halted:
            finished, _ = await asyncio.wait(list(running), return_when=asyncio.FIRST_COMPLETED)
            # in task order, not set order: a replay must take the same decisions
            for task in sorted(finished, key=lambda f: running[f]):
                i = running.pop(task)
                outcome = task.result()
                outcomes[i] = outcome
                if outcome.get("ok"):
                    values[names[i]] = outcome.get("value")
                    self._done[f"{path}.{i}"] = outcome
                    for j in dependents[i]:
                        if j in resumed:  # pragma: no cover - it needed i, so i is resumed too
                            continue
                        waiting[j] -= 1
                        if waiting[j] == 0 and not halted:
                            start(j)
                else:
                    failed.append(i)
                    if halt:
                        halted = True
        if running:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            cause = names[failed[0]]
            for task, i in sorted(running.items(), key=lambda item: item[1]):
                if i in started:  # a task still waiting for a slot is skipped
                    outcomes[i] = _failed_outcome(
                        names[i],
                        "ProcessCancelledError",
                        f"task {names[i]!r} was cancelled by HALT after {cause!r} failed",
                        cancelled=True,
                        cancel_reason="halt",
                    )
                    failed.append(i)
        report: list[Json] = []
        for i, name in enumerate(names):
            if i in resumed:
                status = "resumed"
            elif i not in outcomes:
                status = "skipped"
            else:
                status = "ok" if outcomes[i].get("ok") else "failed"
            entry: Json = {"task": name, "status": status, "outcome": outcomes.get(i)}
            if status == "failed":
                entry["rank"] = failed.index(i)  # failure order: the HALT cause first
            report.append(entry)
        if failed:
            return dict(outcomes[failed[0]]), report
        if len(values) < len(tasks):  # pragma: no cover - a skip needs a failure
            return _failed_outcome(str(node.get("name")), "RuntimeError", "tasks skipped"), report
        return {"ok": True, "value": {n: values[n] for n in names}, "process_name": node.get("name")}, report

    async def _dag_task(
        self,
        task: Json,
        value: Any,
        path: str,
        gate: asyncio.Semaphore | None,
        i: int,
        started: set[int],
    ) -> Json:
        if gate is None:
            started.add(i)
            return await self._attempts(task, value, path)
        async with gate:
            started.add(i)
            return await self._attempts(task, value, path)

    async def _attempts(self, task: Json, value: Any, path: str) -> Json:
        """Run a DAG task, again after a failure while its retry policy allows
        (each attempt under its own path, waiting on a workflow timer between)."""
        retry: Json | None = task.get("retry")
        attempts = int(retry["max_attempts"]) if retry else 1
        outcome: Json = {}
        for attempt in range(attempts):
            step = path if attempt == 0 else f"{path}~{attempt}"
            outcome, _ = await self._node(task["node"], value, True, step)
            if outcome.get("ok") or retry is None or attempt == attempts - 1:
                break
            await asyncio.sleep(_retry_delay(retry, attempt))
        return outcome

    @staticmethod
    def _combine(results: list[Json], children: list[Json], value: Any) -> Json:
        for outcome, child in zip(results, children):
            if not outcome["ok"] and not child.get("optional"):
                return outcome
        return {"ok": True, "value": value, "process_name": "composition"}


def _retry_delay(retry: Json, attempt: int) -> float:
    """``RetryPolicy.delay_for(attempt)`` from the policy's JSON form."""
    base = float(retry["base_delay"])
    backoff = retry["backoff"]
    if backoff == "exponential":
        raw = base * 2.0**attempt if attempt < 1024 else (float("inf") if base else 0.0)
    elif backoff == "linear":
        raw = base * (attempt + 1)
    else:
        raw = base
    return float(min(raw, float(retry["max_delay"])))


def _child_name(child: Json) -> str:
    if child["kind"] == "leaf":
        return str(child["call"]["name"])
    return str(child.get("name", child["kind"].upper()))
