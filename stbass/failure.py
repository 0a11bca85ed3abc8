"""Failure analysis: retrying processes and reporting on many failures.

:func:`retry_process` retries a process with backoff; :class:`FailureReport`
(also in :mod:`stbass.result`) counts and analyses the results of many runs;
:class:`FailureAggregator` combines several reports.

>>> from stbass.failure import FailureAggregator, FailureReport, retry_process
"""

from ._compose._failure import FailureAggregator as FailureAggregator
from ._compose._failure import FailurePatterns as FailurePatterns
from ._compose._failure import FailureReport as FailureReport
from ._compose._failure import RepeatedFailure as RepeatedFailure
from ._compose._failure import retry_process as retry_process
from ._core._util import fixup_module_metadata as _fixup_module_metadata

__all__ = (
    "FailureAggregator",
    "FailurePatterns",
    "FailureReport",
    "RepeatedFailure",
    "retry_process",
)

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
