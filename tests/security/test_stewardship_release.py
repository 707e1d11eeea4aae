"""Stewarded writes never reveal or touch what the writer may not see or does not steward.

* A GBR writer cannot update a USA-originated record it sees (FORBIDDEN), and a record it
  cannot see answers byte for byte as a missing one (status, headers that matter, body).
* A writer cannot set a marking its own nation could not read (GBR: CUI//NOFORN), nor one
  less restrictive than the policy floor for the portion (`[stewardship.floors]`).
* Creating under a key another nation uses for a hidden record succeeds (keys are per
  originating nation) and reveals nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    CREATE_SUPPLIER,
    NOFORN,
    SET_PROVIDES,
    UPDATE_SUPPLIER,
    WRITER,
    cid,
    payload,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j


def data() -> Any:
    return b.dataset(
        suppliers=[
            b.supplier("usa-open", "USA", record="CUI", employees=5),
            b.supplier("usa-hidden", "USA", record=NOFORN, employees=5),
            # a GBR-based record GBR may not see (NOFORN): originated by GBR when seeded
            b.supplier("gbr-hidden", "GBR", record=NOFORN, employees=5),
            b.supplier("gbr-open", "GBR", record="CUI", employees=5),
        ],
        capabilities=[b.capability("cap", record="CUI")],
    )


def _update(key: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sid(key),
        "expectedVersion": 1,
        "fields": {"employees": {"value": 6, "marking": "CUI"}},
        "reason": "corrected",
        **extra,
    }


async def _snapshot(api: Api) -> list[dict[str, Any]]:
    return await api.graph.read(
        "MATCH (n) RETURN labels(n) AS l, properties(n) AS p ORDER BY elementId(n)"
    )


async def test_gbr_cannot_update_a_usa_record_it_sees(api: Api) -> None:
    await api.load(data())
    before = await _snapshot(api)
    out = payload(await write(api, UPDATE_SUPPLIER, _update("usa-open")))
    assert out["changes"] == []
    assert [(e["field"], e["code"]) for e in out["userErrors"]] == [(["input", "key"], "FORBIDDEN")]
    assert await _snapshot(api) == before


@pytest.mark.parametrize("hidden", ["usa-hidden", "gbr-hidden"])
async def test_a_hidden_record_answers_exactly_as_a_missing_one(api: Api, hidden: str) -> None:
    await api.load(data())
    before = await _snapshot(api)
    token = api.token("GBR", WRITER)

    async def send(key: str) -> tuple[int, bytes]:
        response = await api.client.post(
            "/graphql",
            json={"query": UPDATE_SUPPLIER, "variables": {"input": _update(key)}},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.status_code, response.content

    hidden_reply = await send(hidden)
    missing_reply = await send("no-such-supplier")
    # The ids differ only in the key; the responses must not differ at all.
    assert hidden_reply == missing_reply
    status, body = hidden_reply
    assert status == 200
    assert b'"NOT_FOUND"' in body
    assert await _snapshot(api) == before


async def test_hidden_edge_end_answers_as_missing(api: Api) -> None:
    await api.load(data())
    token = api.token("GBR", WRITER)

    async def send(key: str) -> bytes:
        variables = {
            "input": {
                "supplier": sid("gbr-open"),
                "capability": cid("cap"),
                "marking": "CUI",
                "fields": {},
            }
        }
        variables["input"]["supplier"] = sid(key)
        response = await api.client.post(
            "/graphql",
            json={"query": SET_PROVIDES, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        return response.content

    assert await send("usa-hidden") == await send("nothing-here")


async def test_gbr_cannot_set_a_marking_it_could_not_read(api: Api) -> None:
    await api.load(data())
    before = await _snapshot(api)
    create = supplier_input("x", employees=None)
    create["fields"]["employees"] = {"value": 3, "marking": NOFORN}
    out = payload(await write(api, CREATE_SUPPLIER, create))
    assert [(e["field"], e["code"]) for e in out["userErrors"]] == [
        (["input", "fields", "employees", "marking"], "MARKING_NOT_READABLE")
    ]
    update = _update("gbr-open", marking=NOFORN)
    out = payload(await write(api, UPDATE_SUPPLIER, update))
    assert [(e["field"], e["code"]) for e in out["userErrors"]] == [
        (["input", "marking"], "MARKING_NOT_READABLE")
    ]
    assert await _snapshot(api) == before
    # USA may set it: the same input from a USA writer is accepted.
    ok = payload(
        await write(
            api,
            CREATE_SUPPLIER,
            {**create, "nation": {"key": "USA", "marking": "CUI"}},
            nation="USA",
        )
    )
    assert ok["userErrors"] == []


async def test_a_marking_below_the_policy_floor_is_refused(api: Api) -> None:
    await api.load(data())
    before = await _snapshot(api)
    # The shipped floor for a Supplier record is CUI: PUBLIC is below it.
    out = payload(await write(api, CREATE_SUPPLIER, supplier_input("x", record="PUBLIC")))
    assert [(e["field"], e["code"]) for e in out["userErrors"]] == [
        (["input", "marking"], "MARKING_BELOW_FLOOR")
    ]
    # PROVIDES capacity's floor is CUI; ownership share's is CUI//PROPIN.
    provides = {
        "supplier": sid("gbr-open"),
        "capability": cid("cap"),
        "marking": "CUI",
        "fields": {
            "capacity": {"value": 5.0, "marking": "PUBLIC"},
            "unit": {"value": "t", "marking": "CUI"},
        },
    }
    out = payload(await write(api, SET_PROVIDES, provides))
    assert [(e["field"], e["code"]) for e in out["userErrors"]] == [
        (["input", "fields", "capacity", "marking"], "MARKING_BELOW_FLOOR")
    ]
    assert await _snapshot(api) == before


async def test_keys_are_per_originating_nation(api: Api) -> None:
    """GBR creating `usa-hidden` gets its own `GBR:usa-hidden`: no collision, nothing said."""
    await api.load(data())
    out = payload(await write(api, CREATE_SUPPLIER, supplier_input("usa-hidden")))
    assert out["userErrors"] == []
    assert out["changes"][0]["key"] == "GBR:usa-hidden"
    again = payload(await write(api, CREATE_SUPPLIER, supplier_input("usa-hidden")))
    assert [(e["field"], e["code"]) for e in again["userErrors"]] == [
        (["input", "key"], "DUPLICATE")
    ]
    rows = await api.graph.read("MATCH (s:Supplier {id: 'usa-hidden'}) RETURN s.employees AS e")
    assert rows == [{"e": 5}]
