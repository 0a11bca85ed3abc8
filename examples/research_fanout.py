"""Fan a question out to N "researchers", keep what comes back in time, synthesize.

Each researcher is a local async function standing in for a call to a model or a
search API: it takes a little while, one of them is stuck (it would answer in a
minute), and one hits a rate limit. ``PAR_FOR`` runs them with

* ``max_parallel`` — at most that many calls in flight at once (a rate-limited
  API), the rest wait for a slot in index order;
* ``deadline`` — whatever has not answered by then is cancelled;
* ``on_failure=COLLECT`` — one researcher failing does not cancel the others.

The synthesis then uses the findings that arrived and says what is missing::

    python examples/research_fanout.py             # asyncio
    python examples/research_fanout.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import anyio

from stbass import FailurePolicy, ProcessCancelledError, ProcessContext, ProcessResult
from stbass.replicator import PAR_FOR

QUESTION = "How should a team adopt structured concurrency?"


@dataclass(frozen=True)
class Researcher:
    name: str
    angle: str
    delay: float  # seconds the "API call" takes
    claim: str
    rate_limited: bool = False


RESEARCHERS = (
    Researcher("ada", "CSP and occam", 0.03, "processes share nothing and talk over channels"),
    Researcher("bo", "trio nurseries", 0.05, "every task has a parent that waits for it"),
    # stuck: the deadline cuts it off
    Researcher("cy", "a vendor whitepaper", 60.0, "buy our orchestration platform"),
    Researcher("dee", "anyio task groups", 0.02, "one API runs on asyncio and trio"),
    Researcher("eli", "asyncio.TaskGroup", 0.04, "the standard library has it since 3.11"),
    Researcher("fay", "cancel scopes", 0.03, "timeouts are scopes, not flags", rate_limited=True),
    Researcher("gus", "ExceptionGroup", 0.06, "concurrent failures are reported together"),
    Researcher("hal", "virtual clocks", 0.02, "tests of timeouts run in microseconds"),
)


class RateLimitedError(RuntimeError):
    """The (pretend) API said 429."""


@dataclass(frozen=True)
class Finding:
    researcher: str
    angle: str
    text: str


@dataclass
class Synthesis:
    question: str
    findings: list[Finding]
    timed_out: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    peak_parallel: int = 0

    def render(self) -> str:
        lines = [f"Q: {self.question}", f"Answered by {len(self.findings)} researchers:"]
        lines += [f"  - {f.researcher} ({f.angle}): {f.text}" for f in self.findings]
        if self.findings:
            claims = "; ".join(f.text for f in self.findings)
            lines.append(f"Synthesis: adopt it step by step, because {claims}.")
        if self.timed_out:
            lines.append(f"Missed the deadline: {', '.join(self.timed_out)}")
        for name, why in self.failed.items():
            lines.append(f"Failed: {name}: {why}")
        lines.append(f"At most {self.peak_parallel} researchers were working at once.")
        return "\n".join(lines)


async def main(
    deadline: float = 1.0,
    max_parallel: int = 3,
    researchers: tuple[Researcher, ...] = RESEARCHERS,
) -> Synthesis:
    """Ask every researcher (at most *max_parallel* at once, within *deadline*
    seconds) and synthesize what came back."""
    working = 0
    peak = 0

    async def research(i: int, ctx: ProcessContext) -> ProcessResult[Finding]:
        nonlocal working, peak
        who = researchers[i]
        working += 1
        peak = max(peak, working)
        try:
            ctx.checkpoint({"researcher": who.name, "angle": who.angle})
            await anyio.sleep(who.delay)  # the model / search call
            if who.rate_limited:
                raise RateLimitedError("429 Too Many Requests (retry after 30s)")
            return ProcessResult.ok(Finding(who.name, who.angle, who.claim))
        finally:
            working -= 1

    result = await PAR_FOR(
        len(researchers),
        research,
        on_failure=FailurePolicy.COLLECT,
        deadline=deadline,
        max_parallel=max_parallel,
        name="researcher",
    ).run()

    synthesis = Synthesis(QUESTION, [r.value for r in result.results if r.is_ok])
    for who, r in zip(researchers, result.results):
        if r.is_ok:
            continue
        error = r.failure.error
        if isinstance(error, ProcessCancelledError) and error.reason == "deadline":
            synthesis.timed_out.append(who.name)
        else:
            synthesis.failed[who.name] = f"{type(error).__name__}: {error}"
    synthesis.peak_parallel = peak
    print(synthesis.render())
    return synthesis


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--deadline", type=float, default=1.0)
    parser.add_argument("--max-parallel", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.deadline, args.max_parallel, backend=args.backend)
