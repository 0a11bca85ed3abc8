"""Results of running a process and what to do when one fails.

:class:`ProcessResult` (a value or a :class:`Failure`), the policies compositions
follow (:class:`FailurePolicy`, :class:`RetryPolicy`) and :class:`FailureReport`
for many results at once.

>>> from stbass.result import ProcessResult
>>> ProcessResult.ok(1).is_ok
True
"""

from ._compose._failure import FailureReport as FailureReport
from ._compose._result import Failure as Failure
from ._compose._result import FailurePolicy as FailurePolicy
from ._compose._result import ProcessResult as ProcessResult
from ._compose._result import RetryPolicy as RetryPolicy
from ._core._util import fixup_module_metadata as _fixup_module_metadata

__all__ = (
    "Failure",
    "FailurePolicy",
    "FailureReport",
    "ProcessResult",
    "RetryPolicy",
)

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
