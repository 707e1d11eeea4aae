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


async def _snapshot(api: Api) -> list[dict[str, object]]:
    return await api.graph.read(
        "MATCH (n) RETURN labels(n) AS l, properties(n) AS p ORDER BY elementId(n)"
    )


@pytest.mark.parametrize(
    ("change", "path", "code"),
    [
        ({"employees": {"value": -5, "marking": "CUI"}}, "fields.employees.value", "INVALID"),
        ({"city": {"value": "x" * 2001, "marking": "CUI"}}, "fields.city.value", "INVALID"),
        (
            {"city": {"value": "Leeds", "marking": "CUI//WHAT"}},
            "fields.city.marking",
            "MARKING_INVALID",
        ),
        ({"cage": {"value": "no", "marking": "CUI"}}, "fields.cage.value", "INVALID"),
    ],
)
async def test_invalid_values_write_nothing_and_name_the_input(
    api: Api, change: dict[str, object], path: str, code: str
) -> None:
    await api.load(b.dataset())
    before = await _snapshot(api)
    given = supplier_input("x")
    given["fields"].update(change)
    out = payload(await write(api, CREATE_SUPPLIER, given))
    assert out["changes"] == []
    assert [(".".join(e["field"]), e["code"]) for e in out["userErrors"]] == [
        (f"input.{path}", code)
    ]
    assert await _snapshot(api) == before


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"employees": {"value": "many", "marking": "CUI"}}, "employees"),  # wrong type
        ({"colour": {"value": "red", "marking": "CUI"}}, "colour"),  # unknown field
        ({"city": {"value": "Leeds"}}, "marking"),  # a field without its marking
    ],
)
async def test_malformed_inputs_are_refused_by_the_schema_and_write_nothing(
    api: Api, fields: dict[str, object], named: str
) -> None:
    await api.load(b.dataset())
    before = await _snapshot(api)
    given = supplier_input("x")
    given["fields"].update(fields)
    reply = await write(api, CREATE_SUPPLIER, given)
    assert reply.data is None
    [error] = reply.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert named in error["message"]
    assert await _snapshot(api) == before


async def test_a_marking_change_needs_a_reason_and_is_kept_in_history(api: Api) -> None:
    await api.load(b.dataset())
    made = await created(api, supplier_input("acme"))
    change = {
        "id": made["id"],
        "expectedVersion": 1,
        "fields": {"employees": {"value": 100, "marking": "CUI//REL TO USA, GBR"}},
    }
    out = payload(await write(api, UPDATE_SUPPLIER, change))
    assert [(e["field"], e["code"]) for e in out["userErrors"]] == [
        (["input", "reason"], "REASON_REQUIRED")
    ]
    out = payload(await write(api, UPDATE_SUPPLIER, {**change, "reason": "MOD asked"}))
    assert out["userErrors"] == []
    hist = await api.query(HISTORY, {"id": made["id"]}, nation="GBR")
    [latest, _] = hist.data["supplier"]["history"]
    assert latest["reason"] == "MOD asked"
    assert latest["changes"] == [
        {
            "field": "employees",
            "oldValue": 100,
            "oldMarking": "CUI",
            "newValue": 100,
            "newMarking": "CUI//REL TO USA, GBR",
        }
    ]
    rows = await api.graph.read(
        "MATCH (s:Supplier {id: $id}) RETURN s.markedByNation_employees AS n, "
        "s.markingReason_employees AS r, duration.inDays(s.markedAt_employees, "
        "s.reviewBy_employees).days AS days",
        {"id": "GBR:acme"},
    )
    assert rows == [{"n": "GBR", "r": "MOD asked", "days": 365}]


async def test_history_releases_an_old_value_only_under_its_old_marking(api: Api) -> None:
    """USA writes a NOFORN value, then releases it to GBR with a new value: GBR sees the new
    value and the fact of the change, never the NOFORN one; USA sees both."""
    await api.load(b.dataset())
    made = await created(
        api,
        supplier_input(
            "lm",
            nation="USA",
            employees=None,
            city={"value": "Secretville", "marking": "CUI//NOFORN"},
        ),
        nation="USA",
    )
    change = {
        "id": made["id"],
        "expectedVersion": 1,
        "fields": {"city": {"value": "Denver", "marking": "CUI"}},
        "reason": "declassified location",
    }
    assert payload(await write(api, UPDATE_SUPPLIER, change, nation="USA"))["userErrors"] == []
    gbr = await api.query(HISTORY, {"id": made["id"]}, nation="GBR")
    [update, create] = gbr.data["supplier"]["history"]
    assert update["changes"] == [
        {
            "field": "city",
            "oldValue": None,
            "oldMarking": "CUI//NOFORN",
            "newValue": "Denver",
            "newMarking": "CUI",
        }
    ]
    assert "Secretville" not in str(gbr.body)
    assert [c["field"] for c in create["changes"] if c["field"] == "city"] == ["city"]
    usa = await api.query(HISTORY, {"id": made["id"]}, nation="USA")
    assert usa.data["supplier"]["history"][0]["changes"][0]["oldValue"] == "Secretville"
