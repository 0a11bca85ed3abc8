"""Retry a flaky model call with backoff, and fall back to a cheaper model when
the retries run out.

The "models" are local async functions that fail on a fixed schedule, so the
program needs no network and fails the same way on every run::

    python examples/retry_with_fallback.py             # asyncio
    python examples/retry_with_fallback.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import anyio

from stbass import Placement, Process, ProcessContext, ProcessResult, RetryPolicy
from stbass.failure import FailureReport, retry_process


@dataclass
class FakeModel:
    """A stand-in for a remote LLM. ``flaky[prompt]`` is how many calls for that
    prompt fail before one succeeds (``-1``: every call fails)."""

    name: str
    flaky: dict[str, int] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    async def complete(self, prompt: str) -> str:
        await anyio.sleep(0)  # a real call would wait for the network here
        n = self.calls[prompt] = self.calls.get(prompt, 0) + 1
        budget = self.flaky.get(prompt, 0)
        if budget < 0:
            raise TimeoutError(f"{self.name} is overloaded")
        if n <= budget:
            raise ConnectionError(f"{self.name}: connection reset (call {n})")
        return f"{self.name} says: {prompt.upper()}"


def ask(model: FakeModel, prompt: str) -> Process:
    """A process that asks *model* one *prompt*."""

    async def call_model(ctx: ProcessContext) -> ProcessResult[str]:
        return ProcessResult.ok(await model.complete(prompt))

    return Process(call_model, name=f"ask {model.name}", placement=Placement(model=model.name))


@dataclass(frozen=True)
class Answer:
    prompt: str
    model: str
    text: str
    attempts: int


async def answer(
    prompt: str,
    primary: FakeModel,
    fallback: FakeModel,
    policy: RetryPolicy,
    report: FailureReport,
) -> Answer:
    """Ask *primary* with retries; on exhaustion ask *fallback* once."""
    calls_before = primary.calls.get(prompt, 0)
    result = await retry_process(
        ask(primary, prompt), ProcessContext(f"ask {primary.name}"), policy, report=report
    )
    attempts = primary.calls.get(prompt, 0) - calls_before
    if result.is_ok:
        return Answer(prompt, primary.name, result.value, attempts)
    print(f"  {result.failure.summary}; falling back to {fallback.name}")
    backup = await ask(fallback, prompt).execute(ProcessContext(f"ask {fallback.name}"))
    report.add(backup)
    return Answer(prompt, fallback.name, backup.value, attempts + 1)


async def main(base_delay: float = 0.05) -> tuple[list[Answer], FailureReport]:
    """Answer three prompts; returns the answers and the report of every call."""
    primary = FakeModel("big-model", flaky={"hello": 0, "summarise": 2, "translate": -1})
    fallback = FakeModel("small-model")
    policy = RetryPolicy(max_attempts=3, backoff="exponential", base_delay=base_delay)
    report = FailureReport("model calls")
    answers = []
    for prompt in ("hello", "summarise", "translate"):
        print(f"prompt {prompt!r}:")
        a = await answer(prompt, primary, fallback, policy, report)
        print(f"  -> {a.text} (from {a.model}, {a.attempts} call(s))")
        answers.append(a)
    print()
    print(report.summary())
    return answers, report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
