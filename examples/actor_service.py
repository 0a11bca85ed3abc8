"""An actor-style service with ``stbass.actors``: ``tell`` and ``ask``.

The actor owns its state (here: a shared memory that agents write facts to and
read them back from). Nobody else touches the state; they talk to the actor
through its :class:`~stbass.actors.ActorRef`:

* ``tell`` — fire-and-forget messages (``Remember``, ``Forget``), returning as
  soon as the message is in the actor's mailbox;
* ``ask``  — a request (``Recall``) that waits for the handler's answer.

The actor runs in a ``PAR`` beside its clients; once both clients are done, a
last step stops it (the mailbox closes, what it holds is still handled)::

    python examples/actor_service.py             # asyncio
    python examples/actor_service.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

import anyio

from stbass import PAR, SEQ, Process, ProcessContext, ProcessResult
from stbass.actors import Actor, ActorRef, handles

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


# -------------------------------------------------------------------- actor


class MemoryActor(Actor):
    """Holds the facts; handles one message at a time, so no lock is needed."""

    def __init__(self) -> None:
        super().__init__(name="memory", mailbox=16)
        self.facts: dict[str, str] = {}

    @handles
    async def remember(self, msg: Remember) -> None:
        self.facts[msg.key] = msg.fact

    @handles
    async def forget(self, msg: Forget) -> None:
        self.facts.pop(msg.key, None)

    @handles
    async def recall(self, msg: Recall) -> str | None:
        await anyio.sleep(0.002)  # looking something up takes a moment
        return self.facts.get(msg.key)


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
            seen[key] = await ref.ask(Recall(key))
            print(f"{name} asked {key!r}: {seen[key]!r}")
        return ProcessResult.ok(len(notes))

    return Process(body, name=name)


async def main() -> dict[str, Any]:
    """Two agents share memory through the actor; returns what they saw."""
    memory = MemoryActor()
    ref = memory.ref

    seen: dict[str, str | None] = {}
    planner = agent(ref, "planner", {"goal": "ship v0.2", "deadline": "Friday"}, [], seen)
    coder = agent(ref, "coder", {"branch": "feature/anyio"}, ["goal", "deadline", "owner"], seen)

    @Process
    async def shutdown(ctx: ProcessContext) -> None:
        await ref.tell(Forget("branch"))
        ref.stop()  # the actor handles what its mailbox holds, then its process ends

    # The actor runs alongside the clients; once both clients are done, stop it.
    result = await PAR(memory, SEQ(PAR(planner, coder), shutdown)).run()
    if not result.is_ok:
        raise SystemExit(result.failures[0].summary)
    handled = result.results[0].value
    print(f"memory handled {handled} messages; facts left: {memory.facts}")
    return {"handled": handled, "facts": dict(memory.facts), "coder_saw": seen}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
