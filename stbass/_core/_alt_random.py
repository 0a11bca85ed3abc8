"""The one random source ALT draws from (registered with hypothesis), and the
hook through which ``stbass.testing.explore`` makes every nondeterministic
decision of stbass while it explores schedules."""

from __future__ import annotations

import random
from collections.abc import Callable

#: ALT's fair choice among ready guards uses this generator only.
ALT_RANDOM = random.Random()

#: While ``stbass.testing.explore`` runs a program: ``EXPLORER(n)`` returns the
#: decision (``0 <= d < n``; 0 is what stbass does when not exploring) for
#: which of *n* ready counterparts commits first and the start order of a PAR's
#: children (ALT's choice goes through ``ALT_RANDOM``). ``None`` otherwise: one
#: check, and nothing else, where a decision is made.
EXPLORER: Callable[[int], int] | None = None
