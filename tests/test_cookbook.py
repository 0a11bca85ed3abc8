"""The cookbook's examples run on both backends and do what their recipes say.

Each example is imported (it is a script, not a package) and its ``main()``
coroutine awaited on the backend under test; the command-line entry point is
checked too, with ``--backend trio``.
"""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

COOKBOOK = (
    "cache_search_timeout.py",
    "etl_pipeline.py",
    "multi_agent.py",
    "actor_service.py",
    "task_dag.py",
    "stream_pipeline.py",
)


def _load(name: str) -> dict[str, Any]:
    return runpy.run_path(str(EXAMPLES / name), run_name=name.removesuffix(".py"))


@pytest.mark.anyio
@pytest.mark.parametrize("by_hand", [False, True], ids=["RACE", "ALT"])
async def test_cache_search_timeout_takes_whichever_answers_first(by_hand: bool) -> None:
    main = _load("cache_search_timeout.py")["main"]
    with anyio.fail_after(20):
        answers = await main(timeout=1.0, by_hand=by_hand)  # generous: the search answers after 40 ms
    assert [(a.query, a.source) for a in answers] == [
        ("capital of France", "cache"),
        ("population of Lyon", "search"),
        ("meaning of life", "timeout"),
    ]
    assert answers[0].text == "Paris"
    assert answers[1].text == "top result for 'population of Lyon'"


@pytest.mark.anyio
async def test_cache_search_timeout_cancels_the_lookups_that_lost() -> None:
    ns = _load("cache_search_timeout.py")
    with anyio.fail_after(20):
        # The search would take a minute; the timer answers, and the search is
        # cancelled rather than awaited.
        answer = await ns["ask"]("unknown", search_delay=60.0, timeout=0.05)
        by_hand = await ns["ask_with_alt"]("unknown", search_delay=60.0, timeout=0.05)
    assert answer.source == by_hand.source == "timeout"


@pytest.mark.anyio
async def test_etl_pipeline_loads_clean_data_and_halts_on_a_bad_record() -> None:
    main = _load("etl_pipeline.py")["main"]
    with anyio.fail_after(20):
        outcome = await main()
    good, bad = outcome["results"].values()
    assert good == 4
    assert bad.process_name == "transform"
    assert bad.checkpoint == "2002"
    assert "amount 'twelve' is not a number" in bad.summary
    # HALT: nothing from the second file was loaded
    assert outcome["warehouse"].loaded == [1001, 1002, 1003, 1005]
    assert outcome["warehouse"].totals == {"ada": 6200, "grace": 1250}


@pytest.mark.anyio
async def test_multi_agent_synthesizes_what_the_researchers_found() -> None:
    main = _load("multi_agent.py")["main"]
    with anyio.fail_after(20):
        report = await main()
    assert report.used == ("benchmarks", "ecosystem", "migration")  # plan order
    assert report.missing == ("costs",)
    assert report.text.startswith("Yes: async serves")
    assert "no data on costs" in report.text


@pytest.mark.anyio
async def test_actor_service_answers_asks_and_applies_tells() -> None:
    main = _load("actor_service.py")["main"]
    with anyio.fail_after(20):
        outcome = await main()
    assert outcome["coder_saw"] == {"goal": "ship v0.2", "deadline": "Friday", "owner": None}
    assert outcome["facts"] == {"goal": "ship v0.2", "deadline": "Friday"}
    # 3 Remember + 3 Recall + 1 Forget
    assert outcome["handled"] == 7


@pytest.mark.anyio
async def test_task_dag_starts_each_task_when_its_own_inputs_are_ready() -> None:
    main = _load("task_dag.py")["main"]
    with anyio.fail_after(20):
        result, log = await main()
    ev = log.events
    assert result.values["summary"] == "Margin 29.2%; watch out: a competitor cut prices by 5%."
    # sales, costs and news all start before any of them ends
    first_end = min(i for i, e in enumerate(ev) if e.startswith("end"))
    assert {"start sales", "start costs", "start news"} <= set(ev[:first_end])
    # every task starts after the tasks it depends on have ended
    assert ev.index("start margin") > max(ev.index("end sales"), ev.index("end costs"))
    assert ev.index("start summary") > max(ev.index("end margin"), ev.index("end news"))
    # margin does not wait for the slow news task (no level-by-level waiting)
    assert ev.index("end margin") < ev.index("end news")


@pytest.mark.anyio
async def test_stream_pipeline_bounds_concurrency_and_loses_nothing() -> None:
    main = _load("stream_pipeline.py")["main"]
    with anyio.fail_after(30):
        stats = await main(n_urls=23)
    assert sorted(stats.stored) == sorted(f"https://example.org/post/{i}" for i in range(23))
    assert len(stats.stored) == 23  # exactly once each
    assert stats.batches == 5
    assert 1 <= stats.fetching.peak <= 4
    assert 1 <= stats.writing.peak <= 2
    assert stats.fetching.now == stats.writing.now == 0


@pytest.mark.parametrize("name", COOKBOOK)
def test_example_runs_from_the_command_line_on_trio(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--backend", "trio"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
