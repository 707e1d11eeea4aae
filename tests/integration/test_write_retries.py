"""A write transaction that Neo4j fails as a deadlock victim runs again, and the retry is
counted by the server's error code (`QueryStats.retried`, `/metrics`'
`dibx_neo4j_write_retries_total{code}`) and logged: a deadlock says two writers take locks
in different orders, which is a bug to find, while other transient errors (a saturated
memory pool, a leader switch) are not."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from dibx.graph.driver import Rows, TxRunner
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

DEADLOCK = "Neo.TransientError.Transaction.DeadlockDetected"


async def _no_hook(rows: Rows) -> None:
    return None


async def test_a_deadlock_victim_is_retried_and_recorded_by_its_code(api: Api) -> None:
    graph = api.graph  # the app's: its retries feed /metrics
    await graph.write("CREATE (:LockProbe {id: 1}), (:LockProbe {id: 2})")
    locked = [asyncio.Event(), asyncio.Event()]

    def crossing(mine: int, other: int) -> tuple[list[int], Callable[[TxRunner], Awaitable[Rows]]]:
        attempts: list[int] = []

        async def work(tx: TxRunner) -> Rows:
            attempts.append(1)
            await tx.run("MATCH (p:LockProbe {id: $id}) SET p.v = 1", {"id": mine})
            if len(attempts) == 1:  # first attempt: hold one lock until the other holds its
                locked[mine - 1].set()
                await locked[other - 1].wait()
            await tx.run("MATCH (p:LockProbe {id: $id}) SET p.w = 1", {"id": other})
            return []

        return attempts, work

    (a, work_a), (b, work_b) = crossing(1, 2), crossing(2, 1)
    with capture_logs() as logs:
        await asyncio.gather(
            graph.transaction(work_a, before_commit=_no_hook),
            graph.transaction(work_b, before_commit=_no_hook),
        )
    assert sorted((len(a), len(b))) == [1, 2]  # one victim, run again
    assert (graph.stats.retries, graph.stats.retried) == (1, {DEADLOCK: 1})
    retried = [e for e in logs if e["event"] == "write transaction retried"]
    assert [e["code"] for e in retried] == [DEADLOCK]
    # It names the statement the victim failed on (the one reaching for the other's lock).
    assert retried[0]["statement"] == "MATCH (p:LockProbe {id: $id}) SET p.w = 1"
    rows = await graph.read("MATCH (p:LockProbe) WHERE p.v = 1 AND p.w = 1 RETURN count(p) AS n")
    assert rows == [{"n": 2}]  # both committed
    metrics = (await api.client.get("/metrics")).text
    assert f'dibx_neo4j_write_retries_total{{code="{DEADLOCK}"}} 1.0' in metrics
