"""The benchmark command still runs: ``python -m benchmarks --quick`` at tiny sizes.

No timing is asserted (benchmarks are never timed unit tests, SPEC §10); the test
checks that every benchmark ran on both backends, that the targets table came
out and that the JSON report has a figure for every target.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SECTIONS = (
    "pingpong",
    "alt_latency",
    "alt_throughput",
    "idle_alt",
    "spawn",
    "choice_10",
    "choice_1000",
    "parfor_time",
    "parfor_memory",
    "flat",
    "pairs[stbass]",
    "pairs[anyio]",
    "tracing",
    "sdk_span",
    "stream_map",
    "dag",

    "buffered",
    "actor_tell",
    "actor_ask",
)


def _run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def test_quick_benchmark_run_prints_every_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = _run(
        ["-m", "benchmarks", "--quick", "--scale", "0.05", "--repeats", "1", "--json", str(out)],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "== asyncio ==" in text and "== trio ==" in text
    assert "asyncio.Queue(1)" in text
    assert "Targets (SPEC §10" in text
    for word in ("PASS", "MISS"):
        if word in text:
            break
    else:
        raise AssertionError("no PASS/MISS verdict in the targets table:\n" + text)

    report = json.loads(out.read_text())
    assert set(report["backends"]) == {"asyncio", "trio"}
    for backend, sections in report["backends"].items():
        missing = [key for key in SECTIONS if key not in sections]
        assert not missing, f"{backend}: sections missing {missing}"
        native = "pairs[trio]" if backend == "trio" else "pairs[asyncio.Queue(1)]"
        assert native in sections
        for key, section in sections.items():
            assert section["rows"], f"{backend} {key}: no rows"
            for row in section["rows"]:
                assert row["value"] == row["value"] and row["value"] >= 0, (backend, key, row)
    names = {(t["backend"], t["name"]) for t in report["targets"]}
    assert ("trio", "ping-pong vs trio channel") in names
    assert ("asyncio", "idle ALT CPU") in names
    for target in report["targets"]:
        assert target["measured"] is not None, target


def test_script_entry_point_runs_one_benchmark_on_one_backend(tmp_path: Path) -> None:
    proc = _run(
        [
            str(ROOT / "benchmarks" / "run.py"),
            "--quick",
            "--backend",
            "trio",
            "--only",
            "pingpong",
            "--scale",
            "0.05",
            "--repeats",
            "1",
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "== trio ==" in proc.stdout and "== asyncio ==" not in proc.stdout
    assert "ping-pong vs trio channel" in proc.stdout


def test_unknown_benchmark_name_is_refused(tmp_path: Path) -> None:
    proc = _run(["-m", "benchmarks", "--only", "pingpong,warp"], tmp_path)
    assert proc.returncode == 2
    assert "warp" in proc.stderr
