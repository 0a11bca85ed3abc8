"""Hypothesis profiles for the law checks (the backends come from the root conftest).

``STBASS_HYPOTHESIS_PROFILE=ci`` (the default) keeps the whole directory within a
few minutes on both backends; ``STBASS_HYPOTHESIS_PROFILE=thorough`` runs 10,000
examples per law. ``anyio_backend`` is a function-scoped fixture that holds only
the backend name, so reusing it across examples is safe: that health check is
suppressed.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)

settings.register_profile("ci", max_examples=60, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("thorough", max_examples=10_000, **_COMMON)  # type: ignore[arg-type]
settings.register_profile("dev", max_examples=20, **_COMMON)  # type: ignore[arg-type]
settings.load_profile(os.environ.get("STBASS_HYPOTHESIS_PROFILE", "ci"))
