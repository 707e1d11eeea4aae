"""The `changes` query: events as each nation may see them (docs/changes.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    REL_GBR,
    RETIRE_SUPPLIER,
    UPDATE_SUPPLIER,
    created,
    payload,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j

CHANGES = """
query C($after: String, $first: Int, $types: [ChangeType!], $filter: ChangeFilter) {
  changes(after: $after, first: $first, types: $types, filter: $filter) {
    endCursor hasNextPage
    changes { cursor type kind id start end marking
      fields { field value released marking } } } }
"""


async def changes(api: Api, nation: str, **variables: Any) -> dict[str, Any]:
    reply = await api.query(CHANGES, variables, nation=nation)
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    return dict(reply.data["changes"])


def brief(page: dict[str, Any]) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(kind, type, id, {field: value}) of each change."""
    return [
        (c["kind"], c["type"], c["id"], {f["field"]: f["value"] for f in c["fields"]})
        for c in page["changes"]
    ]


async def test_create_update_retire_as_each_nation_sees_them(api: Api) -> None:
    await api.load(b.dataset())
    out = await created(api, supplier_input("acme", record=REL_GBR, marking=REL_GBR))
    key = out["key"]
    upd = await write(
        api,
        UPDATE_SUPPLIER,
        {
            "id": sid(key),
            "expectedVersion": 1,
            "fields": {"employees": {"value": 5, "marking": REL_GBR}},
        },
    )
    assert payload(upd)["userErrors"] == []
    ret = await write(api, RETIRE_SUPPLIER, {"id": sid(key), "expectedVersion": 2})
    assert payload(ret)["userErrors"] == []
    usa = brief(await changes(api, "USA", types=["SUPPLIER"]))
    gbr = brief(await changes(api, "GBR", types=["SUPPLIER"]))
    aus = brief(await changes(api, "AUS", types=["SUPPLIER"]))
    assert [c[0] for c in usa] == ["CREATED", "UPDATED", "RETIRED"]
    assert usa == gbr
    assert usa[1][3] == {"employees": 5}
    assert aus == []
