"""A multi-agent flow: plan -> research (in parallel) -> synthesize.

A planner agent splits a question into sub-questions and assigns each to a
specialist; the specialists research at the same time (``PAR`` with a deadline,
``COLLECT`` so that one failing specialist does not cancel the others, and the
flaky one marked ``optional()``); a writer agent synthesizes what came back.
The three steps are one ``SEQ``: each step gets the previous step's value on its
``"input"`` channel.

The "agents" are local async functions with small, realistic delays standing in
for LLM calls, so the program needs no network and no API key::

    python examples/multi_agent.py             # asyncio
    python examples/multi_agent.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import anyio

from stbass import (
    PAR,
    SEQ,
    FailurePolicy,
    PARResult,
    Process,
    ProcessContext,
    ProcessResult,
)

QUESTION = "Should our team move its agent pipelines from threads to async?"


class RateLimitError(Exception):
    """What a busy model API answers."""


@dataclass(frozen=True)
class Task:
    specialist: str
    question: str


@dataclass(frozen=True)
class Finding:
    specialist: str
    text: str


@dataclass(frozen=True)
class Report:
    question: str
    text: str
    used: tuple[str, ...]
    missing: tuple[str, ...]


async def fake_llm(prompt: str, *, latency: float, reply: str) -> str:
    """A stand-in for a model call: waits *latency* seconds, then answers *reply*."""
    await anyio.sleep(latency)
    return reply


ANSWERS = {  # what each specialist's "model" says
    "benchmarks": "async serves ~10x more concurrent model calls per core",
    "ecosystem": "our HTTP, database and queue clients all have async versions",
    "migration": "blocking calls inside tasks must move to worker threads",
}


# ------------------------------------------------------------------ the agents

SPECIALISTS: dict[str, float] = {  # name -> how long its model takes to answer
    "benchmarks": 0.03,
    "ecosystem": 0.02,
    "migration": 0.04,
    "costs": 0.01,  # rate-limited: fails at once (see researcher)
}


@Process
async def planner(ctx: ProcessContext) -> ProcessResult[list[Task]]:
    question: str = await ctx.recv("input")
    await fake_llm(f"plan: {question}", latency=0.02, reply="4 sub-questions")
    plan = [
        Task("benchmarks", "How much faster is async for I/O-bound LLM calls?"),
        Task("ecosystem", "Which of our libraries have async clients?"),
        Task("migration", "What breaks when threads become tasks?"),
        Task("costs", "What does the migration cost in engineer-weeks?"),
    ]
    return ProcessResult.ok(plan)


def researcher(task: Task) -> Process:
    """One specialist agent working on one task."""

    async def research(ctx: ProcessContext) -> ProcessResult[Finding]:
        if task.specialist == "costs":
            await anyio.sleep(SPECIALISTS["costs"])
            raise RateLimitError("429 Too Many Requests")
        text = await fake_llm(
            task.question, latency=SPECIALISTS[task.specialist], reply=ANSWERS[task.specialist]
        )
        return ProcessResult.ok(Finding(task.specialist, text))

    proc = Process(research, name=f"research:{task.specialist}")
    # The cost estimate is nice to have: if it fails, the flow still succeeds.
    return proc.optional() if task.specialist == "costs" else proc


@Process
async def research_all(ctx: ProcessContext) -> ProcessResult[list[Finding]]:
    """Fan out: one researcher per task of the plan, all at once, 1 s at most."""
    plan: list[Task] = await ctx.recv("input")
    team = PAR(
        *(researcher(t) for t in plan),
        on_failure=FailurePolicy.COLLECT,
        deadline=1.0,
    )
    result: PARResult = await team.run()
    for failure in result.failures:
        print(f"  (research) {failure.summary}")
    return ProcessResult.ok([r.value for r in result.successes])


@Process
async def synthesizer(ctx: ProcessContext) -> ProcessResult[Report]:
    findings: list[Finding] = await ctx.recv("input")
    used = tuple(f.specialist for f in findings)
    missing = tuple(s for s in SPECIALISTS if s not in used)
    notes = "; ".join(f.text for f in findings)
    draft = await fake_llm(f"Summarize for the team: {notes}", latency=0.03, reply=f"Yes: {notes}.")
    text = f"{draft} (from {', '.join(used)}; no data on {', '.join(missing) or 'nothing'})"
    return ProcessResult.ok(Report(QUESTION, text, used, missing))


async def main(question: str = QUESTION) -> Report:
    """Run the flow once; returns the final report."""
    flow = SEQ(planner, research_all, synthesizer)
    result = await flow.run(input_value=question)
    if not result.is_ok:
        raise SystemExit(f"flow failed: {result.failures[0].summary}")
    report: Report = result.value
    print(f"Q: {report.question}")
    print(f"A: {report.text}")
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
