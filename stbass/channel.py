"""Typed, zero-buffer channels: :class:`Chan`, its protocols and its errors.

>>> from stbass.channel import Chan, ChannelClosedError
"""

from ._chan import Chan as Chan
from ._chan import ChannelClosedError as ChannelClosedError
from ._chan import ChannelProtocolError as ChannelProtocolError
from ._chan import ChannelTopologyError as ChannelTopologyError
from ._chan import ChannelTypeError as ChannelTypeError
from ._chan import ChanStatistics as ChanStatistics
from ._chan import SequentialProtocol as SequentialProtocol
from ._chan import VariantProtocol as VariantProtocol

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
