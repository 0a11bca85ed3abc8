"""Stream pipelines: operators as processes between channels, with bounded
concurrency and back-pressure end to end.

>>> import anyio
>>> from stbass.streams import batch, map, pipeline
>>> anyio.run(pipeline(range(5), map(lambda x: x * x, max_parallel=2), batch(2)).run).value
[[0, 1], [4, 9], [16]]
"""

from ._ops import Batch as Batch
from ._ops import Branch as Branch
from ._ops import Filter as Filter
from ._ops import FlatMap as FlatMap
from ._ops import ItemError as ItemError
from ._ops import Map as Map
from ._ops import Merge as Merge
from ._ops import Operator as Operator
from ._ops import Partition as Partition
from ._ops import RateLimit as RateLimit
from ._ops import Tap as Tap
from ._pipeline import Pipeline as Pipeline
from ._pipeline import PipelineResult as PipelineResult
from ._pipeline import batch as batch
from ._pipeline import branch as branch
from ._pipeline import filter as filter
from ._pipeline import flat_map as flat_map
from ._pipeline import map as map
from ._pipeline import merge as merge
from ._pipeline import partition as partition
from ._pipeline import pipeline as pipeline
from ._pipeline import rate_limit as rate_limit
from ._pipeline import tap as tap
from .._core._util import fixup_module_metadata as _fixup_module_metadata

__all__ = (
    "Batch",
    "batch",
    "Branch",
    "branch",
    "Filter",
    "filter",
    "FlatMap",
    "flat_map",
    "ItemError",
    "Map",
    "map",
    "Merge",
    "merge",
    "Operator",
    "Partition",
    "partition",
    "Pipeline",
    "pipeline",
    "PipelineResult",
    "RateLimit",
    "rate_limit",
    "Tap",
    "tap",
)

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
