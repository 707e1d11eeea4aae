"""Heavy work holds a gate slot per Neo4j connection it uses at once: an analysis that splits
its reads (`parallel_reads`) takes that many, so the connections left for light requests are
what the gate says (services/budget.py). Slots are taken all at once, never in part."""

from __future__ import annotations

import asyncio

import pytest

from dibx.errors import Busy
from dibx.services.analytics.limits import AnalyticsLimits, within
from dibx.services.budget import HeavyWork, RequestBudget


async def test_an_analysis_with_parallel_reads_holds_a_slot_per_read() -> None:
    gate = HeavyWork(concurrency=4, per_subject=2, wait_s=1.0)
    budget = RequestBudget(gate=gate, subject="analyst")
    limits = AnalyticsLimits(parallel_reads=3).bound(budget)
    seen: list[int] = []

    async def work() -> str:
        seen.append(gate.held)
        return "done"

    assert await within(limits, work(), connections=limits.parallel_reads) == "done"
    assert seen == [3]
    assert gate.held == 0


async def test_slots_are_taken_whole_or_the_operation_waits() -> None:
    gate = HeavyWork(concurrency=4, per_subject=4, wait_s=0.2)
    inside = asyncio.Event()
    leave = asyncio.Event()

    async def hold(weight: int) -> None:
        async with gate.slot("a", weight):
            inside.set()
            await leave.wait()

    holder = asyncio.create_task(hold(3))
    async with asyncio.timeout(5):
        await inside.wait()
    assert gate.held == 3
    # Two more connections do not fit beside three: refused after the wait, none taken.
    with pytest.raises(Busy):
        async with gate.slot("b", 2):
            pytest.fail("got two slots of the one left")
    assert gate.held == 3
    # One does.
    async with gate.slot("b", 1):
        assert gate.held == 4
    leave.set()
    await holder
    assert gate.held == 0


async def test_a_freed_slot_wakes_an_operation_that_waits_for_several() -> None:
    gate = HeavyWork(concurrency=2, per_subject=2, wait_s=5.0)
    release = asyncio.Event()

    async def hold() -> None:
        async with gate.slot("a", 2):
            await release.wait()

    holder = asyncio.create_task(hold())
    await asyncio.sleep(0)
    assert gate.held == 2
    waiter = asyncio.create_task(_take(gate, "b", 2))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    release.set()
    async with asyncio.timeout(5):
        assert await waiter == 2
    await holder


async def _take(gate: HeavyWork, subject: str, weight: int) -> int:
    async with gate.slot(subject, weight):
        return gate.held


def test_more_slots_than_the_gate_has_are_capped_at_all_of_them() -> None:
    gate = HeavyWork(concurrency=2, per_subject=1, wait_s=1.0)

    async def run() -> int:
        return await _take(gate, "a", 5)

    assert asyncio.run(run()) == 2
