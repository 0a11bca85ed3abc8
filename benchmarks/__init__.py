"""The stbass benchmark suite: stbass against the raw primitives, in one run.

Run it with ``python -m benchmarks`` (from the repository root) or
``python benchmarks/run.py``; ``--quick`` for a fast pass, ``--backend`` to pick
asyncio or trio, ``--json out.json`` for machine-readable output. Every figure is
a median of interleaved repeats, reported next to the same figure for anyio's
zero-buffer memory object stream and the backend's native primitive, as ratios
against the targets of SPEC §10. See ``docs/performance.md``.
"""
