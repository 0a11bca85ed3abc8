"""A rare ordering bug that plain runs miss and ``stbass.testing.explore`` finds.

An account server takes requests from two clients on one channel. The account
opens with 25; the salary (+50) arrives at once, the rent (-30) a moment later,
and the server, busy warming up, serves them after both arrived. It assumes
requests are served in arrival order — but when several senders wait on a
channel, which one a receiver hears first is not promised (only each sender's
own messages keep their order). Served rent-first, the balance goes negative.

Plain runs always serve the salary first (it is the oldest waiting sender), on
both backends, run after run. ``explore`` lets hypothesis make each such
decision (which waiting sender commits first, the start order of the PAR, ALT's
choice, trio's scheduler), finds the schedule where the rent is first, shrinks
it to a minimal list of decisions, and replays it exactly.

    python examples/schedule_bug.py [--backend trio]
"""

from __future__ import annotations

import argparse

import anyio

from stbass import PAR, Chan, Process, ProcessContext
from stbass.testing import ScheduleFailure, explore


async def bank() -> None:
    """The program: the server and its two clients."""
    requests: Chan[tuple[str, int]] = Chan(tuple, name="requests")

    @Process
    async def salary(ctx: ProcessContext) -> None:
        await requests.send(("deposit", 50))

    @Process
    async def rent(ctx: ProcessContext) -> None:
        await anyio.sleep(0.001)  # arrives after the salary
        await requests.send(("withdraw", 30))

    @Process
    async def server(ctx: ProcessContext) -> int:
        await anyio.sleep(0.003)  # warming up: both clients are waiting by now
        balance = 25
        for _ in range(2):
            kind, amount = await requests.recv()
            balance += amount if kind == "deposit" else -amount
            assert balance >= 0, f"overdrawn: {kind} {amount} left the balance at {balance}"
        return balance

    result = await PAR(server, salary, rent).run()
    if result.is_fail:
        raise result.failures[0].error
    assert result.value[0] == 45


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    for _ in range(100):
        anyio.run(bank, backend=args.backend)
    print(f"100 plain runs on {args.backend}: no failure")
    try:
        explore(bank, max_examples=200, backends=(args.backend,))
    except ScheduleFailure as failure:
        print(f"explore found it:\n{failure}")
        try:
            explore(bank, replay=failure.decisions, backends=(failure.backend,))
        except ScheduleFailure as again:
            print(f"and the replay fails the same way: {again.error}")
    else:
        raise SystemExit("explore did not find the bug")


if __name__ == "__main__":
    main()
