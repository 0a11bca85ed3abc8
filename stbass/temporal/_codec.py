"""What travels between the stbass side and a Temporal worker, as plain JSON.

Workflow and activity payloads are dicts of JSON values, validated with pydantic
models here on both ends. A remote failure comes back as an :class:`Outcome`
and is rebuilt into a :class:`~stbass.Failure` whose error is a
:class:`RemoteProcessError` subclass named like the remote exception type,
carrying the remote exception's arguments and its ``str``, so
``failure.summary`` reads exactly as it would have on the worker.

:func:`check_json` is the one gate every value passes before it travels: JSON
values go through (tuples become lists), anything else is refused with an error
naming where the value was and its type.
"""

from __future__ import annotations

import builtins
import math
import traceback as _traceback
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict

from .._compose._placement_value import Placement
from .._compose._result import Failure, ProcessResult

#: activity and workflow type names registered by every stbass worker
ACTIVITY_NAME = "stbass.run_process"
RUN_WORKFLOW = "stbass.Run"
DURABLE_WORKFLOW = "stbass.Durable"
#: ``ApplicationError.type`` of a run workflow whose process failed
PROCESS_FAILED = "StbassProcessFailed"


class NotJSONError(TypeError):
    """A value that must travel as JSON is not a JSON value (raised by :func:`check_json`)."""


def check_json(value: Any, where: str) -> Any:
    """*value* as a JSON value, or :class:`NotJSONError` naming its path and type.

    JSON values are ``dict`` (str keys), ``list``, ``str``, ``int``, finite
    ``float``, ``bool`` and ``None``; a ``tuple`` is accepted and becomes a list.
    Anything else (a ``set``, ``bytes``, a dataclass, a model, ``nan``) is
    refused rather than changed on the way.

    >>> check_json({"a": (1, 2)}, "input")
    {'a': [1, 2]}
    >>> check_json({"a": [1, {2, 3}]}, "input")
    Traceback (most recent call last):
    ...
    stbass.temporal._codec.NotJSONError: input['a'][1] is a set ({2, 3}), not a JSON value...
    """
    return _check(value, where, 0)


_SCALARS = (str, int, bool, type(None))


def _check(value: Any, path: str, depth: int) -> Any:
    if type(value) in _SCALARS:
        return value
    if type(value) is float:
        if not math.isfinite(value):
            raise _not_json(value, path, "a non-finite float")
        return value
    if depth > 200:
        raise NotJSONError(f"{path} is nested more than 200 levels deep: it cannot travel as JSON")
    if type(value) in (list, tuple):
        return [_check(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if type(value) is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _not_json(k, f"{path} key {k!r}", f"a {type(k).__name__} key")
            out[k] = _check(v, f"{path}[{k!r}]", depth + 1)
        return out
    raise _not_json(value, path, f"a {type(value).__qualname__}")


def _not_json(value: Any, path: str, what: str) -> NotJSONError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return NotJSONError(
        f"{path} is {what} ({shown}), not a JSON value: values that travel to or from a "
        f"Temporal worker must be dict (str keys), list, tuple, str, int, float, bool or "
        f"None; convert it first (e.g. sorted(a_set), a model's .model_dump())"
    )


class RemoteProcessError(Exception):
    """The error of a process that failed on a Temporal worker.

    Rebuilt on the caller's side from what the worker reported: the class is
    created on the fly with the remote type's name (and also derives from the
    built-in exception of that name, when there is one, so ``except ValueError``
    still works); ``remote_type`` is the remote ``module.QualName``,
    ``remote_traceback`` the remote traceback text.

    >>> from stbass.temporal._codec import remote_error
    >>> err = remote_error("ValueError", "builtins", "bad input", None)
    >>> isinstance(err, ValueError), type(err).__name__, str(err)
    (True, 'ValueError', 'bad input')
    """

    remote_type: str = "Exception"
    remote_traceback: str | None = None
    _remote_str: str | None = None

    def __str__(self) -> str:
        # Exactly what str() gave on the worker (KeyError quotes its key, OSError
        # adds "[Errno n]"...), whatever the rebuilt arguments would print.
        if self._remote_str is not None:
            return self._remote_str
        return super().__str__()


_ERROR_CLASSES: dict[tuple[str, str], type[RemoteProcessError]] = {}


def remote_error(
    type_name: str,
    module: str | None,
    message: str,
    traceback_text: str | None,
    args: list[Any] | None = None,
) -> RemoteProcessError:
    """An exception standing for a remote one (see :class:`RemoteProcessError`):
    built from the remote exception's *args* when they travelled, and reading
    (``str``) as the remote *message*."""
    key = (module or "", type_name)
    cls = _ERROR_CLASSES.get(key)
    if cls is None:
        bases: tuple[type, ...] = (RemoteProcessError,)
        builtin = getattr(builtins, type_name, None)
        if (
            module in (None, "builtins")
            and isinstance(builtin, type)
            and issubclass(builtin, Exception)
        ):
            bases = (RemoteProcessError, builtin)
        try:
            cls = type(type_name, bases, {"__module__": module or "remote"})
        except TypeError:  # incompatible layout (e.g. OSError): keep the name only
            cls = type(type_name, (RemoteProcessError,), {"__module__": module or "remote"})
        _ERROR_CLASSES[key] = cls
    err = _instantiate(cls, args, message, type_name, module)
    err._remote_str = message
    err.remote_type = f"{module}.{type_name}" if module and module != "builtins" else type_name
    err.remote_traceback = traceback_text
    return err


def _instantiate(
    cls: type[RemoteProcessError],
    args: list[Any] | None,
    message: str,
    type_name: str,
    module: str | None,
) -> RemoteProcessError:
    for attempt in ((*args,) if args is not None else None, (message,)):
        if attempt is None:
            continue
        try:
            err: RemoteProcessError = cls(*attempt)
            return err
        except Exception:  # a built-in whose constructor wants other arguments
            continue
    # e.g. UnicodeDecodeError, whose constructor wants five arguments and whose
    # args (bytes) did not travel: create it without running its __init__.
    try:
        bare: RemoteProcessError = cls.__new__(cls, message)
        return bare
    except Exception:  # pragma: no cover - every built-in exception allows it
        plain: type[RemoteProcessError] = type(
            type_name, (RemoteProcessError,), {"__module__": module or "remote"}
        )
        return plain(message)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Call(_Model):
    """One request to run a process on a worker."""

    path: str
    name: str
    process_id: str
    parent: str | None = None
    model: str | None = None
    endpoint: str | None = None
    config: dict[str, Any] = {}
    #: run as a SEQ stage: ``input`` on an ``"input"`` channel, ``"output"`` drained
    stage: bool = False
    input: Any = None
    #: for PAR_FOR instances: call ``factory(index, ctx)`` found at ``path``
    index: int | None = None
    #: for DAG tasks given as functions: call ``fn(input)`` found at ``path``
    function: bool = False
    #: seconds left before the caller's deadline, if it has one
    timeout: float | None = None
    idempotency_key: str = ""
    #: the task queue of the activity (durable leaves placed on another queue)
    queue: str | None = None


class Outcome(_Model):
    """What came of one remote run (a success value or a description of the failure)."""

    ok: bool
    value: Any = None
    process_name: str = "unknown"
    error_type: str | None = None
    error_module: str | None = None
    message: str | None = None
    #: the remote exception's ``args`` (``None`` when they are not all JSON)
    args: list[Any] | None = None
    traceback: str | None = None
    started_at: datetime | None = None
    failed_at: datetime | None = None
    checkpoint: Any = None
    cancelled: bool = False
    cancel_reason: str | None = None


def _exception_args(exc: BaseException) -> list[Any] | None:
    try:
        args: list[Any] = check_json(list(exc.args), "args")
    except NotJSONError:
        return None
    return args


def _checkpoint(value: Any) -> Any:
    try:
        return check_json(value, "checkpoint")
    except NotJSONError:
        return repr(value)  # documented: a checkpoint that is not JSON travels as its repr


def outcome_from_result(result: ProcessResult[Any], name: str) -> Outcome:
    """Turn a worker-side result into an :class:`Outcome`; raises
    :class:`NotJSONError` when the success value is not JSON."""
    if result.is_ok:
        value = check_json(result._value, f"the value of process {name!r}")
        return Outcome(ok=True, value=value, process_name=name)
    failure = result.failure
    error = failure.error
    return Outcome(
        ok=False,
        process_name=failure.process_name if failure.process_name != "unknown" else name,
        error_type=type(error).__name__,
        error_module=type(error).__module__,
        message=str(error),
        args=_exception_args(error),
        traceback=failure.traceback_str,
        started_at=failure.started_at,
        failed_at=failure.failed_at,
        checkpoint=_checkpoint(failure.checkpoint),
    )


def outcome_from_exception(exc: BaseException, name: str, *, cancelled: bool = False) -> Outcome:
    """An :class:`Outcome` describing *exc* raised outside the process body."""
    return Outcome(
        ok=False,
        process_name=name,
        error_type=type(exc).__name__,
        error_module=type(exc).__module__,
        message=str(exc),
        args=_exception_args(exc),
        traceback="".join(_traceback.format_exception(exc)),
        failed_at=datetime.now(timezone.utc),
        cancelled=cancelled,
    )


def dump(model: BaseModel) -> dict[str, Any]:
    """A JSON-ready dict; raises ``ValueError`` naming what cannot be encoded."""
    try:
        return model.model_dump(mode="json")
    except Exception as exc:  # pydantic raises its own serialisation errors
        raise ValueError(f"cannot encode {type(model).__name__} as JSON: {exc}") from exc


def result_from_outcome(
    outcome: Outcome,
    *,
    process_id: str | None,
    parent: str | None,
    placement: Placement | None,
) -> ProcessResult[Any]:
    """Rebuild the caller-side :class:`~stbass.ProcessResult` of a remote run."""
    if outcome.ok:
        return ProcessResult.ok(outcome.value)
    error = remote_error(
        outcome.error_type or "Exception",
        outcome.error_module,
        outcome.message or "",
        outcome.traceback,
        outcome.args,
    )
    failure = Failure(
        error,
        process_name=outcome.process_name,
        # Failure makes an id when given None (0.1: never None); say so to mypy.
        process_id=process_id,  # type: ignore[arg-type]
        started_at=outcome.started_at,
        failed_at=outcome.failed_at or datetime.now(timezone.utc),
        placement=placement,
        parent_process=parent,
        checkpoint=outcome.checkpoint,
        traceback_str=outcome.traceback,
    )
    return ProcessResult.fail(failure)
