"""examples/actor_bank.py on both backends: transfers by ask between account
actors, one refused transfer reported to its caller, no money made or lost."""

from __future__ import annotations

import runpy
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "actor_bank.py"


@pytest.mark.anyio
async def test_actor_bank_moves_money_and_reports_the_refused_transfer() -> None:
    main = runpy.run_path(str(EXAMPLE), run_name="actor_bank")["main"]
    with anyio.fail_after(20):
        outcome = await main()
    ok1, ok2, refused = outcome["outcomes"]
    assert ok1 == "moved 30 from ada to grace"
    assert ok2 == "moved 20 from grace to linus"
    assert refused.startswith("refused: linus has ") and "cannot withdraw 500" in refused
    assert outcome["balances"] == {"ada": 70, "grace": 60, "linus": 20}
    (failure,) = outcome["failures"]  # recorded by linus's account, which kept running
    assert failure.startswith("[account:linus] InsufficientFunds")


def test_actor_bank_runs_from_the_command_line_on_trio() -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--backend", "trio"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "balances: {'ada': 70, 'grace': 60, 'linus': 20} total: 150" in proc.stdout
