"""Fan a question out to N "researchers"; synthesize as soon as enough findings
are in, or at the deadline with whatever arrived.

Each researcher is a local async function standing in for a call to a model or a
search API: they take different times, one of them is stuck (it would answer in
a minute), and one hits a rate limit. ``QUORUM(enough, *researchers,
deadline=...)`` runs them all on the question (each gets it on its ``"input"``
channel) and

* succeeds as soon as ``enough`` of them have answered: their findings come in
  completion order, and the researchers still working are cancelled (no need
  to pay for answers nobody will read);
* at the ``deadline``, cancels whoever is still working; the QUORUM then fails
  (fewer than ``enough`` is not a quorum), but the findings that arrived in
  time are kept in ``result.winner_values``;
* lets a failing researcher fail alone: the others go on.

The synthesis uses the findings that arrived and says what is missing::

    python examples/research_fanout.py             # asyncio
    python examples/research_fanout.py --backend trio
    python examples/research_fanout.py --deadline 0.18   # a partial answer
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import anyio

from stbass import QUORUM, Process, ProcessCancelledError, ProcessContext, QUORUMResult

QUESTION = "How should a team adopt structured concurrency?"


@dataclass(frozen=True)
class Researcher:
    name: str
    angle: str
    delay: float  # seconds the "API call" takes
    claim: str
    rate_limited: bool = False


RESEARCHERS = (
    Researcher("ada", "CSP and occam", 0.08, "processes share nothing and talk over channels"),
    Researcher("bo", "trio nurseries", 0.20, "every task has a parent that waits for it"),
    # stuck: the quorum (or the deadline) cuts it off
    Researcher("cy", "a vendor whitepaper", 60.0, "buy our orchestration platform"),
    Researcher("dee", "anyio task groups", 0.12, "one API runs on asyncio and trio"),
    Researcher("eli", "asyncio.TaskGroup", 0.16, "the standard library has it since 3.11"),
    Researcher("fay", "cancel scopes", 0.04, "timeouts are scopes, not flags", rate_limited=True),
    Researcher("gus", "ExceptionGroup", 0.28, "concurrent failures are reported together"),
    Researcher("hal", "virtual clocks", 0.24, "tests of timeouts run in microseconds"),
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
    findings: list[Finding]  # in the order they arrived
    enough: int
    timed_out: list[str] = field(default_factory=list)
    not_needed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Enough findings arrived."""
        return len(self.findings) >= self.enough

    def render(self) -> str:
        got = f"{len(self.findings)} of the {self.enough} findings wanted"
        lines = [f"Q: {self.question}", f"Got {got}:"]
        lines += [f"  - {f.researcher} ({f.angle}): {f.text}" for f in self.findings]
        if self.findings:
            claims = "; ".join(f.text for f in self.findings)
            caveat = "" if self.complete else " (a partial answer: the deadline came first)"
            lines.append(f"Synthesis{caveat}: adopt it step by step, because {claims}.")
        if self.not_needed:
            lines.append(f"Not needed (enough answers were in): {', '.join(self.not_needed)}")
        if self.timed_out:
            lines.append(f"Missed the deadline: {', '.join(self.timed_out)}")
        for name, why in self.failed.items():
            lines.append(f"Failed: {name}: {why}")
        return "\n".join(lines)


def researcher(who: Researcher) -> Process:
    """One researcher: reads the question on ``"input"``, returns a Finding."""

    async def research(ctx: ProcessContext) -> Finding:
        question: str = await ctx.recv("input")
        ctx.checkpoint({"researcher": who.name, "question": question})
        await anyio.sleep(who.delay)  # the model / search call
        if who.rate_limited:
            raise RateLimitedError("429 Too Many Requests (retry after 30s)")
        return Finding(who.name, who.angle, who.claim)

    return Process(research, name=who.name)


def research_team(researchers: tuple[Researcher, ...], enough: int, deadline: float) -> QUORUM:
    """Done when *enough* researchers have answered, or at *deadline* seconds."""
    return QUORUM(enough, *(researcher(who) for who in researchers), deadline=deadline)


async def main(
    deadline: float = 1.0,
    enough: int = 5,
    researchers: tuple[Researcher, ...] = RESEARCHERS,
) -> Synthesis:
    """Ask every researcher; synthesize once *enough* findings are in, or at
    *deadline* seconds with what arrived."""
    result: QUORUMResult = await research_team(researchers, enough, deadline).run(QUESTION)

    # Success: the first `enough` findings. Deadline (or too many failures):
    # no quorum, but the findings that arrived are kept.
    synthesis = Synthesis(QUESTION, list(result.winner_values), enough)
    for who, r in zip(researchers, result.results):
        if r.is_ok:
            continue
        error = r.failure.error
        if isinstance(error, ProcessCancelledError):
            if error.reason == "lost":
                synthesis.not_needed.append(who.name)
            else:  # "deadline", or "halt": enough findings could no longer come
                synthesis.timed_out.append(who.name)
        else:
            synthesis.failed[who.name] = f"{type(error).__name__}: {error}"
    print(synthesis.render())
    return synthesis


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    parser.add_argument("--deadline", type=float, default=1.0)
    parser.add_argument("--enough", type=int, default=5)
    args = parser.parse_args()
    anyio.run(main, args.deadline, args.enough, backend=args.backend)
