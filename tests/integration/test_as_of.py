"""`asOf` on the root reads: the graph as it stood at a time, released by today's rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    REL_GBR,
    RETIRE_SUPPLIER,
    SET_PROVIDES,
    UPDATE_SUPPLIER,
    cid,
    created,
    payload,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j

ONE = """query S($id: ID!, $at: DateTime) { supplier(id: $id, asOf: $at) {
  key name employees marking nation { code } capabilities { edges { capacity node { key } } } } }"""
REL_AUS = "CUI//REL TO USA, AUS, GBR"
MANY = """query L($at: DateTime) {
  suppliers(asOf: $at, first: 50) { totalCount nodes { key name } } }"""


def now() -> str:
    return datetime.now(UTC).isoformat()


async def one(api: Api, key: str, at: str | None, nation: str = "GBR") -> Any:
    reply = await api.query(ONE, {"id": sid(key), "at": at}, nation=nation)
    assert reply.errors == [], reply.body
    return reply.data["supplier"]


async def keys(api: Api, at: str | None, nation: str = "GBR") -> list[str]:
    reply = await api.query(MANY, {"at": at}, nation=nation)
    assert reply.errors == [], reply.body
    return [n["key"] for n in reply.data["suppliers"]["nodes"]]


async def test_as_of_follows_create_update_retire(api: Api) -> None:
    await api.load(
        b.dataset(
            suppliers=[b.supplier("seed", "GBR", employees=5)],
            capabilities=[b.capability("cap")],
        )
    )
    before_all = now()
    made = await created(api, supplier_input("acme", employees=100))
    t_created = now()
    out = payload(
        await write(
            api,
            UPDATE_SUPPLIER,
            {
                "id": made["id"],
                "expectedVersion": 1,
                "fields": {"employees": {"value": 120, "marking": "CUI"}},
            },
        )
    )
    assert out["userErrors"] == []
    out = payload(
        await write(
            api,
            SET_PROVIDES,
            {
                "supplier": made["id"],
                "capability": cid("cap"),
                "marking": "CUI",
                "fields": {
                    "capacity": {"value": 7.0, "marking": "CUI"},
                    "unit": {"value": "units/yr", "marking": "CUI"},
                },
            },
        )
    )
    assert out["userErrors"] == [], out
    t_updated = now()
    out = payload(
        await write(api, RETIRE_SUPPLIER, {"id": made["id"], "expectedVersion": 2, "reason": "x"})
    )
    assert out["userErrors"] == [], out
    t_retired = now()

    assert await one(api, "GBR:acme", before_all) is None
    at_create = await one(api, "GBR:acme", t_created)
    assert at_create["employees"] == 100
    assert at_create["nation"] == {"code": "GBR"}
    assert at_create["capabilities"]["edges"] == []
    at_update = await one(api, "GBR:acme", t_updated)
    assert at_update["employees"] == 120
    assert at_update["capabilities"]["edges"] == [{"capacity": 7.0, "node": {"key": "cap"}}]
    assert await one(api, "GBR:acme", t_retired) is None
    assert await one(api, "GBR:acme", None) is None
    # Seeded records without history are themselves at every time.
    assert "seed" in await keys(api, before_all)
    assert await keys(api, before_all) == ["seed"]
    assert await keys(api, t_updated) == ["GBR:acme", "seed"]
    assert await keys(api, t_retired) == ["seed"]
    # Far past reads as the epoch; far future as now.
    assert await keys(api, "1900-01-01T00:00:00Z") == ["seed"]
    assert await keys(api, "2999-01-01T00:00:00Z") == await keys(api, None)


async def test_as_of_applies_release_to_the_state_in_force(api: Api) -> None:
    await api.load(b.dataset())
    made = await created(api, supplier_input("acme", marking=REL_AUS))
    t_open = now()
    out = payload(
        await write(
            api,
            UPDATE_SUPPLIER,
            {
                "id": made["id"],
                "expectedVersion": 1,
                "fields": {"name": {"value": "Acme Ltd", "marking": REL_GBR}},
                "reason": "tighten",
            },
        )
    )
    assert out["userErrors"] == [], out
    t_closed = now()
    # AUS may read the name while it was REL TO AUS, not once it was REL TO USA, GBR: the
    # release check reads the state in force, not the record as it is now.
    assert (await one(api, "GBR:acme", t_open, nation="AUS"))["name"] == "Acme Ltd"
    assert (await one(api, "GBR:acme", t_closed, nation="AUS"))["name"] is None
    assert (await one(api, "GBR:acme", None, nation="AUS"))["name"] is None
    assert (await one(api, "GBR:acme", t_open, nation="GBR"))["name"] == "Acme Ltd"
    # JPN (no CUI release) sees the record at no time.
    assert await one(api, "GBR:acme", t_open, nation="JPN") is None


async def test_as_of_needs_its_utc_offset(api: Api) -> None:
    # `DateTime` is RFC 3339 `date-time`: a time without its offset is refused, not guessed.
    await api.load(b.dataset(suppliers=[b.supplier("seed", "GBR")]))
    assert await keys(api, "2020-01-01T00:00:00Z") == ["seed"]
    reply = await api.query(MANY, {"at": "2020-01-01T00:00:00"}, nation="GBR")
    assert reply.data is None
    assert [e["extensions"]["code"] for e in reply.errors] == ["BAD_USER_INPUT"]
    assert "UTC offset" in reply.errors[0]["message"]


@pytest.mark.parametrize(
    "at",
    [
        "0001-01-01T00:00:00+14:00",  # before year 1 once in UTC
        "9999-12-31T23:59:59-14:00",  # after year 9999 once in UTC
        "2020-01-01T00:00:00+00:00:30",  # an offset with seconds
    ],
)
async def test_any_valid_as_of_is_read_not_a_crash(api: Api, at: str) -> None:
    """Every RFC 3339 date-time the scalar accepts reads as a time: the earliest as the
    epoch, the latest as now, any offset as the same instant in UTC."""
    await api.load(b.dataset(suppliers=[b.supplier("seed", "GBR")]))
    assert await keys(api, at) == ["seed"]
