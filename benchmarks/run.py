"""Run the stbass benchmark suite and print the tables (``python -m benchmarks``).

Usage::

    python -m benchmarks                      # full run, both backends (~4 min on 2 cores)
    python -m benchmarks --quick              # fast pass (~15 s)
    python -m benchmarks --backend trio       # one backend
    python -m benchmarks --only pingpong,alt  # some benchmarks
    python -m benchmarks --json out.json      # also write machine-readable results
    python -m benchmarks --profile            # cProfile of the stbass ping-pong
    python -m benchmarks --only choice --profile   # ... and of PAR / RACE / QUORUM of 10

For each backend, stbass runs next to the raw primitives in the same process:
anyio's zero-buffer memory object stream, and trio's ``open_memory_channel(0)``
(on trio) or ``asyncio.Queue(1)`` (on asyncio). Each figure is the median of
several repeats; the variants of one benchmark are interleaved within each
repeat (in an order that rotates from repeat to repeat), and each run gets a
fresh event loop. The memory benchmarks run in subprocesses
(``benchmarks/memory.py``). The last table compares the measured ratios with the
targets of SPEC §10.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

if not __package__:  # run as a script: ``python benchmarks/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import anyio

from benchmarks import cases

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    "pingpong", "alt", "idle", "spawn", "choice", "parfor", "flat", "pairs", "tracing",
    "streams", "dag", "buffered", "actors",
)  # fmt: skip


@dataclass(frozen=True)
class Sizes:
    """How much work each benchmark does."""

    repeats: int
    pingpong: int
    alt: int
    idle_seconds: float
    spawn: int
    choice_children: int
    choice_repeats: int
    parfor: int
    parfor_repeats: int
    flat: int
    pairs: tuple[int, ...]
    pairs_messages: int
    pairs_repeats: int
    tracing: int
    tracing_on: int
    tracing_repeats: int
    sdk_spans: int
    stream_items: int = 5_000
    dag_tasks: int = 1_000


FULL = Sizes(
    repeats=5,
    pingpong=20_000,
    alt=20_000,
    idle_seconds=1.0,
    spawn=10_000,
    choice_children=10_000,
    choice_repeats=5,
    parfor=100_000,
    parfor_repeats=1,
    flat=1_000_000,
    pairs=(1, 10, 100, 1000),
    pairs_messages=40_000,
    pairs_repeats=3,
    tracing=100_000,
    tracing_on=20_000,
    tracing_repeats=5,
    sdk_spans=20_000,
)

QUICK = Sizes(
    repeats=3,
    pingpong=4_000,
    alt=2_000,
    idle_seconds=0.1,
    spawn=2_000,
    choice_children=4_000,
    choice_repeats=3,
    parfor=10_000,
    parfor_repeats=1,
    flat=50_000,
    pairs=(1, 10, 100, 1000),
    pairs_messages=5_000,
    pairs_repeats=1,
    tracing=2_000,
    tracing_on=500,
    tracing_repeats=3,
    sdk_spans=2_000,
    stream_items=2_000,
)


def scaled(sizes: Sizes, factor: float, repeats: int | None) -> Sizes:
    def n(value: int, least: int = 2) -> int:
        return max(least, int(value * factor))

    new = replace(
        sizes,
        pingpong=n(sizes.pingpong),
        alt=n(sizes.alt),
        spawn=n(sizes.spawn, 1),
        choice_children=n(sizes.choice_children, 1),
        parfor=n(sizes.parfor, 1),
        flat=n(sizes.flat, 20),
        pairs_messages=n(sizes.pairs_messages, 1),
        tracing=n(sizes.tracing, 1),
        tracing_on=n(sizes.tracing_on, 1),
        sdk_spans=n(sizes.sdk_spans, 1),
        stream_items=n(sizes.stream_items, 20),
        dag_tasks=n(sizes.dag_tasks, 10),
        idle_seconds=sizes.idle_seconds if factor >= 1 else max(0.05, sizes.idle_seconds * factor),
    )
    if repeats is not None:
        new = replace(
            new,
            repeats=repeats,
            choice_repeats=repeats,
            pairs_repeats=repeats,
            tracing_repeats=repeats,
            parfor_repeats=min(new.parfor_repeats, repeats),
        )
    return new


# ------------------------------------------------------------------ measuring


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def interleaved(
    backend: str,
    variants: dict[str, Callable[[], Awaitable[float]]],
    repeats: int,
) -> dict[str, list[float]]:
    """Run every variant once per repeat, rotating the order; one fresh event
    loop per run. Returns the samples of each variant."""
    names = list(variants)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            samples[name].append(anyio.run(variants[name], backend=backend))
    return samples


def median(values: list[float]) -> float:
    return statistics.median(values)


def bind(fn: Callable[..., Awaitable[float]], *args: Any) -> Callable[[], Awaitable[float]]:
    async def call() -> float:
        return await fn(*args)

    return call


@dataclass
class Row:
    """One line of a benchmark table: a variant and its median figure."""

    variant: str
    value: float
    unit: str
    samples: list[float]
    note: str = ""


@dataclass
class Section:
    """One benchmark on one backend."""

    key: str
    title: str
    rows: list[Row]
    higher_is_better: bool
    extra: dict[str, Any]


def section_from_times(
    key: str,
    title: str,
    samples: dict[str, list[float]],
    *,
    count: int,
    unit: str,
) -> Section:
    """Turn per-run seconds into msg/s (unit ``msg/s``) or µs per item."""
    rows = []
    for name, secs in samples.items():
        if unit == "msg/s":
            values = [count / s for s in secs]
        else:
            values = [s / count * 1e6 for s in secs]
        rows.append(Row(name, median(values), unit, values))
    return Section(key, title, rows, unit == "msg/s", {})


# ----------------------------------------------------------------- benchmarks


def bench_pingpong(backend: str, sizes: Sizes) -> list[Section]:
    variants = {
        name: bind(cases.pingpong, make, sizes.pingpong)
        for name, make in cases.channel_variants(backend).items()
    }
    samples = interleaved(backend, variants, sizes.repeats)
    return [
        section_from_times(
            "pingpong",
            f"rendezvous ping-pong, {sizes.pingpong:,} messages ({sizes.pingpong // 2:,} round trips)",
            samples,
            count=sizes.pingpong,
            unit="msg/s",
        )
    ]


def bench_buffered(backend: str, sizes: Sizes) -> list[Section]:
    n = sizes.pingpong
    variants = {
        name: bind(cases.stream, make, n) for name, make in cases.buffered_variants(backend).items()
    }
    samples = interleaved(backend, variants, sizes.repeats)
    return [
        section_from_times(
            "buffered",
            f"64-place buffer, one producer to one consumer, {n:,} messages",
            samples,
            count=n,
            unit="msg/s",
        )
    ]


def bench_actors(backend: str, sizes: Sizes) -> list[Section]:
    n = sizes.pingpong
    rounds = n // 2
    tell = interleaved(
        backend,
        {
            "actor tell (mailbox=64)": bind(cases.tell_stream, n),
            "rendezvous send (stbass Chan)": bind(cases.stream, cases.make_stbass, n),
        },
        sizes.repeats,
    )
    ask = interleaved(
        backend,
        {
            "actor ask round trip": bind(cases.ask_roundtrips, rounds),
            "ping-pong round trip (stbass Chan)": bind(cases.pingpong, cases.make_stbass, n),
        },
        sizes.repeats,
    )
    return [
        section_from_times(
            "actor_tell", f"tell vs send, {n:,} messages handled", tell, count=n, unit="µs"
        ),
        section_from_times(
            "actor_ask", f"ask vs ping-pong, {rounds:,} round trips", ask, count=rounds, unit="µs"
        ),
    ]


def bench_alt(backend: str, sizes: Sizes) -> list[Section]:
    n = sizes.alt
    latency = interleaved(
        backend,
        {
            "ALT(data, idle)": bind(cases.alt_pingpong, n, True),
            "plain recv": bind(cases.alt_pingpong, n, False),
        },
        sizes.repeats,
    )
    throughput = interleaved(
        backend,
        {
            "ALT(data, idle)": bind(cases.alt_stream, n, True),
            "plain recv": bind(cases.alt_stream, n, False),
        },
        sizes.repeats,
    )
    return [
        section_from_times(
            "alt_latency",
            f"ALT latency: ping-pong where every receive is an ALT, {n:,} messages "
            f"(µs per message, send to ALT return)",
            latency,
            count=n,
            unit="µs",
        ),
        section_from_times(
            "alt_throughput",
            f"ALT throughput: one producer, the consumer receives with ALT, {n:,} messages",
            throughput,
            count=n,
            unit="msg/s",
        ),
    ]


def bench_idle(backend: str, sizes: Sizes) -> list[Section]:
    samples = interleaved(
        backend,
        {
            "one ALT waiting": bind(cases.idle_cpu, sizes.idle_seconds, True),
            "nothing waiting": bind(cases.idle_cpu, sizes.idle_seconds, False),
        },
        sizes.repeats,
    )
    rows = [Row(name, median(v) * 100, "% core", [x * 100 for x in v]) for name, v in samples.items()]
    return [
        Section(
            "idle_alt",
            f"CPU used while an ALT waits ({sizes.idle_seconds:g} s of wall time, process CPU time)",
            rows,
            False,
            {},
        )
    ]


def bench_spawn(backend: str, sizes: Sizes) -> list[Section]:
    variants = {
        name: bind(fn, sizes.spawn) for name, fn in cases.spawn_variants(backend).items()
    }
    samples = interleaved(backend, variants, sizes.repeats)
    return [
        section_from_times(
            "spawn",
            f"spawning {sizes.spawn:,} trivial children (µs per child)",
            samples,
            count=sizes.spawn,
            unit="µs",
        )
    ]


#: the numbers of children of the RACE/QUORUM vs PAR benchmark
CHOICE_NS = (10, 1_000)
#: slices each repeat of the choice benchmark is cut into (see cases.choice_interleaved)
CHOICE_CHUNKS = 20


def _choice_label(kind: str, n: int) -> str:
    return kind if kind != "QUORUM" else f"QUORUM(k={n // 2 + 1})"


def bench_choice(backend: str, sizes: Sizes) -> list[Section]:
    """RACE and QUORUM of n children against a PAR of the same n. Each repeat is
    one event loop running every composition about ``choice_children // n``
    times, interleaved in slices; the figure that counts is the **median of
    the per-repeat ratios** to PAR (``extra["ratios"]``), each ratio taken
    within one repeat. Trivial children at n = 10 and 1,000 (the target), and
    children of one checkpoint at n = 10 (every child has begun when the first
    finishes, so RACE and QUORUM cancel running tasks; information)."""
    sections = []
    for child, ns in (("trivial", CHOICE_NS), ("one checkpoint", CHOICE_NS[:1])):
        for n in ns:
            # children of one checkpoint cost about twice as much: half as many runs
            runs = max(1, sizes.choice_children // n // (1 if child == "trivial" else 2))
            chunks = min(runs, CHOICE_CHUNKS)
            labels = {kind: _choice_label(kind, n) for kind in cases.CHOICE_KINDS}
            samples: dict[str, list[float]] = {label: [] for label in labels.values()}
            ratios: dict[str, list[float]] = {labels[k]: [] for k in cases.CHOICE_KINDS[1:]}
            for r in range(sizes.choice_repeats):
                gc.collect()
                times = anyio.run(
                    cases.choice_interleaved, n, runs, chunks, child, r, backend=backend
                )
                for kind, seconds in times.items():
                    samples[labels[kind]].append(seconds)
                for kind in cases.CHOICE_KINDS[1:]:
                    ratios[labels[kind]].append(times[kind] / times["PAR"])
            key = f"choice_{n}" if child == "trivial" else f"choice_{n}_checkpoint"
            section = section_from_times(
                key,
                f"RACE / QUORUM vs PAR of {n:,} {child} children, {runs:,} runs "
                f"x {sizes.choice_repeats} repeats (µs per child)",
                samples,
                count=runs * n,
                unit="µs",
            )
            section.extra["ratios"] = ratios
            for row in section.rows[1:]:
                rs = ratios[row.variant]
                row.note = (
                    f"÷ PAR within a repeat: median {median(rs):.2f}×, "
                    f"{min(rs):.2f}–{max(rs):.2f}× over {len(rs)}"
                )
            sections.append(section)
    return sections


def _choice_ratio(sections: dict[str, Section], key: str, variant: str) -> float | None:
    """The median over repeats of the same-repeat ratio *variant* ÷ PAR."""
    section = sections.get(key)
    if section is None or variant not in section.extra.get("ratios", {}):
        return None
    return median(section.extra["ratios"][variant])


#: the max_parallel values of the stream map benchmark
STREAM_KS = (1, 8, 64)


def bench_streams(backend: str, sizes: Sizes) -> list[Section]:
    """Ordered ``map(max_parallel=k)`` over a pipeline vs aiostream's
    ``pipe.map(task_limit=k)`` (asyncio only: aiostream is built on asyncio)."""
    n = sizes.stream_items
    variants: dict[str, Callable[[], Awaitable[float]]] = {}
    for k in STREAM_KS:
        variants[f"stbass map, k={k}"] = bind(cases.stream_map_stbass, n, k)
        if backend == "asyncio":
            variants[f"aiostream map, k={k}"] = bind(cases.stream_map_aiostream, n, k)
    samples = interleaved(backend, variants, sizes.repeats)
    return [
        section_from_times(
            "stream_map",
            f"ordered map of {n:,} items, an async function of one checkpoint (items/s)",
            samples,
            count=n,
            unit="msg/s",
        )
    ]


def bench_dag(backend: str, sizes: Sizes) -> list[Section]:
    n = sizes.dag_tasks
    variants = {
        "DAG, function tasks": bind(cases.dag_flat, n),
        "DAG, Process tasks": bind(cases.dag_flat_processes, n),
        "PAR": bind(cases.spawn_par, n),
    }
    samples = interleaved(backend, variants, sizes.repeats)
    return [
        section_from_times(
            "dag",
            f"{n:,} independent trivial tasks: DAG vs PAR (µs per task)",
            samples,
            count=n,
            unit="µs",
        )
    ]


CLOCK = ["--clock", "cpu"]


def _subprocess(args: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", *args, *CLOCK],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmarks.memory {' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def bench_parfor(backend: str, sizes: Sizes, use_tracemalloc: bool) -> list[Section]:
    n = sizes.parfor
    runs: dict[str, list[dict[str, Any]]] = {
        "PAR_FOR": [],
        "PAR_FOR max_parallel=8": [],
        "anyio task group": [],
    }
    for r in range(sizes.parfor_repeats):
        order = [
            ("PAR_FOR", "stbass"),
            ("PAR_FOR max_parallel=8", "stbass-bounded"),
            ("anyio task group", "anyio"),
        ]
        if r % 2:
            order.reverse()
        for label, variant in order:
            args = ["parfor", "--backend", backend, "--n", str(n), "--variant", variant]
            if use_tracemalloc:
                args.append("--tracemalloc")
            runs[label].append(_subprocess(args))
    time_rows = []
    mem_rows = []
    for label, results in runs.items():
        secs = [x["seconds"] for x in results]
        time_rows.append(Row(label, median(secs), "s", secs))
        peaks = [x["peak_bytes"] / n for x in results]
        retained = median([x["retained_bytes"] for x in results]) / 2**20
        mem_rows.append(
            Row(label, median(peaks), "B/process", peaks, note=f"retained after: {retained:.1f} MiB")
        )
    method = "tracemalloc" if use_tracemalloc else "ru_maxrss delta"
    return [
        Section("parfor_time", f"PAR_FOR of {n:,} trivial processes: time", time_rows, False, {}),
        Section(
            "parfor_memory",
            f"PAR_FOR of {n:,} trivial processes: peak memory per process ({method}, subprocess)",
            mem_rows,
            False,
            {"runs": runs},
        ),
    ]


def bench_flat(backend: str, sizes: Sizes) -> list[Section]:
    result = _subprocess(["flat", "--backend", backend, "--n", str(sizes.flat)])
    mib = 2**20
    rows = [
        Row("RSS at start", result["rss_start"] / mib, "MiB", []),
        Row("RSS at end", result["rss_end"] / mib, "MiB", []),
        Row("RSS max", result["rss_max"] / mib, "MiB", []),
        Row("GC objects at start", result["gc_objects_start"], "objects", []),
        Row("GC objects at end", result["gc_objects_end"], "objects", []),
        Row("throughput", sizes.flat / result["seconds"], "msg/s", []),
    ]
    return [
        Section(
            "flat",
            f"{sizes.flat:,} messages through one stbass channel (subprocess; start = after 10%)",
            rows,
            False,
            {"result": result},
        )
    ]


def bench_pairs(backend: str, sizes: Sizes) -> list[Section]:
    makers = cases.channel_variants(backend)
    sections = []
    per_config: dict[int, dict[str, list[float]]] = {}
    for n_pairs in sizes.pairs:
        per_pair = max(1, sizes.pairs_messages // n_pairs)
        variants = {
            name: bind(cases.pairs, make, n_pairs, per_pair) for name, make in makers.items()
        }
        secs = interleaved(backend, variants, sizes.pairs_repeats)
        total = n_pairs * per_pair
        per_config[n_pairs] = {name: [total / s for s in v] for name, v in secs.items()}
    for name in makers:
        rows = [
            Row(f"{n_pairs:,} pair{'s' if n_pairs > 1 else ''}", median(v[name]), "msg/s", v[name])
            for n_pairs, v in per_config.items()
        ]
        sections.append(
            Section(
                f"pairs[{name}]",
                f"concurrent producer/consumer pairs, {name}, about {sizes.pairs_messages:,} "
                f"messages in total (throughput)",
                rows,
                True,
                {},
            )
        )
    return sections


def bench_tracing(backend: str, sizes: Sizes) -> list[Section]:
    n = sizes.tracing
    spans: list[int] = []
    variants = {
        "anyio stream (no instrumentation)": bind(cases.pipeline, cases.make_anyio, n),
        "stbass, hook short-circuited": bind(cases.traced_pipeline, n, "bare"),
        "stbass, no SDK": bind(cases.traced_pipeline, n, "off"),
        "stbass, SDK spans on": bind(cases.traced_pipeline, sizes.tracing_on, "on", spans),
    }
    counts = {name: n for name in variants}
    counts["stbass, SDK spans on"] = sizes.tracing_on
    pipe = interleaved(backend, variants, sizes.tracing_repeats)
    sdk = interleaved(
        backend,
        {
            "SDK span, 3 attributes": bind(cases.sdk_span_cost, sizes.sdk_spans, False),
            "SDK span shaped like a channel span": bind(cases.sdk_span_cost, sizes.sdk_spans, True),
        },
        sizes.tracing_repeats,
    )
    rows = []
    for name, secs in pipe.items():
        values = [s / counts[name] * 1e6 for s in secs]
        rows.append(Row(name, median(values), "µs/message", values))
    sdk_rows = []
    for name, per in sdk.items():
        values = [s * 1e6 for s in per]
        sdk_rows.append(Row(name, median(values), "µs/span", values))
    span_count = median([float(s) for s in spans]) if spans else 0.0
    m = sizes.tracing_on
    delivered: list[int] = []
    pp = interleaved(
        backend,
        {
            f"ping-pong, {mode}": bind(
                cases.traced_pingpong, m, mode, delivered if mode == "on" else None
            )
            for mode in cases.PINGPONG_TRACE_MODES
        },
        sizes.tracing_repeats,
    )
    pp_rows = []
    for name, secs in pp.items():
        values = [s / m * 1e6 for s in secs]
        pp_rows.append(Row(name, median(values), "µs/round trip", values))
    return [
        Section(
            "tracing_pingpong",
            f"tracing: PAR ping-pong, {m:,} round trips (4 channel spans each; bare = hook "
            f"short-circuited, on = every span delivered to a counting exporter, flush "
            f"included: {min(delivered) if delivered else 0:,} spans; unsampled = "
            f"parent-based ratio 0)",
            pp_rows,
            False,
            {"delivered": min(delivered) if delivered else 0, "expected": 4 * m + 3},
        ),
        Section(
            "tracing",
            f"tracing: producer -> relay -> consumer pipeline, {n:,} messages "
            f"(2 channels; spans on: {sizes.tracing_on:,} messages, {span_count:,.0f} spans)",
            rows,
            False,
            {"spans_per_run": span_count, "messages": n, "messages_spans_on": sizes.tracing_on},
        ),
        Section(
            "sdk_span",
            "the OpenTelemetry SDK's own cost per span (same provider, counting processor)",
            sdk_rows,
            False,
            {},
        ),
    ]


# ------------------------------------------------------------------- targets


@dataclass
class Target:
    """One target of SPEC §10 and what this run measured."""

    backend: str
    name: str
    goal: str
    measured: float | None
    passed: bool | None
    how: str


def _value(sections: dict[str, Section], key: str, variant: str) -> float | None:
    section = sections.get(key)
    if section is None:
        return None
    for row in section.rows:
        if row.variant == variant:
            return row.value
    return None


def targets(backend: str, sections: dict[str, Section]) -> list[Target]:
    out: list[Target] = []

    def add(name: str, goal: str, measured: float | None, ok: Callable[[float], bool], how: str) -> None:
        out.append(Target(backend, name, goal, measured, None if measured is None else ok(measured), how))

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None or b == 0 else a / b

    ours = _value(sections, "pingpong", "stbass")
    add(
        "ping-pong vs anyio stream",
        ">= 1.67x",
        ratio(ours, _value(sections, "pingpong", "anyio")),
        lambda x: x >= 1.67,
        "stbass msg/s ÷ anyio msg/s (issue 15; see also benchmarks.instructions)",
    )
    if backend == "trio":
        add(
            "ping-pong vs trio channel",
            ">= 1.0x",
            ratio(ours, _value(sections, "pingpong", "trio")),
            lambda x: x >= 1.0,
            "stbass msg/s ÷ trio msg/s",
        )
    else:
        add(
            "ping-pong vs asyncio.Queue(1)",
            "(info)",
            ratio(ours, _value(sections, "pingpong", "asyncio.Queue(1)")),
            lambda x: True,
            "stbass msg/s ÷ Queue msg/s",
        )
    add(
        "ALT latency vs plain recv",
        "<= 1.5x",
        ratio(
            _value(sections, "alt_latency", "ALT(data, idle)"),
            _value(sections, "alt_latency", "plain recv"),
        ),
        lambda x: x <= 1.5,
        "µs per message, ALT ÷ recv",
    )
    add(
        "idle ALT CPU",
        "< 1 % core",
        _value(sections, "idle_alt", "one ALT waiting"),
        lambda x: x < 1.0,
        "process CPU ÷ wall time",
    )
    add(
        "PAR spawn vs anyio start_soon",
        "<= 1.2x",
        ratio(_value(sections, "spawn", "PAR"), _value(sections, "spawn", "anyio start_soon")),
        lambda x: x <= 1.2,
        "µs per child, PAR ÷ start_soon",
    )
    for n in CHOICE_NS:
        for kind in cases.CHOICE_KINDS[1:]:
            add(
                f"{kind} of {n:,} vs PAR",
                "<= 1.2x",
                _choice_ratio(sections, f"choice_{n}", _choice_label(kind, n)),
                lambda x: x <= 1.2,
                f"µs per child, {kind} ÷ PAR within a repeat, median over repeats",
            )
    for kind in cases.CHOICE_KINDS[1:]:
        add(
            f"{kind} of 10 begun children vs PAR",
            "(info)",
            _choice_ratio(sections, "choice_10_checkpoint", _choice_label(kind, 10)),
            lambda x: True,
            f"children of one checkpoint: {kind} cancels the running losers",
        )
    pairs = sections.get("pairs[stbass]")
    if pairs is not None and len(pairs.rows) >= 2:
        add(
            f"{pairs.rows[-1].variant} vs {pairs.rows[0].variant}",
            ">= 0.9x",
            pairs.rows[-1].value / pairs.rows[0].value,
            lambda x: x >= 0.9,
            "stbass total msg/s",
        )
    off = _value(sections, "tracing", "stbass, no SDK")
    bare = _value(sections, "tracing", "stbass, hook short-circuited")
    add(
        "spans off (no SDK) overhead",
        "<= 5 %",
        None if off is None or bare is None else (off / bare - 1) * 100,
        lambda x: x <= 5.0,
        "no SDK ÷ hook short-circuited − 1",
    )
    on = _value(sections, "tracing", "stbass, SDK spans on")
    sdk = _value(sections, "sdk_span", "SDK span, 3 attributes")
    tracing = sections.get("tracing")
    per_event = None
    if on is not None and off is not None and tracing is not None and tracing.extra["spans_per_run"]:
        per_span_msgs = tracing.extra["spans_per_run"] / tracing.extra["messages_spans_on"]
        per_event = (on - off) / per_span_msgs  # µs added per span emitted
    add(
        "spans on: per channel event vs SDK span",
        "<= 1.2x",
        ratio(per_event, sdk),
        lambda x: x <= 1.2,
        "(on − off) per span ÷ SDK 3-attribute span",
    )
    shaped = _value(sections, "sdk_span", "SDK span shaped like a channel span")
    add(
        "spans on vs SDK span of the same shape",
        "(info)",
        ratio(per_event, shaped),
        lambda x: True,
        "(on − off) per span ÷ SDK span with a channel span's attributes",
    )
    pp_bare = _value(sections, "tracing_pingpong", "ping-pong, bare")
    pp = sections.get("tracing_pingpong")
    all_delivered = pp is not None and pp.extra["delivered"] == pp.extra["expected"]
    add(
        "traced ping-pong, every span delivered, vs untraced",
        "<= 4x",
        ratio(_value(sections, "tracing_pingpong", "ping-pong, on"), pp_bare),
        lambda x: x <= 4.0 and all_delivered,
        "µs per round trip, spans on (flushed) ÷ hook short-circuited",
    )
    add(
        "unsampled ping-pong vs untraced",
        "<= 1.2x",
        ratio(_value(sections, "tracing_pingpong", "ping-pong, unsampled"), pp_bare),
        lambda x: x <= 1.2,
        "µs per round trip, parent-based ratio 0 ÷ hook short-circuited",
    )
    add(
        "ping-pong spans off (no SDK) overhead",
        "<= 5 %",
        None if pp_bare is None or pp is None else (
            (_value(sections, "tracing_pingpong", "ping-pong, off") or 0.0) / pp_bare - 1
        ) * 100,
        lambda x: x <= 5.0,
        "no SDK ÷ hook short-circuited − 1",
    )
    no_sdk_vs_raw = ratio(off, _value(sections, "tracing", "anyio stream (no instrumentation)"))
    add(
        "pipeline: stbass (no SDK) vs anyio stream",
        "(info)",
        no_sdk_vs_raw,
        lambda x: True,
        "µs per message, stbass (instrumented, no SDK) ÷ anyio",
    )
    add(
        "Chan(capacity=64) vs anyio stream(64)",
        ">= 1.0x",
        ratio(
            _value(sections, "buffered", "stbass Chan(capacity=64)"),
            _value(sections, "buffered", "anyio stream(max_buffer_size=64)"),
        ),
        lambda x: x >= 1.0,
        "stbass msg/s ÷ anyio msg/s (issue 20)",
    )
    add(
        "actor tell vs rendezvous send",
        "<= 1.5x",
        ratio(
            _value(sections, "actor_tell", "actor tell (mailbox=64)"),
            _value(sections, "actor_tell", "rendezvous send (stbass Chan)"),
        ),
        lambda x: x <= 1.5,
        "µs per message handled, tell ÷ send (issue 20)",
    )
    add(
        "actor ask vs ping-pong round trip",
        "<= 2x",
        ratio(
            _value(sections, "actor_ask", "actor ask round trip"),
            _value(sections, "actor_ask", "ping-pong round trip (stbass Chan)"),
        ),
        lambda x: x <= 2.0,
        "µs per round trip, ask ÷ ping-pong (issue 20)",
    )
    parfor_mem = sections.get("parfor_memory")
    if parfor_mem is not None:
        add(
            "PAR_FOR memory per process vs raw task",
            "<= 1.2x",
            ratio(
                _value(sections, "parfor_memory", "PAR_FOR"),
                _value(sections, "parfor_memory", "anyio task group"),
            ),
            lambda x: x <= 1.2,
            "peak B/process ÷ raw anyio B/task (issue 15)",
        )
    if "stream_map" in sections and backend == "asyncio":
        for k in STREAM_KS:
            add(
                f"stream map k={k} vs aiostream",
                ">= 1.0x",
                ratio(
                    _value(sections, "stream_map", f"stbass map, k={k}"),
                    _value(sections, "stream_map", f"aiostream map, k={k}"),
                ),
                lambda x: x >= 1.0,
                "items/s, stbass ordered map ÷ aiostream pipe.map(task_limit=k)",
            )
    if "dag" in sections:
        add(
            "DAG of trivial tasks vs PAR",
            "< 2.0x",
            ratio(
                _value(sections, "dag", "DAG, function tasks"),
                _value(sections, "dag", "PAR"),
            ),
            lambda x: x < 2.0,
            "µs per task, DAG ÷ PAR",
        )
    flat = sections.get("flat")
    if flat is not None:
        result = flat.extra["result"]
        growth = (result["rss_end"] - result["rss_start"]) / 2**20
        objects = result["gc_objects_end"] - result["gc_objects_start"]
        add(
            f"{result['n']:,} messages: RSS growth",
            "flat",
            growth,
            lambda x: x <= 1.0 and objects <= 1000,
            f"MiB, end − start (GC objects {objects:+d}); PASS: <= 1 MiB, <= 1000 objects",
        )
    return out


# -------------------------------------------------------------------- output


def fmt(value: float, unit: str) -> str:
    if unit in ("msg/s", "objects"):
        return f"{value:,.0f}"
    if unit in ("% core",):
        return f"{value:.2f}"
    if unit in ("B/process",):
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.2f}"


def print_section(section: Section, out: Any) -> None:
    """Print one benchmark table. The last column compares each row's speed with
    the first row's (throughput ratio, or inverse time ratio): ``first row is
    N× as fast``; for the pairs tables it is each row's throughput ÷ the first's."""
    rows = section.rows
    show_ratio = section.key not in ("flat", "idle_alt") and len(rows) > 1
    first = rows[0] if rows else None
    if show_ratio and first is not None:
        if section.key.startswith("pairs"):
            label = f"÷ {first.variant}"
        else:
            label = f"{first.variant} is N× as fast"
        print(f"\n  {section.title}", file=out)
        print(f"    {'':<38} {'median':>12} {'':<10}  {label}", file=out)
    else:
        print(f"\n  {section.title}", file=out)
    for row in rows:
        text = f"    {row.variant:<38} {fmt(row.value, row.unit):>12} {row.unit:<10}"
        if show_ratio and first is not None and row is not first and row.value and first.value:
            if section.key.startswith("pairs"):
                r = row.value / first.value
            elif section.higher_is_better:
                r = first.value / row.value
            else:
                r = row.value / first.value
            text += f"  {r:.2f}×"
        if row.note:
            text += f"  ({row.note})"
        print(text, file=out)


def print_targets(all_targets: list[Target], out: Any) -> None:
    print("\nTargets (SPEC §10, issue 9): measured ratios in this run", file=out)
    header = f"  {'backend':<8} {'target':<46} {'goal':>11} {'measured':>10}  {'result':<6} how"
    print(header, file=out)
    print("  " + "-" * (len(header) + 30), file=out)
    for t in all_targets:
        if t.measured is None:
            measured, verdict = "n/a", "-"
        else:
            if "core" in t.goal or t.goal.endswith("%"):
                measured = f"{t.measured:.2f}%"
            elif "RSS" in t.name:
                measured = f"{t.measured:.2f} MiB"
            else:
                measured = f"{t.measured:.2f}x"
            verdict = "info" if t.goal == "(info)" else ("PASS" if t.passed else "MISS")
        print(f"  {t.backend:<8} {t.name:<46} {t.goal:>11} {measured:>10}  {verdict:<6} {t.how}", file=out)


def machine() -> dict[str, Any]:
    model = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:  # pragma: no cover
        pass

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "anyio": version("anyio"),
        "trio": version("trio"),
        "stbass": version("stbass"),
        "opentelemetry-sdk": version("opentelemetry-sdk"),
    }


def profile_case(
    title: str, backend: str, fn: Callable[..., Awaitable[float]], args: tuple[Any, ...], top: int, out: Any
) -> None:
    """cProfile of one case on *backend*; prints the top entries by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    anyio.run(fn, *args, backend=backend)
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    print(f"\n== cProfile: {title}, {backend} (by tottime) ==", file=out)
    lines = text.getvalue().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    head = [line for line in lines[:start] if "function calls" in line]
    for line in head + lines[start:]:
        if line.strip():
            print("  " + line, file=out)


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="stbass benchmarks against raw anyio/trio/asyncio"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, fewer repeats")
    parser.add_argument(
        "--backend", choices=("asyncio", "trio", "both"), default="both", help="which backend(s)"
    )
    parser.add_argument("--only", default="", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    parser.add_argument("--repeats", type=int, help="override the number of repeats")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size (e.g. 0.1)")
    parser.add_argument(
        "--tracemalloc", action="store_true", help="PAR_FOR memory with tracemalloc (slower, exact)"
    )
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the ping-pong (and of PAR/RACE/QUORUM of 10 with choice)")
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="time with process CPU time (default: robust on a shared machine; every case "
        "is CPU-bound on one thread) or wall-clock time",
    )
    args = parser.parse_args(argv)
    cases.perf = time.process_time if args.clock == "cpu" else time.perf_counter
    CLOCK[1] = args.clock

    sizes = QUICK if args.quick else FULL
    if args.scale != 1.0 or args.repeats is not None:
        sizes = scaled(sizes, args.scale, args.repeats)
    only = [b.strip() for b in args.only.split(",") if b.strip()] or list(BENCHMARKS)
    unknown = sorted(set(only) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    backends = ["asyncio", "trio"] if args.backend == "both" else [args.backend]

    info = machine()
    out = sys.stdout
    print(
        f"stbass benchmarks — {info['cpus']} CPUs ({info['cpu_model']}), Python {info['python']}, "
        f"anyio {info['anyio']}, trio {info['trio']}, stbass {info['stbass']}; "
        f"clock: {'process CPU time' if args.clock == 'cpu' else 'wall clock'}"
        + (" [quick]" if args.quick else ""),
        file=out,
    )
    started = time.perf_counter()
    report: dict[str, Any] = {
        "machine": info,
        "sizes": asdict(sizes),
        "clock": args.clock,
        "backends": {},
        "targets": [],
    }
    all_targets: list[Target] = []
    for backend in backends:
        print(f"\n== {backend} ==", file=out, flush=True)
        sections: dict[str, Section] = {}
        runners: dict[str, Callable[[], list[Section]]] = {
            "pingpong": lambda: bench_pingpong(backend, sizes),
            "alt": lambda: bench_alt(backend, sizes),
            "idle": lambda: bench_idle(backend, sizes),
            "spawn": lambda: bench_spawn(backend, sizes),
            "choice": lambda: bench_choice(backend, sizes),
            "parfor": lambda: bench_parfor(backend, sizes, args.tracemalloc),
            "flat": lambda: bench_flat(backend, sizes),
            "pairs": lambda: bench_pairs(backend, sizes),
            "tracing": lambda: bench_tracing(backend, sizes),
            "streams": lambda: bench_streams(backend, sizes),
            "dag": lambda: bench_dag(backend, sizes),

            "buffered": lambda: bench_buffered(backend, sizes),
            "actors": lambda: bench_actors(backend, sizes),
        }
        for key in BENCHMARKS:
            if key not in only:
                continue
            t0 = time.perf_counter()
            log(f"[{backend}] {key} ...")
            for section in runners[key]():
                sections[section.key] = section
                print_section(section, out)
                out.flush()
            log(f"[{backend}] {key} done in {time.perf_counter() - t0:.1f} s")
        found = targets(backend, sections)
        all_targets.extend(found)
        report["backends"][backend] = {
            key: {
                "title": s.title,
                "rows": [asdict(r) for r in s.rows],
                "higher_is_better": s.higher_is_better,
                "extra": s.extra,
            }
            for key, s in sections.items()
        }
    report["targets"] = [asdict(t) for t in all_targets]
    print_targets(all_targets, out)
    elapsed = time.perf_counter() - started
    report["seconds"] = elapsed
    print(f"\n(total {elapsed:.0f} s)", file=out)

    if args.profile:
        for backend in backends:
            if "choice" in only:
                runs = max(1, sizes.choice_children // 10)
                for kind in cases.CHOICE_KINDS:
                    profile_case(
                        f"{kind} of 10 trivial children, {runs:,} runs",
                        backend,
                        cases.choice_case,
                        (kind, 10, runs),
                        20,
                        out,
                    )
            n = min(sizes.pingpong, 20_000)
            profile_case(
                f"stbass ping-pong, {n:,} messages",
                backend,
                cases.pingpong,
                (cases.make_stbass, n),
                20,
                out,
            )
            n = min(sizes.tracing_on, 5_000)
            profile_case(
                f"stbass pipeline with SDK spans on, {n:,} messages",
                backend,
                cases.traced_pipeline,
                (n, "on"),
                20,
                out,
            )

    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
