"""Process jobs in batches with PAR(on_failure=COLLECT), one FailureReport per
batch, and a FailureAggregator over all of them.

Each job is a local async function: "parse" jobs reject malformed records,
"upload" jobs sometimes time out, "resize" jobs always work. The failures are
on a fixed schedule, so the same jobs fail on every run::

    python examples/batch_report.py             # asyncio
    python examples/batch_report.py --backend trio
"""

from __future__ import annotations

import argparse

import anyio

from stbass import PAR, FailurePolicy, Process, ProcessContext, ProcessResult
from stbass.failure import FailureAggregator, FailureReport

KINDS = ("parse", "resize", "upload")


def job(job_id: int) -> Process:
    """A process for job *job_id*; its name is the job's kind, so the reports can
    tell which kind of work fails most."""
    kind = KINDS[job_id % len(KINDS)]

    async def run_job(ctx: ProcessContext) -> ProcessResult[str]:
        ctx.checkpoint({"job": job_id})
        await anyio.sleep(0)  # the real work would wait on I/O here
        if kind == "parse" and job_id % 4 == 0:
            raise ValueError(f"record {job_id} is malformed")
        if kind == "upload" and job_id % 5 in (0, 2):
            raise TimeoutError(f"upload of job {job_id} timed out")
        return ProcessResult.ok(f"{kind} {job_id} done")

    return Process(run_job, name=kind)


async def run_batch(number: int, job_ids: range) -> FailureReport:
    """Run one batch in parallel, collecting every failure."""
    result = await PAR(*(job(i) for i in job_ids), on_failure=FailurePolicy.COLLECT).run()
    report = FailureReport(f"batch {number}")
    report.extend(result)
    return report


async def main(jobs: int = 24, batch_size: int = 8) -> FailureAggregator:
    """Run *jobs* jobs in batches of *batch_size*; returns the aggregator."""
    aggregator = FailureAggregator()
    for number, start in enumerate(range(0, jobs, batch_size), 1):
        report = await run_batch(number, range(start, min(start + batch_size, jobs)))
        aggregator.add_report(report)
        print(report.summary())
        print()
    print(aggregator.overall_summary())
    print("worst processes:", aggregator.worst_process_counts(3))
    return aggregator


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
