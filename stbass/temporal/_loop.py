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
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")

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

        async def tracked() -> T:
            try:
                return await coro
            finally:
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
