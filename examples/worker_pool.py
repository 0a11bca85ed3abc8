"""A worker pool: Distributor -> workers -> Collector, shut down by closing one channel.

::

    producer --jobs--> Distributor --inbox[i]--> worker[i] --outbox[i]--> Collector --results--> consumer

The producer sends the jobs and closes ``jobs``. The Distributor then closes
every ``inbox[i]``; each worker's ``async for`` ends and it closes its
``outbox[i]``; once every outbox is closed the Collector closes ``results`` and
the consumer's loop ends. No process needs to know how many jobs there are.

With ``ready_first`` (the default) each job goes to whichever worker is idle,
so the fast workers take more of them; ``round_robin`` deals them out in turn::

    python examples/worker_pool.py                       # asyncio
    python examples/worker_pool.py --backend trio --strategy round_robin
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass
from typing import Any

import anyio

from stbass import PAR, Chan, Process, ProcessContext
from stbass.replicator import PAR_FOR
from stbass.topology import ChanArray, Collector, Distributor


@dataclass(frozen=True)
class Job:
    id: int
    text: str


@dataclass(frozen=True)
class Done:
    job: int
    worker: int
    words: int


def documents(n: int) -> list[Job]:
    words = "the quick brown fox jumps over the lazy dog".split()
    return [Job(i, " ".join(words[: 1 + i % len(words)])) for i in range(n)]


async def main(
    jobs: int = 40, workers: int = 4, strategy: Any = "ready_first", slowest: float = 0.004
) -> list[Done]:
    """Run *jobs* jobs through *workers* workers; returns one ``Done`` per job."""
    job_chan = Chan(Job, name="jobs")
    inbox = ChanArray(Job, workers, name_prefix="inbox")
    outbox = ChanArray(Done, workers, name_prefix="outbox")
    results = Chan(Done, name="results")
    done: list[Done] = []

    @Process
    async def producer(ctx: ProcessContext) -> int:
        for job in documents(jobs):
            await job_chan.send(job)
        job_chan.close()  # this one close shuts the whole pool down
        return jobs

    async def worker(i: int, ctx: ProcessContext) -> int:
        handled = 0
        pace = slowest * (i + 1) / workers  # worker 0 is the fastest
        async for job in inbox[i]:
            await anyio.sleep(pace)  # the real work
            await outbox[i].send(Done(job.id, i, len(job.text.split())))
            handled += 1
        outbox[i].close()
        return handled

    @Process
    async def consumer(ctx: ProcessContext) -> int:
        async for item in results:
            done.append(item)
        return len(done)

    result = await PAR(
        producer,
        Distributor(job_chan, inbox, strategy=strategy),
        PAR_FOR(workers, worker, name="worker"),
        Collector(outbox, results),
        consumer,
    ).run()
    if not result.is_ok:
        raise RuntimeError(f"worker pool failed: {result.failures[0].summary}")

    per_worker = Counter(d.worker for d in done)
    print(f"{len(done)} jobs done by {workers} workers ({strategy}):")
    for i in range(workers):
        print(f"  worker[{i}]: {per_worker[i]} jobs")
    print(f"total words counted: {sum(d.words for d in done)}")
    return done


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--strategy", choices=("ready_first", "round_robin"), default="ready_first")
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    anyio.run(main, args.jobs, args.workers, args.strategy, backend=args.backend)
