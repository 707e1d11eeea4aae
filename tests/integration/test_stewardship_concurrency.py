"""Optimistic concurrency of stewarded writes over a real Neo4j: no lost update.

Each round sends two updates of the same record with the same `expectedVersion` at once
(asyncio.gather on the in-process API, each its own request and transaction). Exactly one
commits; the other answers CONFLICT with the version the winner wrote. Each update
increments `employees` by one from the value read before the round, so a lost update would
leave the final value below the number of wins.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import APPLY, UPDATE_SUPPLIER, WRITER, payload, sid

pytestmark = pytest.mark.neo4j

ROUNDS = 100


async def _current(api: Api) -> tuple[int, int]:
    rows = await api.graph.read(
        "MATCH (s:Supplier {id: 'bae'}) RETURN coalesce(s.version, 1) AS v, s.employees AS e"
    )
    return int(rows[0]["v"]), int(rows[0]["e"])


async def test_two_concurrent_updates_one_wins_the_other_conflicts_no_lost_update(
    api: Api,
) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("bae", "GBR", employees=0)]))
    token = api.token("GBR", WRITER)
    wins = 0
    for _ in range(ROUNDS):
        version, employees = await _current(api)
        update = {
            "id": sid("bae"),
            "expectedVersion": version,
            "fields": {"employees": {"value": employees + 1, "marking": "PUBLIC"}},
        }
        replies = await asyncio.gather(
            *(api.query(UPDATE_SUPPLIER, {"input": update}, token=token) for _ in range(2))
        )
        outs = [payload(r) for r in replies]
        won = [o for o in outs if o["changes"]]
        lost = [o for o in outs if o["userErrors"]]
        assert len(won) == 1, outs
        assert len(lost) == 1, outs
        [error] = lost[0]["userErrors"]
        assert error["code"] == "CONFLICT"
        assert error["field"] == ["input", "expectedVersion"]
        assert error["currentVersion"] == version + 1
        assert won[0]["changes"][0]["version"] == version + 1
        wins += 1
    version, employees = await _current(api)
    assert employees == wins == ROUNDS
    assert version == ROUNDS + 1
    states = await api.graph.read(
        "MATCH (s:SupplierState)-[:STATE_OF]->(:Supplier {id: 'bae'}) "
        "RETURN count(s) AS n, count(CASE WHEN s.validTo IS NULL THEN 1 END) AS open"
    )
    assert states == [{"n": ROUNDS + 1, "open": 1}]  # baseline + one state per win


async def test_a_batch_is_one_transaction(api: Api) -> None:
    """A batch whose second change conflicts writes nothing, not even its first change."""
    await api.load(
        b.dataset(
            suppliers=[b.supplier("a", "GBR", employees=1), b.supplier("c", "GBR", employees=1)]
        )
    )
    changes = [
        {
            "updateSupplier": {
                "id": sid("a"),
                "expectedVersion": 1,
                "fields": {"employees": {"value": 2, "marking": "PUBLIC"}},
            }
        },
        {
            "updateSupplier": {
                "id": sid("c"),
                "expectedVersion": 7,
                "fields": {"employees": {"value": 2, "marking": "PUBLIC"}},
            }
        },
    ]
    before = await api.graph.read("MATCH (n) RETURN count(n) AS n")
    out = payload(await api.query(APPLY, {"input": changes}, token=api.token("GBR", WRITER)))
    assert out["changes"] == []
    assert out["userErrors"] == [
        {
            "field": ["input", "1", "updateSupplier", "expectedVersion"],
            "code": "CONFLICT",
            "message": "the record is at version 1",
            "currentVersion": 1,
        }
    ]
    rows = await api.graph.read(
        "MATCH (s:Supplier) RETURN s.id AS id, s.employees AS e, s.version AS v ORDER BY id"
    )
    assert rows == [{"id": "a", "e": 1, "v": None}, {"id": "c", "e": 1, "v": None}]
    assert await api.graph.read("MATCH (n) RETURN count(n) AS n") == before
    changes[1]["updateSupplier"]["expectedVersion"] = 1
    out = payload(await api.query(APPLY, {"input": changes}, token=api.token("GBR", WRITER)))
    assert out["userErrors"] == []
    assert [c["version"] for c in out["changes"]] == [2, 2]
