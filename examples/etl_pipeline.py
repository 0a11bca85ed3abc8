"""Extract, transform, load: a three-stage pipeline composed with SEQ.

Each stage is a process. ``SEQ`` hands each stage the previous stage's value on
its ``"input"`` channel, so the stages know nothing about each other. With the
default ``FailurePolicy.HALT`` a failing stage stops the pipeline: nothing half
transformed is ever loaded, and the failure says which stage failed, on which
record (``ctx.checkpoint``)::

    python examples/etl_pipeline.py             # asyncio
    python examples/etl_pipeline.py --backend trio
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio

from stbass import SEQ, Process, ProcessContext, ProcessResult, SEQResult

#: Two "files" in a fake object store: one clean, one with a corrupt record.
SOURCES = {
    "s3://shop/orders-2024-05.csv": [
        "order_id,customer,amount_eur",
        "1001,ada,19.90",
        "1002,grace,5.00",
        "1003,ada,42.10",
        "1004,linus,",  # no amount: dropped by transform, with a warning
        "1005,grace,7.50",
    ],
    "s3://shop/orders-2024-06.csv": [
        "order_id,customer,amount_eur",
        "2001,ada,12.00",
        "2002,grace,twelve",  # not a number: transform fails on this record
    ],
}


@dataclass(frozen=True)
class Order:
    order_id: int
    customer: str
    amount_cents: int


@dataclass
class Warehouse:
    """A stand-in for a database: totals per customer, and what was loaded."""

    totals: dict[str, int] = field(default_factory=dict)
    loaded: list[int] = field(default_factory=list)


@Process
async def extract(ctx: ProcessContext) -> ProcessResult[list[dict[str, str]]]:
    """Read the CSV lines named by the input and turn them into dicts."""
    uri = await ctx.recv("input")
    await anyio.sleep(0.03)  # network latency of the object store
    header, *lines = SOURCES[uri]
    keys = header.split(",")
    rows = [dict(zip(keys, line.split(","))) for line in lines]
    return ProcessResult.ok(rows)


@Process
async def transform(ctx: ProcessContext) -> ProcessResult[list[Order]]:
    """Validate and convert rows; rows without an amount are skipped."""
    rows: list[dict[str, str]] = await ctx.recv("input")
    orders = []
    for row in rows:
        ctx.checkpoint(row["order_id"])  # a failure will say which record it was on
        if not row["amount_eur"]:
            print(f"  transform: skipping order {row['order_id']} (no amount)")
            continue
        try:
            cents = int(Decimal(row["amount_eur"]) * 100)
        except ArithmeticError:  # Decimal("twelve"): the process fails, SEQ halts
            raise ValueError(f"amount {row['amount_eur']!r} is not a number") from None
        orders.append(Order(int(row["order_id"]), row["customer"], cents))
    return ProcessResult.ok(orders)


def load(warehouse: Warehouse) -> Process:
    """A stage that writes orders to *warehouse*; its value is how many it wrote."""

    async def load(ctx: ProcessContext) -> ProcessResult[int]:
        orders: list[Order] = await ctx.recv("input")
        for order in orders:
            await anyio.sleep(0.005)  # one round trip per insert
            warehouse.totals[order.customer] = (
                warehouse.totals.get(order.customer, 0) + order.amount_cents
            )
            warehouse.loaded.append(order.order_id)
        return ProcessResult.ok(len(orders))

    return Process(load)


async def main() -> dict[str, Any]:
    """Run the pipeline over both sources; returns what happened, for the tests."""
    warehouse = Warehouse()
    pipeline = SEQ(extract, transform, load(warehouse))  # a value: run it many times
    outcome: dict[str, Any] = {"warehouse": warehouse, "results": {}}
    for uri in SOURCES:
        print(f"{uri}:")
        result: SEQResult = await pipeline.run(input_value=uri)
        if result.is_ok:
            print(f"  loaded {result.value} orders")
            outcome["results"][uri] = result.value
        else:
            failure = result.failures[0]
            print(f"  pipeline failed: {failure.summary} (at order {failure.checkpoint})")
            print(f"  stages run: {len(result.results)} of {len(pipeline.procs)}")
            outcome["results"][uri] = failure
    print("totals (cents):", warehouse.totals)
    return outcome


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio")
    args = parser.parse_args()
    anyio.run(main, backend=args.backend)
