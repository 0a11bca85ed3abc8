"""Packaging: the package list, found rather than kept by hand.

Everything else is in ``pyproject.toml``. setuptools finds every package under
``stbass/`` (so a new subpackage is never left out of the wheel), and the
tracing toolkit in ``tracing/`` is installed as ``stbass_tracing`` (never as a
top-level ``tracing``).
"""

from setuptools import find_packages, setup

STBASS = find_packages(include=["stbass", "stbass.*"])
TRACING = ["stbass_tracing"] + [f"stbass_tracing.{p}" for p in find_packages("tracing")]

setup(packages=STBASS + TRACING, package_dir={"stbass_tracing": "tracing"})
