"""Registers stbass's ALT random source with hypothesis (its ``hypothesis`` entry
point), so property tests that depend on ALT's choices replay and shrink."""

from __future__ import annotations


def _hypothesis_setup_hook() -> None:
    import hypothesis

    from ._core._alt_random import ALT_RANDOM

    hypothesis.register_random(ALT_RANDOM)
