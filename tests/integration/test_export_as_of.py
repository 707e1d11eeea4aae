"""`dibx export --as-of`: the state in force then, as the `asOf` reads pick it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.exchange import export, lines
from tests.support.stewardship import UPDATE_SUPPLIER, created, payload, supplier_input, write

pytestmark = pytest.mark.neo4j


async def test_export_as_of_before_a_stewarded_update_shows_the_old_value(api: Api) -> None:
    await api.load(b.reference())
    made = await created(api, supplier_input("acme", employees=100))
    before = datetime.now(UTC)
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
    now, _ = await export(api, "GBR")
    then, _ = await export(api, "GBR", at=before)
    (current,) = [r for r in lines(now) if r["type"] == "suppliers"]
    (old,) = [r for r in lines(then) if r["type"] == "suppliers"]
    assert current["key"] == old["key"] == "GBR:acme"
    assert current["origin"] == old["origin"] == "GBR"
    assert (current["employees"], old["employees"]) == (120, 100)
    assert current["nation"] == old["nation"] == "GBR"
    # Before it was created, it did not exist.
    early, _ = await export(api, "GBR", at=before - timedelta(hours=1))
    assert [r for r in lines(early) if r["type"] == "suppliers"] == []


async def _http_export(api: Api, query: dict[str, str]) -> list[dict[str, object]]:
    reply = await api.client.get(
        "/export", params=query, headers={"Authorization": f"Bearer {api.token('GBR')}"}
    )
    assert reply.status_code == 200, reply.text
    return lines(reply.content)


async def test_http_export_of_an_empty_slice_is_an_empty_200(api: Api) -> None:
    """A JSON Lines export with no row at all (asOf before anything the nation may see
    existed) has no first chunk: it must answer an empty body, not fail the request."""
    await api.load(b.reference())
    before = datetime.now(UTC)
    await created(api, supplier_input("acme", employees=100))
    assert [r["key"] for r in await _http_export(api, {}) if r["type"] == "suppliers"] == [
        "GBR:acme"
    ]
    assert await _http_export(api, {"asOf": (before - timedelta(hours=1)).isoformat()}) == []
    (done,) = [r for r in api.audit.records if r.get("event") == "export"][-1:]
    assert (done["outcome"], done["released"]) == ("ok", 0)


@pytest.mark.parametrize(
    ("as_of", "present"),
    [
        # Before year 1 in UTC: as early as there is (history starts at the epoch).
        ("0001-01-01T00:00:00+14:00", False),
        # After year 9999 in UTC: a future time reads as now.
        ("9999-12-31T23:59:59-14:00", True),
        # An offset with seconds (ISO 8601 allows it; Neo4j and the driver take minutes).
        ("2999-01-01T00:00:00+00:00:30", True),
    ],
)
async def test_http_export_as_of_any_valid_date_time_is_read_not_a_crash(
    api: Api, as_of: str, present: bool
) -> None:
    await api.load(b.reference())
    await created(api, supplier_input("acme", employees=100))
    rows = await _http_export(api, {"asOf": as_of})
    assert [r["key"] for r in rows if r["type"] == "suppliers"] == (["GBR:acme"] if present else [])
