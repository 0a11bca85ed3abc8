"""Results of running a process and what to do when one fails.

:class:`ProcessResult` (a value or a :class:`Failure`), the policies compositions
follow (:class:`FailurePolicy`, :class:`RetryPolicy`) and :class:`FailureReport`
for many results at once.

>>> from stbass.result import ProcessResult
>>> ProcessResult.ok(1).is_ok
True
"""

from ._failure import FailureReport as FailureReport
from ._result import Failure as Failure
from ._result import FailurePolicy as FailurePolicy
from ._result import ProcessResult as ProcessResult
from ._result import RetryPolicy as RetryPolicy
from ._util import fixup_module_metadata as _fixup_module_metadata

__all__ = (
    "Failure",
    "FailurePolicy",
    "FailureReport",
    "ProcessResult",
    "RetryPolicy",
)

_fixup_module_metadata("stbass", globals())
del _fixup_module_metadata
