"""Stewarded writes through the API over a real Neo4j: create, update, retire, history."""

from __future__ import annotations

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    CREATE_SUPPLIER,
    HISTORY,
    SUPPLIER,
    UPDATE_SUPPLIER,
    created,
    payload,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j


async def test_create_then_update_supplier_with_history(api: Api) -> None:
    await api.load(b.dataset())
    made = await created(api, supplier_input("acme"))
    assert made["key"] == "GBR:acme"
    assert made["version"] == 1
    assert made["kind"] == "CREATED"
    reply = await write(
        api,
        UPDATE_SUPPLIER,
        {
            "id": made["id"],
            "expectedVersion": 1,
            "fields": {"employees": {"value": 120, "marking": "CUI"}},
        },
    )
    out = payload(reply)
    assert out["userErrors"] == []
    assert out["changes"][0]["version"] == 2
    read = await api.query(SUPPLIER, {"id": made["id"]}, nation="GBR")
    assert read.data["supplier"]["employees"] == 120
    hist = await api.query(HISTORY, {"id": made["id"]}, nation="GBR")
    assert hist.errors == [], hist.body
    revs = hist.data["supplier"]["history"]
    assert [r["kind"] for r in revs] == ["UPDATED", "CREATED"]
    assert revs[0]["changes"] == [
        {
            "field": "employees",
            "oldValue": 100,
            "oldMarking": "CUI",
            "newValue": 120,
            "newMarking": "CUI",
        }
    ]
    assert revs[0]["actorNation"] == "GBR"


async def test_update_of_seeded_record_makes_baseline(api: Api) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("bae", "GBR", record="CUI", employees=5)]))
    reply = await write(
        api,
        UPDATE_SUPPLIER,
        {
            "id": sid("bae"),
            "expectedVersion": 1,
            "fields": {"city": {"value": "Leeds", "marking": "PUBLIC"}},
        },
    )
    out = payload(reply)
    assert out["userErrors"] == []
    assert out["changes"][0]["version"] == 2
    rows = await api.graph.read(
        "MATCH (s:SupplierState)-[:STATE_OF]->(:Supplier {id: 'bae'}) "
        "RETURN s.kind AS kind, s.version AS v, s.originNation AS o, s.validTo IS NULL AS open "
        "ORDER BY v"
    )
    assert rows == [
        {"kind": "baseline", "v": 1, "o": "GBR", "open": False},
        {"kind": "updated", "v": 2, "o": "GBR", "open": True},
    ]
    _ = CREATE_SUPPLIER
