"""A private asyncio event loop in a background thread, for the Temporal client.

The Temporal SDK is asyncio-only; stbass programs may run on trio. Each
:class:`LoopThread` owns one asyncio loop running in a daemon thread, started on
first use and stopped by :meth:`LoopThread.stop`. Coroutines are submitted with
``asyncio.run_coroutine_threadsafe`` and awaited from anyio through
``anyio.to_thread.run_sync``; cancelling the anyio side cancels the submitted
coroutine and waits (shielded, bounded) until it has really finished, so nothing
started for a call outlives it.
"""

from __future__ import annotations

import asyncio  # the one place stbass drives asyncio itself: the Temporal SDK needs it
import concurrent.futures
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from opentelemetry import context as otel_context
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

T = TypeVar("T")

_log = logging.getLogger("stbass.temporal")

#: how long a cancelled call waits for its remote coroutine to wind down
_CANCEL_GRACE = 10.0


class LoopThread:
    """One asyncio loop in one daemon thread (started lazily, stopped cleanly)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    finally:
                        pending = asyncio.all_tasks(loop)
                        for task in pending:
                            task.cancel()
                        if pending:
                            loop.run_until_complete(
                                asyncio.gather(*pending, return_exceptions=True)
                            )
                        loop.run_until_complete(loop.shutdown_asyncgens())
                        loop.close()

                thread = threading.Thread(target=main, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule *coro* on the loop thread (from any thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self._ensure())

    def run_blocking(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run *coro* on the loop thread and block this (non-loop) thread for it."""
        return self.submit(coro).result(timeout)

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run *coro* on the loop thread and await its result from anyio.

        Cancellation of the caller cancels *coro* (an ``asyncio.CancelledError``
        inside it) and returns once it has finished.
        """
        done = threading.Event()
        # The caller's trace context (its current span) goes along to the loop
        # thread, so what the client starts there joins the caller's trace.
        caller = otel_context.get_current()

        async def tracked() -> T:
            token = otel_context.attach(caller)
            try:
                return await coro
            finally:
                otel_context.detach(token)
                done.set()

        await anyio.lowlevel.checkpoint()
        # Waiting parks one worker thread: each call gets its own, so calls neither
        # starve nor are starved by anyio's default pool of 40 threads.
        limiter = anyio.CapacityLimiter(1)
        future = self.submit(tracked())
        try:
            return await anyio.to_thread.run_sync(
                future.result, abandon_on_cancel=True, limiter=limiter
            )
        except concurrent.futures.CancelledError:
            raise RuntimeError("the Temporal client loop was stopped during the call") from None
        except BaseException:
            if not future.done():
                future.cancel()
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(
                        done.wait, _CANCEL_GRACE, limiter=anyio.CapacityLimiter(1)
                    )
            raise

    def stop(self) -> None:
        """Stop the loop (cancelling what still runs on it) and join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join()


async def cancelling_remote(
    body: Awaitable[T], on_cancel: Callable[[], Awaitable[Any]], grace: float = 5.0
) -> T:
    """Await *body* on the loop thread; if it is cancelled (the stbass side was),
    run *on_cancel* (shielded, bounded by *grace*, errors ignored) before the
    cancellation goes on."""
    try:
        return await body
    except asyncio.CancelledError:
        try:
            await asyncio.wait_for(asyncio.shield(on_cancel()), grace)
        except Exception:
            pass
        raise


class TemporalUnavailableError(RuntimeError):
    """The Temporal server could not be reached for longer than the caller waits.

    Raised (as the error of a failed result) after a call waited out a server
    outage for its whole budget (``TemporalBackend(outage_timeout=...)``, or the
    caller's deadline). The workflow was not cancelled and **may still be
    running**: ``workflow_id`` names it, and running the same call again
    reattaches to it instead of starting the work over.

    >>> err = TemporalUnavailableError("lost the server", workflow_id="stbass-durable/ab12")
    >>> err.workflow_id
    'stbass-durable/ab12'
    """

    def __init__(self, message: str, *, workflow_id: str) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


_FATAL_STATUSES = frozenset(
    {
        RPCStatusCode.INVALID_ARGUMENT,
        RPCStatusCode.NOT_FOUND,
        RPCStatusCode.ALREADY_EXISTS,
        RPCStatusCode.PERMISSION_DENIED,
        RPCStatusCode.FAILED_PRECONDITION,
        RPCStatusCode.UNIMPLEMENTED,
        RPCStatusCode.UNAUTHENTICATED,
    }
)


def is_outage(exc: BaseException) -> bool:
    """Does *exc* say that the server could not be reached (rather than refused)?"""
    return isinstance(exc, RPCError) and exc.status not in _FATAL_STATUSES


_PROBE_TIMEOUT = timedelta(seconds=2)


async def _server_answers(client: Client) -> bool:
    try:
        await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), retry=False, timeout=_PROBE_TIMEOUT
        )
    except RPCError as exc:
        return not is_outage(exc)
    return True


async def wait_through_outage(
    client: Client,
    attempt: Callable[[], Awaitable[T]],
    *,
    wf_id: str,
    target: str,
    budget: float,
    reattach: str,
) -> T:
    """Run *attempt* (start or attach to workflow *wf_id* and wait for it); when
    the server cannot be reached, probe it with backoff and attempt again once it
    answers. An outage longer than *budget* seconds raises
    :class:`TemporalUnavailableError` naming the workflow (which keeps running)."""
    while True:
        try:
            return await attempt()
        except RPCError as exc:
            if not is_outage(exc):
                raise
            lost = time.monotonic()
            reason = f"{type(exc).__name__}: {exc}"
        _log.warning(
            "lost the Temporal server at %s while waiting for workflow %r (%s); "
            "waiting up to %.0f s for it to come back",
            target, wf_id, reason, budget,
        )
        delay = 0.1
        while not await _server_answers(client):
            waited = time.monotonic() - lost
            if waited >= budget:
                raise TemporalUnavailableError(
                    f"the Temporal server at {target} could not be reached for {waited:.0f} s "
                    f"({reason}); workflow {wf_id!r} was not cancelled and may still be "
                    f"running: {reattach}",
                    workflow_id=wf_id,
                ) from None
            await asyncio.sleep(min(delay, max(0.0, budget - waited)))
            delay = min(delay * 2, 2.0)
        _log.warning(
            "the Temporal server at %s answers again after %.1f s: reattaching to workflow %r",
            target, time.monotonic() - lost, wf_id,
        )
