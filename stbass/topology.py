"""Fan-out/fan-in topologies: :class:`ChanArray`, :class:`Distributor`, :class:`Collector`.

>>> from stbass.topology import ChanArray, Distributor, Collector
"""

from ._compose._topology import ChanArray as ChanArray
from ._compose._topology import Collector as Collector
from ._compose._topology import Distributor as Distributor

__all__ = ("ChanArray", "Collector", "Distributor")
