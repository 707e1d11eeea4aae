"""Relay-complete paging on every connection, root and nested.

- `pageInfo` has all four fields; every edge has a `cursor`, and paging from any edge's
  cursor resumes right after it.
- `last`/`before` walk backwards, on root and nested connections alike.
- A nested connection pages past its first page (a capability's 150 providers).
- A cursor is sealed: altered, forged, or replayed on another list, sort or nation, it is
  refused with BAD_USER_INPUT naming the argument, and reveals no sort value.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from dibx.auth.principal import Principal
from dibx.graph.cursors import Window
from dibx.graph.reads import Sort, page_query
from dibx.graph.selection import Selected
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

SUPPLIERS = """
query ($first: Int, $after: String, $last: Int, $before: String) {
  suppliers(first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { key } }
  }
}
"""

BY_NAME = """
query ($after: String) {
  suppliers(first: 2, after: $after, sort: [{field: NAME}]) { pageInfo { endCursor } }
}
"""

PROVIDERS = """
query ($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
  capability(id: $id) {
    providers(first: $first, after: $after, last: $last, before: $before) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { key } }
    }
  }
}
"""


def keys(conn: dict[str, Any]) -> list[str]:
    return [e["node"]["key"] for e in conn["edges"]]


async def suppliers(api: Api, nation: str = "USA", **variables: Any) -> dict[str, Any]:
    reply = await api.query(SUPPLIERS, variables, nation=nation)
    assert not reply.errors, reply.errors
    conn: dict[str, Any] = reply.data["suppliers"]
    return conn


async def load_five(api: Api) -> list[str]:
    names = ["s1", "s2", "s3", "s4", "s5"]
    await api.load(b.dataset(suppliers=[b.supplier(k) for k in names]))
    return names


async def test_page_info_has_previous_page_and_start_cursor(api: Api) -> None:
    await load_five(api)
    first = await suppliers(api, first=2)
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert first["pageInfo"]["startCursor"] == first["edges"][0]["cursor"]
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    second = await suppliers(api, first=2, after=first["pageInfo"]["endCursor"])
    assert keys(second) == ["s3", "s4"]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["startCursor"] == second["edges"][0]["cursor"]


async def test_every_edge_cursor_resumes_right_after_its_edge(api: Api) -> None:
    names = await load_five(api)
    page = await suppliers(api, first=5)
    assert keys(page) == names
    for i, edge in enumerate(page["edges"]):
        rest = await suppliers(api, first=5, after=edge["cursor"])
        assert keys(rest) == names[i + 1 :]


async def test_last_and_before_walk_backwards(api: Api) -> None:
    names = await load_five(api)
    tail = await suppliers(api, last=2)
    assert keys(tail) == ["s4", "s5"]
    assert tail["pageInfo"]["hasPreviousPage"] is True
    assert tail["pageInfo"]["hasNextPage"] is False
    walked = keys(tail)
    before = tail["pageInfo"]["startCursor"]
    while True:
        page = await suppliers(api, last=2, before=before)
        walked = keys(page) + walked
        assert page["pageInfo"]["hasNextPage"] is True
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert walked == names


async def test_nested_connection_pages_past_the_first_100(api: Api) -> None:
    """A capability's providers beyond the first (largest) page can be reached, both ways."""
    names = [f"s{i:03d}" for i in range(150)]
    await api.load(
        b.dataset(
            suppliers=[b.supplier(k) for k in names],
            capabilities=[b.capability("c1")],
            provides=[b.provides(k, "c1") for k in names],
        )
    )
    cap = encode_id("Capability", "c1")
    reply = await api.query(PROVIDERS, {"id": cap, "first": 100})
    assert not reply.errors, reply.errors
    first = reply.data["capability"]["providers"]
    assert keys(first) == names[:100]
    assert first["pageInfo"]["hasNextPage"] is True
    reply = await api.query(
        PROVIDERS, {"id": cap, "first": 100, "after": first["pageInfo"]["endCursor"]}
    )
    assert not reply.errors, reply.errors
    second = reply.data["capability"]["providers"]
    assert keys(second) == names[100:]
    assert second["pageInfo"]["hasNextPage"] is False
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["totalCount"] == 150
    reply = await api.query(
        PROVIDERS, {"id": cap, "last": 30, "before": second["edges"][10]["cursor"]}
    )
    assert not reply.errors, reply.errors
    back = reply.data["capability"]["providers"]
    assert keys(back) == names[80:110]
    assert back["pageInfo"]["hasPreviousPage"] is True
    assert back["pageInfo"]["hasNextPage"] is True


UNCOUNTED = PROVIDERS.replace("totalCount", "")


async def test_a_nested_page_is_cut_from_released_links_only_both_ways(api: Api) -> None:
    """Links withheld from the caller sit among the first keys (the page is ordered before
    its links are checked): each page still holds the next released links, in order."""
    names = [f"s{i:02d}" for i in range(10)]
    withheld_links, withheld_supplier = {"s01", "s02", "s05"}, "s07"
    await api.load(
        b.dataset(
            suppliers=[
                b.supplier(k, record="CUI//NOFORN" if k == withheld_supplier else b.PUBLIC)
                for k in names
            ],
            capabilities=[b.capability("c1")],
            provides=[
                b.provides(k, "c1", record="CUI//NOFORN" if k in withheld_links else b.PUBLIC)
                for k in names
            ],
        )
    )
    cap = encode_id("Capability", "c1")
    released = [k for k in names if k not in withheld_links | {withheld_supplier}]
    walked: list[str] = []
    after = None
    for _ in range(5):
        reply = await api.query(UNCOUNTED, {"id": cap, "first": 2, "after": after}, nation="GBR")
        assert not reply.errors, reply.errors
        page = reply.data["capability"]["providers"]
        walked += keys(page)
        after = page["pageInfo"]["endCursor"]
        if not page["pageInfo"]["hasNextPage"]:
            break
    assert walked == released == ["s00", "s03", "s04", "s06", "s08", "s09"]
    reply = await api.query(UNCOUNTED, {"id": cap, "last": 3, "before": after}, nation="GBR")
    assert not reply.errors, reply.errors
    back = reply.data["capability"]["providers"]
    assert keys(back) == ["s04", "s06", "s08"]
    assert back["pageInfo"]["hasPreviousPage"] is True
    reply = await api.query(UNCOUNTED, {"id": cap, "first": 4})  # USA: every link
    assert keys(reply.data["capability"]["providers"]) == names[:4]


def tampered(cursor: str) -> str:
    body = cursor.removeprefix("c1.")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    return "c1." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def offset_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


async def refused(
    api: Api, document: str, variables: dict[str, Any], nation: str = "USA", **kw: Any
) -> str:
    reply = await api.query(document, variables, nation=nation, **kw)
    assert reply.errors, reply.body
    error = reply.errors[0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    message: str = error["message"]
    return message


async def test_forged_or_foreign_cursors_are_refused(api: Api) -> None:
    await load_five(api)
    await api.load(b.dataset(capabilities=[b.capability("c1")], provides=[b.provides("s1", "c1")]))
    page = await suppliers(api, first=2)
    cursor = page["pageInfo"]["endCursor"]
    # An offset cursor (what dibx handed out before), garbage, and an altered cursor.
    for bad in (offset_cursor(1), "zzz", tampered(cursor)):
        message = await refused(api, SUPPLIERS, {"first": 2, "after": bad})
        assert message.startswith("after: is not a cursor of this list"), message
    # The same cursor replayed by another nation, by a caller of the same nation who is
    # checked against other groups, on another order, on a nested list.
    assert "after:" in await refused(api, SUPPLIERS, {"first": 2, "after": cursor}, nation="GBR")
    fed = await refused(api, SUPPLIERS, {"first": 2, "after": cursor}, attributes=["FED"])
    assert fed.startswith("after:")
    assert "after:" in await refused(api, BY_NAME, {"after": cursor})
    nested = {"id": encode_id("Capability", "c1"), "first": 1, "after": cursor}
    assert "providers.after:" in await refused(api, PROVIDERS, nested)
    assert "before:" in await refused(api, SUPPLIERS, {"last": 2, "before": tampered(cursor)})


async def test_a_cursor_reveals_no_sort_value(api: Api) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("s1", name="Zanzibar Optics")]))
    reply = await api.query(BY_NAME, {})
    cursor = reply.data["suppliers"]["pageInfo"]["endCursor"]
    body = cursor.removeprefix("c1.")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    assert b"Zanzibar" not in raw
    assert b"s1" not in raw


def operators(plan: Any) -> set[str]:
    found = {str(plan.get("operatorType", "")).split("@")[0]}
    for child in plan.get("children", []):
        found |= operators(child)
    return found


@pytest.mark.parametrize(
    ("sorts", "at", "seek"),
    [
        ((), ("s150",), "NodeUniqueIndexSeekByRange"),
        ((Sort("name"),), ("Supplier s150", "s150"), "NodeIndexSeekByRange"),
    ],
)
async def test_a_page_after_a_cursor_seeks_the_index(
    api: Api, sorts: tuple[Sort, ...], at: tuple[str, ...], seek: str
) -> None:
    """The page after a cursor starts from an index range seek, not a scan of what precedes."""
    await api.load(b.dataset(suppliers=[b.supplier(f"s{i:03d}") for i in range(300)]))
    usa = Principal("u", "test", "USA", None, frozenset(), frozenset(), None)
    scope = api.runtime.policy.scope_for(usa, ["FVEY"], datetime.now(UTC).date())
    query, params, _ = page_query(
        scope,
        "Supplier",
        [Selected("nodes", (), (Selected("key"),))],
        window=Window(20, True, at),
        nested_limit=100,
        want_total=False,
        sorts=sorts,
    )
    async with api.graph.driver.session(database=api.graph.database) as session:
        # Index statistics are sampled in the background: without a fresh sample of the
        # 300 suppliers just loaded the planner may still see a graph too small for the
        # index to pay, and scan. Then planned afresh: the test Neo4j keeps plans for the
        # session, and the same text may have been planned earlier on a smaller graph.
        await (await session.run("CALL db.prepareForReplanning()")).consume()
        result = await session.run("CYPHER replan=force EXPLAIN " + query, params)
        summary = await result.consume()
    assert seek in operators(summary.plan), operators(summary.plan)
