"""Schedule exploration: run a program many times, letting hypothesis make every
nondeterministic decision stbass makes, and report a minimal failing schedule.

The decisions: ALT's choice among ready guards (and among timers expired at
the same time), which of several ready counterparts on a channel commits first,
and the start order of a PAR's children; on trio, also the seed of trio's
scheduler, which runs each batch of ready tasks forwards or backwards. Each is
a number ``0 <= d < n``; 0 is what stbass does when not exploring for a
counterpart (the oldest) and a start order (declaration order), so hypothesis
shrinks a failing schedule towards the ordinary one and what is left are the
few decisions that matter.

Hypothesis draws three values per schedule, however many decisions the program
makes: a prefix of bytes for the first decisions (one byte each, two where
there are more than 256 choices, as for the trio seed), whether the decisions
past the prefix are random, and their seed.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from .._core import _alt_random
from .._core._alt_random import ALT_RANDOM

BACKENDS = ("asyncio", "trio")


class ScheduleFailure(AssertionError):
    """A run of :func:`explore` failed: ``backend``, ``decisions`` (replay them
    with ``explore(program, replay=decisions, backends=(backend,))``) and
    ``error``, the exception the program raised.

    >>> try:                                                   # doctest: +SKIP
    ...     explore(program)
    ... except ScheduleFailure as failure:
    ...     explore(program, replay=failure.decisions, backends=(failure.backend,))
    """

    def __init__(
        self, message: str, *, backend: str, decisions: list[int], error: BaseException
    ) -> None:
        super().__init__(message)
        self.backend = backend
        self.decisions = decisions
        self.error = error


class _Decisions:
    """Where the decisions of one run come from (hypothesis, or a replay), and
    the record of the ones made."""

    __slots__ = ("draw", "made")

    def __init__(self, draw: Callable[[int], int]) -> None:
        self.draw = draw
        self.made: list[int] = []

    def __call__(self, n: int) -> int:
        d = self.draw(n) if n > 1 else 0
        self.made.append(d)
        return d

    def randrange(self, n: int) -> int:  # ALT's choice among ready guards
        return self(n)


@contextlib.contextmanager
def _exploring(decisions: _Decisions) -> Iterator[None]:
    if _alt_random.EXPLORER is not None:
        raise RuntimeError("explore: already exploring (explore cannot nest)")
    _alt_random.EXPLORER = decisions
    ALT_RANDOM.randrange = decisions.randrange  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        _alt_random.EXPLORER = None
        del ALT_RANDOM.randrange


class _Loops:
    """One event loop per backend, each in a thread of its own, kept for a whole
    :func:`explore` call: a schedule is one task in it, not a fresh ``anyio.run``
    (starting and closing an event loop costs more than many a program). The
    program task starts with the caller's context variables, as under
    ``anyio.run``."""

    def __init__(self, stack: contextlib.ExitStack, backends: Sequence[str]) -> None:
        self._context = [
            (var, value)
            for var, value in contextvars.copy_context().items()
            if var.name != "current_async_library_cvar"  # sniffio's: the loop's own
        ]
        self.portals = [
            (backend, stack.enter_context(start_blocking_portal(backend)))
            for backend in backends
        ]

    def run(
        self,
        portal: BlockingPortal,
        backend: str,
        program: Callable[[], Awaitable[Any]],
        decisions: _Decisions,
        timeout: float,
    ) -> BaseException | None:
        """One run; the exception it ended with (``None``: it passed)."""
        error: BaseException | None = portal.call(
            self._one, backend, program, decisions, timeout
        )
        return error

    async def _one(
        self,
        backend: str,
        program: Callable[[], Awaitable[Any]],
        decisions: _Decisions,
        timeout: float,
    ) -> BaseException | None:
        for var, value in self._context:
            var.set(value)
        if backend == "trio":
            _seed_trio(decisions(_TRIO_SEEDS))
        with _exploring(decisions):
            try:
                with anyio.fail_after(timeout):
                    await program()
            except Exception as exc:
                return exc
        return None


#: how many seeds the first decision of a trio run chooses among
_TRIO_SEEDS = 2**16


def _seed_trio(seed: int) -> None:
    """trio runs each batch of ready tasks forwards or backwards at random (its
    scheduler's own generator): seeding that generator makes the batch order one
    more decision, so a trio schedule replays. Isolated here, and skipped if a
    trio version has no such generator."""
    import sys

    core = sys.modules.get("trio._core._run")
    generator = getattr(core, "_r", None)
    if generator is not None and hasattr(generator, "seed"):
        generator.seed(seed)


def _describe(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "it hung (no progress before the timeout)"
    return f"it raised {type(error).__name__}: {error}"


def explore(
    program: Callable[[], Awaitable[Any]],
    *,
    max_examples: int = 200,
    backends: Sequence[str] = BACKENDS,
    replay: Sequence[int] | None = None,
    timeout: float = 10.0,
) -> None:
    """Run ``await program()`` under many schedules; raise :class:`ScheduleFailure`
    for the first one that fails, shrunk to a minimal decision sequence.

    A run fails when the program raises (a failed ``assert``, a
    :class:`~stbass.DeadlockError`, anything) or does not finish within
    *timeout* seconds. Each of *max_examples* schedules runs on every one of
    *backends*. ``replay=decisions`` runs exactly that schedule once per backend
    (decisions past its end are 0) — what the failure message tells you to do.
    A plain function for a plain test; not reentrant.

    Each backend's event loop runs in a thread of its own for the whole call,
    and every run (a replay too) is one task in it, started with the caller's
    context variables: starting an event loop per run would cost more than
    many a program. The program must leave no task behind (stbass's
    compositions never do).

    >>> def test_my_program_under_every_schedule():           # doctest: +SKIP
    ...     explore(my_program, max_examples=500)
    """
    for backend in backends:
        if backend not in BACKENDS:
            raise ValueError(f"explore: unknown backend {backend!r}; use 'asyncio' or 'trio'")
    if not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"explore: max_examples must be a positive int, got {max_examples!r}")
    if _alt_random.EXPLORER is not None:
        raise RuntimeError("explore: already exploring (explore cannot nest)")
    with contextlib.ExitStack() as stack:
        loops = _Loops(stack, backends)
        if replay is None:
            _search(program, loops, max_examples, timeout)
            return
        script = list(replay)
        for backend, portal in loops.portals:
            position = iter(script)
            decisions = _Decisions(lambda n: min(next(position, 0), n - 1))
            error = loops.run(portal, backend, program, decisions, timeout)
            if error is not None:
                raise _failure(program, backend, decisions.made, error, replayed=True)


def _search(
    program: Callable[[], Awaitable[Any]], loops: _Loops, max_examples: int, timeout: float
) -> None:
    """Let hypothesis choose *max_examples* schedules (each run on every backend)
    and shrink the first failing one."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    last: list[ScheduleFailure] = []

    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
    )
    @given(st.binary(max_size=_PREFIX), st.booleans(), st.integers(0, 2**32 - 1))
    def schedules(prefix: bytes, noise: bool, seed: int) -> None:
        for backend, portal in loops.portals:
            decisions = _Decisions(_source(prefix, noise, seed))
            error = loops.run(portal, backend, program, decisions, timeout)
            if error is not None:
                failure = _failure(program, backend, decisions.made, error)
                last[:] = [failure]
                raise failure

    try:
        schedules()
    except Exception:
        if last:
            raise last[0] from last[0].error
        raise


#: how many leading bytes of decisions hypothesis draws (and shrinks)
_PREFIX = 64


def _source(prefix: bytes, noise: bool, seed: int) -> Callable[[int], int]:
    """Decision *i* among *n*: the next bytes of *prefix* (one byte while
    ``n <= 256``, two up to 65,536, ...) modulo *n*; past the prefix, random
    from *seed* if *noise*, else 0 (what stbass does when not exploring). One
    draw of three values per schedule, whatever the program does, so hypothesis
    can shrink it: towards a short prefix of small bytes and no noise."""
    at = 0
    end = len(prefix)
    rng = random.Random(seed)

    def decide(n: int) -> int:
        nonlocal at
        if at < end:
            d = prefix[at]
            at += 1
            span = 256
            while span < n and at < end:
                d = d * 256 + prefix[at]
                at += 1
                span *= 256
            return d % n
        return rng.randrange(n) if noise else 0

    return decide


def _trimmed(made: list[int]) -> list[int]:
    """The decisions without trailing zeros (a replay pads with zeros)."""
    end = len(made)
    while end and made[end - 1] == 0:
        end -= 1
    return made[:end]


def _failure(
    program: Callable[[], Awaitable[Any]],
    backend: str,
    made: list[int],
    error: BaseException,
    replayed: bool = False,
) -> ScheduleFailure:
    name = getattr(program, "__name__", repr(program))
    how = "replaying" if replayed else "exploring"
    decisions = _trimmed(made)
    nonzero = sum(1 for d in decisions if d)
    return ScheduleFailure(
        f"{how} {name} on {backend}: {_describe(error)}\n"
        f"  schedule: {nonzero} decision{'s' if nonzero != 1 else ''} off the ordinary "
        f"schedule, {len(decisions)} in all\n"
        f"  replay: explore({name}, replay={decisions!r}, backends=({backend!r},))",
        backend=backend,
        decisions=decisions,
        error=error,
    )
