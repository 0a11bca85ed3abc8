"""Placement: where a process runs (a model, an endpoint) and the backends that run it.

:class:`Placement` describes the where; an :class:`ExecutionBackend` does the
running; a :class:`BackendRegistry` maps placements to backends; and
:class:`PLACED_PAR` runs processes in parallel, each on the backend its
placement selects, within each backend's ``concurrency_limit``.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, final

import anyio

from .. import _names as N
from ._seqpar import Composition, PARResult, check_deadline, run_par
from ._process import Process, ProcessContext
from ._placement_value import Placement as Placement
from ._result import FailurePolicy, ProcessResult, check_policy


class ExecutionBackend(abc.ABC):
    """Runs placed processes somewhere: in this process, on a server, on a cluster.

    Subclasses implement :meth:`execute` and :meth:`health_check`; a
    ``concurrency_limit`` (``None``: unlimited) is enforced by PLACED_PAR with one
    capacity limiter per backend, shared by every PLACED_PAR that uses it.

    >>> class Inline(ExecutionBackend):
    ...     concurrency_limit = 4
    ...     async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
    ...         return await process.execute(ctx)
    ...     async def health_check(self) -> bool:
    ...         return True
    >>> registry = BackendRegistry()
    >>> registry.register("inline", Inline())
    """

    #: how many processes this backend may run at once (``None``: no limit)
    concurrency_limit: int | None = None

    @property
    def name(self) -> str:
        """The backend's name in spans and errors; the class name unless a
        subclass overrides it.

        >>> class Inline(ExecutionBackend):
        ...     async def execute(self, process: Process, ctx: ProcessContext) -> ProcessResult[Any]:
        ...         return await process.execute(ctx)
        ...     async def health_check(self) -> bool:
        ...         return True
        >>> Inline().name
        'Inline'
        """
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
    """Runs processes in this event loop (the default backend).

    >>> import anyio
    >>> @Process
    ... async def work(ctx: ProcessContext) -> int:
    ...     return 1
    >>> backend = LocalBackend(name="cpu", concurrency_limit=4)
    >>> anyio.run(backend.execute, work, ProcessContext("work"))
    ProcessResult.ok(1)
    """

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
        """The name given to the constructor (``"local"`` by default).

        >>> LocalBackend(name="cpu").name
        'cpu'
        """
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

    >>> registry = BackendRegistry()
    >>> registry.register("gpu", LocalBackend(name="gpu", concurrency_limit=2))
    >>> registry.get(Placement(endpoint="gpu:0")).name
    'gpu'
    >>> registry.get(Placement(model="llama")).name   # no match: the default
    'local'
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
        """The backend for *placement*: by exact endpoint, endpoint prefix (before
        ``:``), then model; the default when nothing matches or *placement* is ``None``.

        >>> registry = BackendRegistry()
        >>> registry.register("llama", LocalBackend(name="llama-box"))
        >>> registry.get(Placement(model="llama"))
        LocalBackend(name='llama-box')
        >>> registry.get(None)
        LocalBackend(name='local')
        """
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


class BackendUnavailableError(RuntimeError):
    """A backend failed its health check (returned false or raised), so the
    process placed on it was not run. ``placement`` and ``backend`` say where.

    It is the error of that process's :class:`~stbass.Failure`:

    >>> import anyio
    >>> class Down(LocalBackend):
    ...     async def health_check(self) -> bool:
    ...         return False
    >>> registry = BackendRegistry()
    >>> registry.register("gpu", Down(name="gpu"))
    >>> @Process
    ... async def work(ctx: ProcessContext) -> int:
    ...     return 1
    >>> placed = PLACED_PAR((work, Placement(endpoint="gpu:0")), registry=registry)
    >>> error = anyio.run(placed.run).failures[0].error
    >>> error.backend, error.placement
    ('gpu', Placement(endpoint='gpu:0'))
    """

    def __init__(self, message: str, *, placement: Placement | None, backend: str) -> None:
        super().__init__(message)
        self.placement = placement
        self.backend = backend


def _check_pair(index: int, pair: object) -> tuple[Process, Placement | None]:
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise TypeError(
            f"PLACED_PAR: argument {index} must be a (process, placement) pair, "
            f"got {type(pair).__name__} {pair!r}"
        )
    process, placement = pair
    if not isinstance(process, Process):
        hint = " (decorate the async function with @Process)" if callable(process) else ""
        raise TypeError(
            f"PLACED_PAR: argument {index}: the process must be a Process, "
            f"got {type(process).__name__} {process!r}{hint}"
        )
    if placement is not None and not isinstance(placement, Placement):
        raise TypeError(
            f"PLACED_PAR: argument {index} ({process.name!r}): the placement must be a "
            f"Placement or None, got {type(placement).__name__} {placement!r}"
        )
    return process, placement


async def _healthy(backend: ExecutionBackend) -> tuple[bool, str]:
    try:
        ok = await backend.health_check()
    except Exception as exc:
        return False, f"its health check raised {type(exc).__name__}: {exc}"
    return bool(ok), "its health check returned false"


class _HealthChecks:
    """Each backend's health is checked once per PLACED_PAR run, however many
    of its processes are placed on it."""

    def __init__(self) -> None:
        self._known: dict[int, tuple[bool, str]] = {}
        self._locks: dict[int, anyio.Lock] = {}

    async def check(self, backend: ExecutionBackend) -> tuple[bool, str]:
        key = id(backend)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = anyio.Lock()
        async with lock:
            known = self._known.get(key)
            if known is None:
                known = self._known[key] = await _healthy(backend)
        return known



class PLACED_PAR(Composition):
    """Run processes in parallel, each on the backend its placement selects.

    Arguments are ``(process, placement)`` pairs (``None`` keeps the process's
    own placement). At run time each placement is looked up in *registry*
    (default: a registry whose default is a :class:`LocalBackend`); the process
    runs through ``backend.execute(process, ctx)`` with ``ctx.placement`` set,
    inside that backend's capacity limiter when it has a ``concurrency_limit``
    (one limiter per backend, shared by every PLACED_PAR that uses it). Each
    backend's health is checked once per run; a process placed on an unhealthy
    backend fails with :class:`BackendUnavailableError`, and every failure records
    its placement in ``Failure.placement``. ``on_failure`` and ``deadline`` behave
    as in :class:`~stbass.PAR`; ``run()`` returns a :class:`~stbass.PARResult`.

    >>> registry = BackendRegistry()
    >>> registry.register("gpu", LocalBackend(name="gpu", concurrency_limit=2))
    >>> placed = PLACED_PAR(
    ...     (summarise, Placement(model="llama", endpoint="gpu:0")),
    ...     (lookup, Placement(endpoint="local")),
    ...     registry=registry,
    ... )                                                     # doctest: +SKIP
    >>> result = await placed.run()                           # doctest: +SKIP
    """

    span_name = "PLACED_PAR"

    def __init__(
        self,
        *pairs: tuple[Process, Placement | None],
        on_failure: FailurePolicy = FailurePolicy.HALT,
        deadline: float | None = None,
        registry: BackendRegistry | None = None,
    ) -> None:
        super().__init__(name=self.span_name)
        checked = [_check_pair(i, pair) for i, pair in enumerate(pairs)]
        self.pairs: list[tuple[Process, Placement | None]] = checked
        self.on_failure = check_policy(on_failure, self.span_name)
        self.deadline = check_deadline(self.span_name, deadline)
        if registry is not None and not isinstance(registry, BackendRegistry):
            raise TypeError(
                f"PLACED_PAR: registry must be a BackendRegistry, got {type(registry).__name__}"
            )
        self.registry = registry if registry is not None else BackendRegistry()
        self.result: PARResult | None = None

    @property
    def procs(self) -> list[Process]:
        """The processes, each carrying the placement it runs with."""
        return [
            p if placement is None else p.with_placement(placement) for p, placement in self.pairs
        ]

    def __repr__(self) -> str:
        args = [f"({p!r}, {pl!r})" for p, pl in self.pairs]
        if self.on_failure is not FailurePolicy.HALT:
            args.append(f"on_failure={self.on_failure!r}")
        if self.deadline is not None:
            args.append(f"deadline={self.deadline!r}")
        return f"PLACED_PAR({', '.join(args)})" + (".optional()" if self.is_optional else "")

    async def run(self, ctx: ProcessContext | None = None) -> PARResult:
        """Run every placed process; returns a :class:`~stbass.PARResult`."""
        return await self._run_in(ctx, None)

    async def _run_in(self, ctx: ProcessContext | None, input_value: Any) -> PARResult:
        procs = self.procs
        backends = [self.registry.get(p.placement) for p in procs]
        health = _HealthChecks()

        async def runner(index: int, process: Process, child: ProcessContext) -> ProcessResult[Any]:
            backend = backends[index]
            healthy, why = await health.check(backend)
            if not healthy:
                placement = child.placement
                where = placement.summary if placement is not None else "local"
                error = BackendUnavailableError(
                    f"process {process.name!r} not run: backend {backend.name!r} "
                    f"({where}) is unavailable: {why}",
                    placement=placement,
                    backend=backend.name,
                )
                # Executed in the process's place so that the refusal has the
                # process's span and a failure filled in like any other.
                return await _Refused(process, error).execute(child)
            limiter = backend._limiter()
            if limiter is None:
                return await _execute_on(backend, process, child)
            async with limiter:
                await anyio.lowlevel.checkpoint_if_cancelled()
                return await _execute_on(backend, process, child)

        attrs: dict[str, Any] = {
            N.PLACEMENT_BACKEND: [b.name for b in backends],
            N.PLACEMENT_ENDPOINT: [
                (p.placement.endpoint or "") if p.placement is not None else "" for p in procs
            ],
            N.PLACEMENT_MODEL: [
                (p.placement.model or "") if p.placement is not None else "" for p in procs
            ],
        }
        return await run_par(
            self.span_name, procs, self.on_failure, self.deadline, ctx, attrs, runner
        )


class _Refused(Process):
    """Stands in for a process its backend refused: same name and placement,
    and a body that raises the refusal."""

    def __init__(self, process: Process, error: BackendUnavailableError) -> None:
        super().__init__(name=process.name, placement=process.placement)
        self.is_optional = process.is_optional
        self._error = error

    async def run(self, ctx: ProcessContext) -> Any:
        raise self._error


async def _execute_on(
    backend: ExecutionBackend, process: Process, ctx: ProcessContext
) -> ProcessResult[Any]:
    """``backend.execute`` made safe: a raising backend or a failure without a
    placement still gives a failed result that carries the placement."""
    try:
        result = await backend.execute(process, ctx)
    except Exception as exc:
        return ProcessResult.fail(
            exc,
            process_name=process.name,
            process_id=ctx.process_id,
            parent_process=ctx.parent,
            placement=ctx.placement,
        )
    if not isinstance(result, ProcessResult):
        return ProcessResult.ok(result)
    if result.is_fail and result.failure.placement is None and ctx.placement is not None:
        return ProcessResult.fail(dataclasses.replace(result.failure, placement=ctx.placement))
    return result
