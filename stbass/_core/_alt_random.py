"""The one random source ALT draws from (registered with hypothesis)."""

from __future__ import annotations

import random

#: ALT's fair choice among ready guards uses this generator only.
ALT_RANDOM = random.Random()
