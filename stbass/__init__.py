"""stbass: occam/CSP process algebra for async Python, on anyio.

Processes talk only through typed, zero-buffer channels and compose with SEQ,
PAR and ALT; the same program runs under asyncio and under trio, and every
process and channel event is an OpenTelemetry span.

>>> from stbass import PAR, SEQ, ALT, Chan, Process
"""

from ._core._alt import ALT as ALT
from ._core._alt import PRI_ALT as PRI_ALT
from ._core._alt import SKIP as SKIP
from ._core._alt import AllGuardsDisabledError as AllGuardsDisabledError
from ._core._alt import Guard as Guard
from ._core._chan import Chan as Chan
from ._core._chan import ChannelClosedError as ChannelClosedError
from ._core._chan import ChannelProtocolError as ChannelProtocolError
from ._core._chan import ChannelTopologyError as ChannelTopologyError
from ._core._chan import ChannelTypeError as ChannelTypeError
from ._core._chan import ChanStatistics as ChanStatistics
from ._core._chan import SequentialProtocol as SequentialProtocol
from ._core._chan import VariantProtocol as VariantProtocol
from ._compose._deadlock import DeadlockError as DeadlockError
from ._compose._seqpar import PAR as PAR
from ._compose._seqpar import SEQ as SEQ
from ._compose._seqpar import PARResult as PARResult
from ._compose._seqpar import ProcessCancelledError as ProcessCancelledError
from ._compose._seqpar import SEQResult as SEQResult
from ._compose._choice import HEDGE as HEDGE
from ._compose._choice import IF as IF
from ._compose._choice import QUORUM as QUORUM
from ._compose._choice import RACE as RACE
from ._compose._choice import WHILE as WHILE
from ._compose._choice import ChoiceResult as ChoiceResult
from ._compose._choice import IFResult as IFResult
from ._compose._choice import MaxIterationsError as MaxIterationsError
from ._compose._choice import NoBranchError as NoBranchError
from ._compose._choice import QUORUMResult as QUORUMResult
from ._compose._choice import RACEResult as RACEResult
from ._compose._choice import WHILEResult as WHILEResult
from ._compose._failure import FailureAggregator as FailureAggregator
from ._compose._failure import FailureReport as FailureReport
from ._compose._failure import retry_process as retry_process
from ._compose._placement import PLACED_PAR as PLACED_PAR
from ._compose._placement import BackendRegistry as BackendRegistry
from ._compose._placement import BackendUnavailableError as BackendUnavailableError
from ._compose._placement import ExecutionBackend as ExecutionBackend
from ._compose._placement import LocalBackend as LocalBackend
from ._compose._placement_value import Placement as Placement
from ._compose._process import Process as Process
from ._compose._process import ProcessContext as ProcessContext
from ._compose._result import Failure as Failure
from ._compose._result import FailurePolicy as FailurePolicy
from ._compose._result import ProcessResult as ProcessResult
from ._compose._result import RetryPolicy as RetryPolicy
from ._compose._replicator import PAR_FOR as PAR_FOR
from ._compose._replicator import SEQ_FOR as SEQ_FOR
from ._core._timer import DEADLINE as DEADLINE
from ._core._timer import TIMER as TIMER
from ._core._timer import TimerExpired as TimerExpired
from ._compose._topology import ChanArray as ChanArray
from ._compose._topology import Collector as Collector
from ._compose._topology import Distributor as Distributor
from ._core._util import fixup_module_metadata as _fixup_module_metadata
from ._version import __version__ as __version__

__all__ = (
    "AllGuardsDisabledError",
    "ALT",
    "BackendRegistry",
    "BackendUnavailableError",
    "Chan",
    "ChanArray",
    "ChannelClosedError",
    "ChannelProtocolError",
    "ChannelTopologyError",
    "ChannelTypeError",
    "ChanStatistics",
    "ChoiceResult",
    "Collector",
    "DEADLINE",
    "DeadlockError",
    "Distributor",
    "ExecutionBackend",
    "Failure",
    "FailureAggregator",
    "FailurePolicy",
    "FailureReport",
    "Guard",
    "HEDGE",
    "IF",
    "IFResult",
    "LocalBackend",
    "MaxIterationsError",
    "NoBranchError",
    "PAR",
    "PAR_FOR",
    "PARResult",
    "PLACED_PAR",
    "Placement",
    "PRI_ALT",
    "Process",
    "ProcessCancelledError",
    "ProcessContext",
    "ProcessResult",
    "QUORUM",
    "QUORUMResult",
    "RACE",
    "RACEResult",
    "retry_process",
    "RetryPolicy",
    "SEQ",
    "SEQ_FOR",
    "SEQResult",
    "SequentialProtocol",
    "SKIP",
    "TIMER",
    "TimerExpired",
    "VariantProtocol",
    "WHILE",
    "WHILEResult",
    "__version__",
)

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
