"""Retry a flaky model call with backoff, and fall back to a cheaper model when
the retries run out, or when the big model takes too long.

The two calls are one ``HEDGE(primary, fallback, after=budget)``:

* the primary is the big model wrapped in ``retry_process`` (three attempts,
  exponential backoff);
* when the primary fails for good, the HEDGE starts the fallback **at once**;
* when the primary (retries included) has not answered within ``budget``
  seconds, the HEDGE starts the fallback **as well**, and the first answer wins:
  the other call is cancelled.

The "models" are local async functions that fail (or hang) on a fixed
schedule, so the program needs no network and behaves the same on every run::

    python examples/retry_with_fallback.py             # asyncio
    python examples/retry_with_fallback.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import anyio

from stbass import (
    HEDGE,
    Placement,
    Process,
    ProcessCancelledError,
    ProcessContext,
    ProcessResult,
    RACEResult,
    RetryPolicy,
)
from stbass.failure import FailureReport, retry_process


@dataclass
class FakeModel:
    """A stand-in for a remote LLM. ``flaky[prompt]`` is how many calls for that
    prompt fail before one succeeds (``-1``: every call fails); a prompt in
    ``hangs`` never gets an answer."""

    name: str
    flaky: dict[str, int] = field(default_factory=dict)
    hangs: frozenset[str] = frozenset()
    calls: dict[str, int] = field(default_factory=dict)

    async def complete(self, prompt: str) -> str:
        await anyio.sleep(0)  # a real call would wait for the network here
        n = self.calls[prompt] = self.calls.get(prompt, 0) + 1
        if prompt in self.hangs:
            await anyio.sleep_forever()  # the connection is open, nothing comes back
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


def retried(process: Process, policy: RetryPolicy, report: FailureReport) -> Process:
    """*process* run by ``retry_process`` under *policy*: one process that
    succeeds with the first success, or fails once the attempts run out. Every
    attempt goes into *report*."""

    async def with_retries(ctx: ProcessContext) -> ProcessResult[str]:
        return await retry_process(process, ctx, policy, report=report)

    return Process(with_retries, name=process.name)


def ask_with_fallback(
    prompt: str,
    primary: FakeModel,
    fallback: FakeModel,
    policy: RetryPolicy,
    report: FailureReport,
    budget: float,
) -> HEDGE:
    """Ask *primary* with retries; ask *fallback* (once) when that fails, or
    when it has not answered within *budget* seconds."""
    once = RetryPolicy(max_attempts=1)
    return HEDGE(
        retried(ask(primary, prompt), policy, report),
        retried(ask(fallback, prompt), once, report),
        after=budget,
    )


@dataclass(frozen=True)
class Answer:
    prompt: str
    model: str
    text: str
    attempts: int  # model calls made, both models


async def answer(
    prompt: str,
    primary: FakeModel,
    fallback: FakeModel,
    policy: RetryPolicy,
    report: FailureReport,
    budget: float,
) -> Answer:
    calls_before = primary.calls.get(prompt, 0) + fallback.calls.get(prompt, 0)
    flow = ask_with_fallback(prompt, primary, fallback, policy, report, budget)
    result: RACEResult = await flow.run()
    attempts = primary.calls.get(prompt, 0) + fallback.calls.get(prompt, 0) - calls_before
    first = result.results[0]
    if result.started > 1:  # the fallback was asked: say why
        error = first.failure.error
        if isinstance(error, ProcessCancelledError):
            print(f"  {primary.name} did not answer within {budget}s; also asking {fallback.name}")
        else:
            print(f"  {first.failure.summary}; falling back to {fallback.name}")
    if result.is_fail:
        return Answer(prompt, "none", f"no answer: {result.failures[0].summary}", attempts)
    model = (primary, fallback)[result.winner or 0].name
    return Answer(prompt, model, result.value, attempts)


async def main(
    base_delay: float = 0.05, budget: float = 1.0
) -> tuple[list[Answer], FailureReport]:
    """Answer four prompts; returns the answers and the report of every call."""
    primary = FakeModel(
        "big-model",
        flaky={"hello": 0, "summarise": 2, "translate": -1},
        hangs=frozenset({"outline"}),
    )
    fallback = FakeModel("small-model")
    policy = RetryPolicy(max_attempts=3, backoff="exponential", base_delay=base_delay)
    report = FailureReport("model calls")
    answers = []
    for prompt in ("hello", "summarise", "translate", "outline"):
        print(f"prompt {prompt!r}:")
        a = await answer(prompt, primary, fallback, policy, report, budget)
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
