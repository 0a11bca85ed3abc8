"""Workflows as DAGs: tasks that start as soon as their dependencies succeed,
with HALT/COLLECT, retries, and resume from a JSON state file.

>>> from stbass.dag import DAG
>>> dag = DAG("report").add("a", lambda x: 1).add("b", lambda d: d["a"] + 1, after=["a"])
"""

from ._dag import DAG as DAG
from ._dag import DAGCycleError as DAGCycleError
from ._dag import DAGResult as DAGResult
from ._dag import DAGTask as DAGTask
from .._core._util import fixup_module_metadata as _fixup_module_metadata

__all__ = ("DAG", "DAGCycleError", "DAGResult", "DAGTask")

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
