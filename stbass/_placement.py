"""Placement: where a process runs (a model, an endpoint) and the backends that run it."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, final

import anyio

if TYPE_CHECKING:
    from ._process import Process, ProcessContext
    from ._result import ProcessResult


@final
class Placement:
    """Where a process should run: a model name, an endpoint, and free-form config.

    >>> Placement(model="gpt-4o", endpoint="openai:eu").summary
    'model=gpt-4o endpoint=openai:eu'
    """

    __slots__ = ("model", "endpoint", "config")

    def __init__(
        self,
        model: str | None = None,
        endpoint: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        for label, value in (("model", model), ("endpoint", endpoint)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"Placement: {label} must be a str, got {type(value).__name__}")
        if config is not None and not isinstance(config, Mapping):
            raise TypeError(f"Placement: config must be a mapping, got {type(config).__name__}")
        self.model = model
        self.endpoint = endpoint
        self.config: dict[str, Any] = dict(config) if config else {}

    @property
    def summary(self) -> str:
        parts = []
        if self.model is not None:
            parts.append(f"model={self.model}")
        if self.endpoint is not None:
            parts.append(f"endpoint={self.endpoint}")
        if self.config:
            parts.append("config=" + ",".join(f"{k}={v!r}" for k, v in self.config.items()))
        return " ".join(parts) or "local"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Placement):
            return NotImplemented
        return (self.model, self.endpoint, self.config) == (other.model, other.endpoint, other.config)

    def __hash__(self) -> int:
        return hash((self.model, self.endpoint))

    def __repr__(self) -> str:
        args = []
        if self.model is not None:
            args.append(f"model={self.model!r}")
        if self.endpoint is not None:
            args.append(f"endpoint={self.endpoint!r}")
        if self.config:
            args.append(f"config={self.config!r}")
        return f"Placement({', '.join(args)})"


class ExecutionBackend(abc.ABC):
    """Runs placed processes somewhere: in this process, on a server, on a cluster.

    Subclasses implement :meth:`execute` and :meth:`health_check`; a
    ``concurrency_limit`` (``None``: unlimited) is enforced by PLACED_PAR with one
    capacity limiter per backend, shared by every PLACED_PAR that uses it.
    """

    #: how many processes this backend may run at once (``None``: no limit)
    concurrency_limit: int | None = None

    @property
    def name(self) -> str:
        return type(self).__name__

    @abc.abstractmethod
    async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        """Run *process* in *ctx* and return its result (never raise for a failure
        of the process itself)."""

    @abc.abstractmethod
    async def health_check(self) -> bool:
        """Can this backend run processes now?"""

    def _limiter(self) -> anyio.CapacityLimiter | None:
        # One limiter per backend and event loop, made lazily: a backend can be
        # created at import time and used by whichever backend later runs.
        if self.concurrency_limit is None:
            return None
        try:
            token = anyio.lowlevel.current_token()
        except RuntimeError:  # pragma: no cover - only called inside a run
            return None
        cache: dict[Any, anyio.CapacityLimiter] = self.__dict__.setdefault("_stbass_limiters", {})
        limiter = cache.get(token)
        if limiter is None:
            cache.clear()
            limiter = cache[token] = anyio.CapacityLimiter(self.concurrency_limit)
        return limiter

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LocalBackend(ExecutionBackend):
    """Runs processes in this event loop (the default backend)."""

    def __init__(self, *, concurrency_limit: int | None = None, name: str = "local") -> None:
        if concurrency_limit is not None and (
            isinstance(concurrency_limit, bool)
            or not isinstance(concurrency_limit, int)
            or concurrency_limit < 1
        ):
            raise ValueError(
                f"LocalBackend: concurrency_limit must be a positive int or None, "
                f"got {concurrency_limit!r}"
            )
        self.concurrency_limit = concurrency_limit
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        return await process.execute(ctx)

    async def health_check(self) -> bool:
        await anyio.lowlevel.checkpoint()
        return True

    def __repr__(self) -> str:
        return f"LocalBackend(name={self._name!r})"


@final
class BackendRegistry:
    """Finds the backend for a placement.

    ``get`` tries the exact endpoint, then the endpoint's prefix before ``:``
    (``local:8080`` finds ``local``), then the model name, then the default.
    """

    def __init__(self, default: ExecutionBackend | None = None) -> None:
        if default is not None and not isinstance(default, ExecutionBackend):
            raise TypeError(
                f"BackendRegistry: default must be an ExecutionBackend, got {type(default).__name__}"
            )
        self._backends: dict[str, ExecutionBackend] = {}
        self.default: ExecutionBackend = default if default is not None else LocalBackend()

    def register(self, key: str, backend: ExecutionBackend) -> None:
        """Route placements whose endpoint, endpoint prefix or model is *key* to *backend*."""
        if not isinstance(key, str) or not key:
            raise TypeError(f"BackendRegistry.register: key must be a non-empty str, got {key!r}")
        if not isinstance(backend, ExecutionBackend):
            raise TypeError(
                f"BackendRegistry.register({key!r}): backend must be an ExecutionBackend, "
                f"got {type(backend).__name__}"
            )
        self._backends[key] = backend

    def get(self, placement: Placement | None) -> ExecutionBackend:
        if placement is None:
            return self.default
        endpoint = placement.endpoint
        if endpoint is not None:
            if endpoint in self._backends:
                return self._backends[endpoint]
            prefix = endpoint.split(":", 1)[0]
            if prefix in self._backends:
                return self._backends[prefix]
        if placement.model is not None and placement.model in self._backends:
            return self._backends[placement.model]
        return self.default

    def __contains__(self, key: object) -> bool:
        return key in self._backends

    def __repr__(self) -> str:
        return f"BackendRegistry({sorted(self._backends)!r})"
