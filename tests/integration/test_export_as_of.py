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
