"""Read a replicated value with a quorum: trust it once a majority has answered.

Five replicas hold a versioned setting. Any one may be stale, down or stuck, so
a read asks all five and is done as soon as three (a majority) have answered:
``QUORUM(3, ...)`` succeeds with the first three answers, in the order they
came, and cancels the replicas still working. Two majorities always share a
replica, so the newest version among the three is the committed one. When
three replicas are down, three answers can no longer come, and the QUORUM
fails at once instead of waiting for the stuck one. The replicas are local
async functions with fixed latencies::

    python examples/quorum_vote.py             # asyncio
    python examples/quorum_vote.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import anyio

from stbass import QUORUM, Process, ProcessContext, QUORUMResult


@dataclass(frozen=True)
class Versioned:
    version: int
    value: str


@dataclass(frozen=True)
class Replica:
    name: str
    delay: float  # seconds to answer
    holds: Versioned | None  # None: the replica is down


class ReplicaDownError(ConnectionError):
    """The replica did not answer."""


def read_from(replica: Replica) -> Process:
    """A process that reads the setting from one replica."""

    async def read(ctx: ProcessContext) -> Versioned:
        await anyio.sleep(replica.delay)
        if replica.holds is None:
            raise ReplicaDownError(f"{replica.name} is down")
        return replica.holds

    return Process(read, name=replica.name)


def quorum_read(replicas: list[Replica]) -> QUORUM:
    """A majority read over *replicas*."""
    return QUORUM(len(replicas) // 2 + 1, *(read_from(r) for r in replicas))


@dataclass(frozen=True)
class Read:
    ok: bool
    value: Versioned | None
    answered: list[str]  # the replicas that made the quorum, first answer first
    cancelled: list[str]
    error: str = ""


async def read_setting(replicas: list[Replica]) -> Read:
    result: QUORUMResult = await quorum_read(replicas).run()
    names = [r.name for r in replicas]
    cancelled = [names[i] for i in result.cancelled]
    if result.is_fail:
        down = [f.process_name for f in result.failures if isinstance(f.error, ReplicaDownError)]
        return Read(False, None, [], cancelled, f"{len(down)} replicas down ({', '.join(down)})")
    newest = max(result.value, key=lambda v: v.version)
    return Read(True, newest, [names[i] for i in result.winners], cancelled)


V1 = Versioned(1, "timeout=30s")
V2 = Versioned(2, "timeout=10s")


async def main() -> list[Read]:
    """Two reads: a healthy cluster with a stale and a stuck replica, then one
    with three replicas down."""
    healthy = [
        Replica("r1", 0.02, V2),
        Replica("r2", 0.01, V1),  # stale: missed the last write
        Replica("r3", 60.0, V2),  # stuck: the quorum does not wait for it
        Replica("r4", 0.03, V2),
        Replica("r5", 0.04, None),
    ]
    degraded = [
        Replica("r1", 0.02, V2),
        Replica("r2", 0.01, None),
        Replica("r3", 60.0, V2),
        Replica("r4", 0.03, None),
        Replica("r5", 0.04, None),
    ]
    reads = []
    for label, cluster in (("healthy", healthy), ("degraded", degraded)):
        read = await read_setting(cluster)
        reads.append(read)
        if read.ok and read.value is not None:
            print(
                f"{label}: {read.value.value} (version {read.value.version}), "
                f"answered by {', '.join(read.answered)}; cancelled {', '.join(read.cancelled)}"
            )
        else:
            print(f"{label}: no quorum: {read.error}")
    return reads


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
