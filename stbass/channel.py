"""Typed, zero-buffer channels: :class:`Chan`, its protocols and its errors.

>>> from stbass.channel import Chan, ChannelClosedError
"""

from ._core._chan import Chan as Chan
from ._core._chan import ChannelClosedError as ChannelClosedError
from ._core._chan import ChannelProtocolError as ChannelProtocolError
from ._core._chan import ChannelTopologyError as ChannelTopologyError
from ._core._chan import ChannelTypeError as ChannelTypeError
from ._core._chan import ChanStatistics as ChanStatistics
from ._core._chan import SequentialProtocol as SequentialProtocol
from ._core._chan import VariantProtocol as VariantProtocol

__all__ = (
    "Chan",
    "ChanStatistics",
    "ChannelClosedError",
    "ChannelProtocolError",
    "ChannelTopologyError",
    "ChannelTypeError",
    "SequentialProtocol",
    "VariantProtocol",
)
