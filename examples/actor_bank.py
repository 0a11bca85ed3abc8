"""A bank of actors: accounts hold balances, a teller moves money with ``ask``.

Every account is an :class:`~stbass.actors.Actor` that owns its balance; the
only way to change it is a message (``Deposit``, ``Withdraw``, ``Balance``).
The teller is an actor too: a ``Transfer`` asks the source account to withdraw
and then the target to deposit, so transfers run one at a time and money is
never created or lost. A withdrawal that would overdraw raises
``InsufficientFunds`` in the account's handler; ``ask`` raises it again in the
teller, which reports it to the client that asked for the transfer, and every
actor keeps running::

    python examples/actor_bank.py             # asyncio
    python examples/actor_bank.py --backend trio
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from typing import Any

import anyio

from stbass.actors import Actor, ActorRef, handles

# ----------------------------------------------------------------- messages


@dataclass(frozen=True)
class Deposit:
    amount: int


@dataclass(frozen=True)
class Withdraw:
    amount: int


@dataclass(frozen=True)
class Balance:
    pass


@dataclass(frozen=True)
class Transfer:
    source: str
    target: str
    amount: int


class InsufficientFunds(Exception):
    """A withdrawal larger than the balance."""


# ------------------------------------------------------------------- actors


class Account(Actor):
    """One account: its balance is private state, changed one message at a time."""

    def __init__(self, owner: str, opening: int) -> None:
        super().__init__(name=f"account:{owner}", mailbox=8)
        self.owner = owner
        self.balance = opening

    @handles
    async def deposit(self, msg: Deposit) -> int:
        self.balance += msg.amount
        return self.balance

    @handles
    async def withdraw(self, msg: Withdraw) -> int:
        if msg.amount > self.balance:
            raise InsufficientFunds(
                f"{self.owner} has {self.balance}, cannot withdraw {msg.amount}"
            )
        self.balance -= msg.amount
        return self.balance

    @handles
    async def current(self, msg: Balance) -> int:
        return self.balance


class Teller(Actor):
    """Moves money between accounts: withdraw first, then deposit (both by ask)."""

    def __init__(self, accounts: dict[str, ActorRef]) -> None:
        super().__init__(name="teller")
        self.accounts = accounts

    @handles
    async def transfer(self, msg: Transfer) -> str:
        await self.accounts[msg.source].ask(Withdraw(msg.amount))  # may raise
        await self.accounts[msg.target].ask(Deposit(msg.amount))
        return f"moved {msg.amount} from {msg.source} to {msg.target}"


# ------------------------------------------------------------------ program

OPENING = {"ada": 100, "grace": 50, "linus": 0}
TRANSFERS = (
    Transfer("ada", "grace", 30),
    Transfer("grace", "linus", 20),
    Transfer("linus", "ada", 500),  # linus never has 500: this one fails
)


async def main() -> dict[str, Any]:
    """Run the transfers from concurrent clients; return what each one saw and
    the balances at the end."""
    accounts = {owner: Account(owner, opening) for owner, opening in OPENING.items()}
    outcomes: dict[Transfer, str] = {}

    async with contextlib.AsyncExitStack() as stack:
        # Background actors, bound to this block: leaving it stops them (the
        # teller first, then the accounts) after they handled their mailboxes.
        refs = {
            owner: await stack.enter_async_context(account.start())
            for owner, account in accounts.items()
        }
        teller = await stack.enter_async_context(Teller(refs).start())

        async def client(transfer: Transfer) -> None:
            try:
                outcomes[transfer] = await teller.ask(transfer, timeout=5)
            except InsufficientFunds as exc:  # the handler's error, at its caller
                outcomes[transfer] = f"refused: {exc}"

        async with anyio.create_task_group() as tg:
            for transfer in TRANSFERS:
                tg.start_soon(client, transfer)

        balances = {owner: await ref.ask(Balance()) for owner, ref in refs.items()}

    for transfer in TRANSFERS:
        print(f"{transfer.source} -> {transfer.target} ({transfer.amount}): {outcomes[transfer]}")
    print("balances:", balances, "total:", sum(balances.values()))
    return {
        "outcomes": [outcomes[t] for t in TRANSFERS],
        "balances": balances,
        "failures": [f.summary for ref in refs.values() for f in ref.failures],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
