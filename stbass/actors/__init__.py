"""Actors: processes with private state, a mailbox, and handlers chosen by
message type (``tell`` / ``ask``).

>>> from stbass.actors import Actor, ActorRef, ActorStoppedError, handles
"""

from ._actor import Actor as Actor
from ._actor import ActorRef as ActorRef
from ._actor import ActorStoppedError as ActorStoppedError
from ._actor import handles as handles
from .._core._util import fixup_module_metadata as _fixup_module_metadata

__all__ = ("Actor", "ActorRef", "ActorStoppedError", "handles")

_fixup_module_metadata(__name__, globals())
del _fixup_module_metadata
