"""Processes: :class:`Process` and the :class:`ProcessContext` a body runs in.

>>> from stbass.process import Process, ProcessContext
"""

from ._compose._process import Process as Process
from ._compose._process import ProcessContext as ProcessContext

__all__ = ("Process", "ProcessContext")
