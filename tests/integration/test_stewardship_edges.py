"""Stewarded capabilities and links: the catalogue scope, REQUIRES without cycles, supply
links and ownership with their edge fields, and concurrency on edges."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    BOTH,
    CATALOGUER,
    CREATE_CAPABILITY,
    SET_OWNER,
    SET_PROVIDES,
    SET_REQUIRES,
    SET_SOURCES,
    UPDATE_CAPABILITY,
    WRITER,
    cid,
    payload,
    sid,
    write,
)

pytestmark = pytest.mark.neo4j

CAPABILITY: dict[str, Any] = {
    "key": "widget",
    "marking": "CUI",
    "fields": {
        "name": {"value": "Widget", "marking": "CUI"},
        "area": {"value": "parts", "marking": "CUI"},
        "jurisdiction": {"value": "EAR", "marking": "CUI"},
        "eccn": {"value": "9A610", "marking": "CUI"},
    },
}


def codes(out: dict[str, object]) -> list[tuple[str, str]]:
    errors = out["userErrors"]
    assert isinstance(errors, list)
    return [(".".join(e["field"]), e["code"]) for e in errors]


async def test_capabilities_need_the_catalogue_scope(api: Api) -> None:
    await api.load(b.dataset())
    denied = await write(api, CREATE_CAPABILITY, CAPABILITY, nation="USA", scopes=WRITER)
    assert denied.errors[0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"


async def test_catalogue_steward_creates_and_updates_a_capability(api: Api) -> None:
    await api.load(b.dataset(capabilities=[b.capability("seeded", record="CUI")]))
    bad = {
        **CAPABILITY,
        "fields": {**CAPABILITY["fields"], "usml": {"value": "IV", "marking": "CUI"}},
    }
    out = payload(await write(api, CREATE_CAPABILITY, bad, nation="USA", scopes=CATALOGUER))
    assert codes(out) == [("input.fields", "INVALID")]  # usml given for an EAR item
    out = payload(await write(api, CREATE_CAPABILITY, CAPABILITY, nation="USA", scopes=CATALOGUER))
    assert codes(out) == []
    assert out["changes"][0]["key"] == "USA:widget"
    # Seeded capabilities are stewarded by the catalogue steward (USA), not by GBR.
    change = {
        "id": cid("seeded"),
        "expectedVersion": 1,
        "fields": {"description": {"value": "better", "marking": "PUBLIC"}},
    }
    out = payload(await write(api, UPDATE_CAPABILITY, change, nation="GBR", scopes=CATALOGUER))
    assert codes(out) == [("input.key", "FORBIDDEN")]
    out = payload(await write(api, UPDATE_CAPABILITY, change, nation="USA", scopes=CATALOGUER))
    assert codes(out) == []
    hist = await api.query(
        "query($id: ID!) { capability(id: $id) { "
        "history { kind version changes { field newValue } } } }",
        {"id": cid("seeded")},
        nation="GBR",
    )
    assert hist.data["capability"]["history"] == [
        {
            "kind": "UPDATED",
            "version": 2,
            "changes": [{"field": "description", "newValue": "better"}],
        }
    ]


async def test_requires_refuses_a_cycle(api: Api) -> None:
    await api.load(
        b.dataset(
            capabilities=[b.capability("a"), b.capability("b2"), b.capability("c")],
            requires=[b.requires("a", "b2"), b.requires("b2", "c")],
        )
    )
    cycle = {"capability": cid("c"), "requires": cid("a"), "marking": "CUI"}
    out = payload(await write(api, SET_REQUIRES, cycle, nation="USA", scopes=CATALOGUER))
    assert codes(out) == [("input.requires", "INVALID")]
    fine = {"capability": cid("a"), "requires": cid("c"), "marking": "CUI"}
    out = payload(await write(api, SET_REQUIRES, fine, nation="USA", scopes=CATALOGUER))
    assert codes(out) == []


async def test_supply_links_and_ownership_with_their_fields(api: Api) -> None:
    await api.load(
        b.dataset(
            suppliers=[
                b.supplier("buyer", "GBR", record="CUI"),
                b.supplier("seller", "USA", record="CUI"),
            ],
            capabilities=[b.capability("cap", record="CUI")],
        )
    )
    link: dict[str, Any] = {
        "buyer": sid("buyer"),
        "supplier": sid("seller"),
        "marking": "CUI//REL TO USA, GBR",
        "fields": {
            "item": {"value": "bolts", "marking": "CUI//REL TO USA, GBR"},
            "share": {"value": 0.5, "marking": "CUI//REL TO USA, GBR"},
            "sole": {"value": True, "marking": "CUI//REL TO USA, GBR"},
        },
    }
    out = payload(await write(api, SET_SOURCES, link, scopes=BOTH))
    assert codes(out) == [("input.fields", "INVALID")]  # sole source with a half share
    link["fields"]["share"] = {"value": 1.0, "marking": "CUI//REL TO USA, GBR"}
    out = payload(await write(api, SET_SOURCES, link, scopes=BOTH))
    assert codes(out) == []
    # Setting it again without expectedVersion: it exists, say so with its version.
    again = payload(await write(api, SET_SOURCES, link, scopes=BOTH))
    assert again["userErrors"][0]["code"] == "CONFLICT"
    assert again["userErrors"][0]["currentVersion"] == 1
    # The seller is USA's: GBR may not start links from it.
    owner = {
        "child": sid("seller"),
        "parent": sid("buyer"),
        "marking": "CUI",
        "fields": {"share": {"value": 0.4, "marking": "CUI//PROPIN"}},
    }
    out = payload(await write(api, SET_OWNER, owner, scopes=BOTH))
    assert codes(out) == [("input.child", "FORBIDDEN")]
    owner.update(child=sid("buyer"), parent=sid("seller"))
    out = payload(await write(api, SET_OWNER, owner, scopes=BOTH))
    assert codes(out) == []
    read = await api.query(
        "query($id: ID!) { supplier(id: $id) { "
        "suppliers { edges { item share sole node { key } } } "
        "owners { edges { share node { key } } } } }",
        {"id": sid("buyer")},
        nation="GBR",
    )
    assert read.data["supplier"]["suppliers"]["edges"] == [
        {"item": "bolts", "share": 1.0, "sole": True, "node": {"key": "seller"}}
    ]
    assert read.data["supplier"]["owners"]["edges"] == [{"share": 0.4, "node": {"key": "seller"}}]
    offer = {
        "supplier": sid("buyer"),
        "capability": cid("cap"),
        "marking": "CUI",
        "fields": {"capacity": {"value": 4.0, "marking": "CUI"}},
    }
    out = payload(await write(api, SET_PROVIDES, offer, scopes=BOTH))
    assert codes(out) == [("input.fields", "INVALID")]  # capacity needs its unit
