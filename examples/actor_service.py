"""An actor-style service built from two channels: ``tell`` and ``ask``.

The actor is one process that owns its state (here: a shared memory that agents
write facts to and read them back from). Nobody else touches the state; they
talk to the actor through two channels:

* ``tell`` — fire-and-forget messages (``Remember``, ``Forget``);
* ``ask``  — requests that carry their own reply channel (``Recall``); the
  actor answers on it, so the asker gets exactly its own answer.

The actor waits on both channels with one ``ALT``. A guard's ``precondition``
switches off a channel once it is closed; when both are closed the actor stops.
Shutting the service down is closing its two channels::

    python examples/actor_service.py             # asyncio
    python examples/actor_service.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import anyio

from stbass import (
    ALT,
    AllGuardsDisabledError,
    PAR,
    SEQ,
    Chan,
    ChannelClosedError,
    Guard,
    Process,
    ProcessContext,
    ProcessResult,
    VariantProtocol,
)

# ----------------------------------------------------------------- messages


@dataclass(frozen=True)
class Remember:
    key: str
    fact: str


@dataclass(frozen=True)
class Forget:
    key: str


@dataclass(frozen=True)
class Recall:
    key: str
    reply: Chan[str | None]


# -------------------------------------------------------------------- actor


class MemoryActor(Process):
    """Holds the facts; handles ``tell`` and ``ask`` messages one at a time."""

    def __init__(self, tell: Chan[Any], ask: Chan[Recall]) -> None:
        super().__init__(name="memory")
        self.tell, self.ask = tell, ask
        self.facts: dict[str, str] = {}
        self.handled = 0

    async def run(self, ctx: ProcessContext) -> ProcessResult[int]:
        tell, ask = self.tell, self.ask
        # Build the ALT once; the preconditions are re-evaluated at every wait.
        mailbox = ALT(
            Guard(tell, precondition=lambda: not tell.closed),
            Guard(ask, precondition=lambda: not ask.closed),
        )
        while not (tell.closed and ask.closed):
            try:
                message = await mailbox
            except (ChannelClosedError, AllGuardsDisabledError):
                # a channel closed while we waited (its guard is now off), or
                # both did and no guard is left: the loop condition decides
                continue
            self.handled += 1
            if isinstance(message, Remember):
                self.facts[message.key] = message.fact
            elif isinstance(message, Forget):
                self.facts.pop(message.key, None)
            else:
                await anyio.sleep(0.002)  # looking something up takes a moment
                await message.reply.send(self.facts.get(message.key))
        return ProcessResult.ok(self.handled)


@dataclass
class ActorRef:
    """What clients hold: the two channels of the actor, with friendly methods.

    Many clients share these two channels (a mailbox is the one place where many
    writers make sense), so they call the channel objects directly: the
    per-process ``ctx.send`` would bind the first client as the only writer and
    refuse the second with ``ChannelTopologyError``.
    """

    tell_chan: Chan[Any]
    ask_chan: Chan[Recall]

    async def tell(self, message: Remember | Forget) -> None:
        await self.tell_chan.send(message)

    async def ask(self, key: str) -> str | None:
        reply = Chan[str | None](f"reply:{key}")  # a fresh channel per request
        await self.ask_chan.send(Recall(key, reply))
        return await reply.recv()

    def stop(self) -> None:
        self.tell_chan.close()
        self.ask_chan.close()


# ------------------------------------------------------------------ clients


def agent(
    ref: ActorRef,
    name: str,
    notes: dict[str, str],
    looks_up: list[str],
    seen: dict[str, str | None],
) -> Process:
    """An agent that stores its notes, waits a little, then looks keys up into *seen*."""

    async def body(ctx: ProcessContext) -> ProcessResult[int]:
        for key, fact in notes.items():
            await anyio.sleep(0.01)  # "thinking"
            await ref.tell(Remember(key, fact))
        await anyio.sleep(0.1)  # working on something else (the planner is done by then)
        for key in looks_up:
            seen[key] = await ref.ask(key)
            print(f"{name} asked {key!r}: {seen[key]!r}")
        return ProcessResult.ok(len(notes))

    return Process(body, name=name)


async def main() -> dict[str, Any]:
    """Two agents share memory through the actor; returns what they saw."""
    tell: Chan[Any] = Chan(VariantProtocol(Remember, Forget), name="tell")
    ask = Chan(Recall, name="ask")
    actor = MemoryActor(tell, ask)
    ref = ActorRef(tell, ask)

    seen: dict[str, str | None] = {}
    planner = agent(ref, "planner", {"goal": "ship v0.2", "deadline": "Friday"}, [], seen)
    coder = agent(ref, "coder", {"branch": "feature/anyio"}, ["goal", "deadline", "owner"], seen)

    @Process
    async def shutdown(ctx: ProcessContext) -> None:
        await ref.tell(Forget("branch"))
        ref.stop()  # closing the channels ends the actor's loop

    # The actor runs alongside the clients; once both clients are done, stop it.
    result = await PAR(actor, SEQ(PAR(planner, coder), shutdown)).run()
    if not result.is_ok:
        raise SystemExit(result.failures[0].summary)
    handled = result.results[0].value
    print(f"memory handled {handled} messages; facts left: {actor.facts}")
    return {"handled": handled, "facts": dict(actor.facts), "coder_saw": seen}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
