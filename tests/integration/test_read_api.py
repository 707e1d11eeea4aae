"""GraphQL reads over a real Neo4j: shapes, paging, filters, sorting, one query per root field."""

from __future__ import annotations

import pytest

from dibx.app.explorer import STATIC_DIR
from dibx.app.graphiql import CONTENT_SECURITY_POLICY
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NESTED = """
query Nested {
  suppliers(first: 10, sort: [{field: KEY}]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      key name
      nation { code name }
      capabilities(first: 5) { totalCount edges { capacity node { key name
        providers(first: 5) { totalCount nodes { key name } } } } }
      suppliers { edges { item sole node { key name suppliers { nodes { key } } } } }
      owners { nodes { key } }
    } }
  }
}
"""


def small_graph() -> b.Dataset:
    return b.dataset(
        suppliers=[
            b.supplier("s1", "USA"),
            b.supplier("s2", "GBR"),
            b.supplier("s3", "AUS"),
            b.supplier("s4", "JPN"),
            b.supplier("s5", "CHN"),
        ],
        capabilities=[b.capability("c1"), b.capability("c2")],
        provides=[b.provides("s1", "c1"), b.provides("s2", "c1"), b.provides("s3", "c2")],
        sources_from=[
            b.sources("s1", "s2", sole=True),
            b.sources("s2", "s3"),
            b.sources("s3", "s5"),
        ],
        subsidiaries=[b.owns("s4", "s1", 0.6)],
    )


async def test_nested_selection_is_one_query(api: Api) -> None:
    await api.load(small_graph())
    # Warm the reference caches (memberships, and this caller's view of them): not per request.
    await api.query(NESTED)
    before = api.graph.stats.total
    reply = await api.query(NESTED)
    assert reply.status == 200, reply.body
    assert reply.errors == []
    assert api.graph.stats.total - before == 1
    conn = reply.data["suppliers"]
    assert conn["totalCount"] == 5
    s1 = conn["edges"][0]["node"]
    assert s1["key"] == "s1"
    assert s1["nation"]["code"] == "USA"
    assert s1["capabilities"]["totalCount"] == 1
    providers = s1["capabilities"]["edges"][0]["node"]["providers"]
    assert {n["key"] for n in providers["nodes"]} == {"s1", "s2"}
    tier1 = s1["suppliers"]["edges"][0]
    assert tier1["sole"] is True
    assert tier1["node"]["key"] == "s2"
    assert tier1["node"]["suppliers"]["nodes"] == [{"key": "s3"}]
    s4 = conn["edges"][3]["node"]
    assert s4["owners"]["nodes"] == [{"key": "s1"}]


async def test_pagination_walks_every_record_once(api: Api) -> None:
    await api.load(small_graph())
    seen, after = [], None
    while True:
        reply = await api.query(
            "query($after: String) { suppliers(first: 2, after: $after) { totalCount "
            "pageInfo { hasNextPage endCursor } nodes { key } } }",
            {"after": after},
        )
        page = reply.data["suppliers"]
        seen += [n["key"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["s1", "s2", "s3", "s4", "s5"]


async def test_lookup_by_global_id(api: Api) -> None:
    await api.load(small_graph())
    reply = await api.query(
        "query($id: ID!) { supplier(id: $id) { id key name } "
        "node(id: $id) { id ... on Supplier { key } } }",
        {"id": encode_id("Supplier", "s2")},
    )
    assert reply.data["supplier"]["key"] == "s2"
    assert reply.data["node"] == {"id": encode_id("Supplier", "s2"), "key": "s2"}


async def test_filters(api: Api) -> None:
    await api.load(small_graph())
    q = "query($f: SupplierFilterInput) { suppliers(filter: $f) { totalCount nodes { key } } }"
    by_nation = await api.query(q, {"f": {"nations": ["GBR", "AUS"]}})
    assert [n["key"] for n in by_nation.data["suppliers"]["nodes"]] == ["s2", "s3"]
    fvey = await api.query(q, {"f": {"agreement": "FVEY"}})
    assert fvey.data["suppliers"]["totalCount"] == 3
    by_cap = await api.query(q, {"f": {"capability": encode_id("Capability", "c1")}})
    assert [n["key"] for n in by_cap.data["suppliers"]["nodes"]] == ["s1", "s2"]
    by_name = await api.query(q, {"f": {"nameContains": "supplier S4"}})
    assert [n["key"] for n in by_name.data["suppliers"]["nodes"]] == ["s4"]


async def test_sort_descending_by_name(api: Api) -> None:
    await api.load(small_graph())
    reply = await api.query(
        "{ suppliers(sort: [{field: NAME, direction: DESC}]) { nodes { key } } }"
    )
    assert [n["key"] for n in reply.data["suppliers"]["nodes"]] == ["s5", "s4", "s3", "s2", "s1"]


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ('{ suppliers(filter: {nations: ["XYZ"]}) { totalCount } }', "unknown nation code(s): XYZ"),
        ('{ suppliers(filter: {agreement: "NOPE"}) { totalCount } }', "unknown agreement 'NOPE'"),
        ('{ supplier(id: "not-an-id!") { key } }', "id: is not a valid dibx id"),
        ("{ suppliers(first: 5000) { totalCount } }", "first: must be at most 100"),
        ("{ suppliers(first: -1) { totalCount } }", "first: must not be negative"),
        ('{ suppliers(after: "zzz") { totalCount } }', "after: is not a cursor of this list"),
        (
            "{ suppliers { nodes { capabilities(first: 1000) { totalCount } } } }",
            "capabilities.first: must be at most 100",
        ),
        ("{ suppliers(sort: [{field: COLOR}]) { totalCount } }", "COLOR"),
    ],
)
async def test_bad_input_is_a_clear_graphql_error(api: Api, document: str, needle: str) -> None:
    await api.load(small_graph())
    reply = await api.query(document)
    assert reply.status in (200, 400)
    assert reply.errors, reply.body
    assert needle in reply.errors[0]["message"]
    assert reply.errors[0]["extensions"]["code"] in {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        (
            "{ suppliers(first: 100) { nodes { suppliers(first: 100) { nodes { "
            "suppliers(first: 100) { totalCount } } } } } }",
            "could fetch up to 1010000 records, over the limit of 20000",
        ),
        ("{ a { b } }", "Cannot query field 'a'"),
        (
            "{ s1: viewer { nation } "
            + " ".join(f"v{i}: viewer {{ nation }}" for i in range(40))
            + " }",
            "aliases",
        ),
    ],
)
async def test_limits_are_clear_errors(api: Api, document: str, needle: str) -> None:
    reply = await api.query(document)
    assert reply.data is None
    assert needle in reply.errors[0]["message"]


async def test_membership_as_of(api: Api) -> None:
    await api.load(small_graph())
    reply = await api.query(
        '{ agreement(code: "AUKUS") { members(asOf: "2026-01-01") { nodes { code } } } }'
    )
    assert sorted(n["code"] for n in reply.data["agreement"]["members"]["nodes"]) == [
        "AUS",
        "GBR",
        "USA",
    ]
    before = await api.query(
        '{ agreement(code: "AUKUS") { members(asOf: "1990-01-01") { nodes { code } } } }'
    )
    assert before.data["agreement"]["members"]["nodes"] == []


async def test_health_endpoints(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["neo4j"] == "reachable"


async def test_metrics_count_requests_and_queries(api: Api) -> None:
    await api.load(small_graph())
    await api.query("{ suppliers { totalCount } }")
    text = (await api.client.get("/metrics")).text
    assert 'dibx_http_requests_total{route="/graphql",status="200"}' in text
    assert "dibx_cypher_queries" in text


async def test_graphiql_page_in_development(api: Api) -> None:
    page = await api.client.get("/graphql", headers={"Accept": "text/html"})
    # dibx's own page (dibx.app.graphiql), never strawberry's, which loads from a CDN.
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "unpkg.com" not in page.text
    if (STATIC_DIR / "graphiql" / "graphiql.js").is_file():
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
    else:  # `make explorer` has not run here
        assert page.status_code == 503
        assert "make explorer" in page.text
