"""Leak regressions: ways a withheld value or a hidden record could be inferred.

Each test states the channel: filtering on a withheld field, sorting on it, counts, a lookup
of a hidden id, aliases, error texts, name search hitting a hidden record, nested edges.
"""

from __future__ import annotations

import pytest

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NOFORN = "CUI//NOFORN"


def graph(secret_name: str = "Zeta Secret Works", secret_employees: int = 7) -> b.Dataset:
    return b.dataset(
        suppliers=[
            b.supplier("open-a", "USA", name="Alpha Open"),
            b.supplier("open-b", "GBR", name="Bravo Open"),
            # visible record, NOFORN name and employees
            b.supplier(
                "masked",
                "USA",
                name=secret_name,
                employees=secret_employees,
                fields={"name": NOFORN, "employees": NOFORN},
            ),
            # hidden record
            b.supplier("hidden", "USA", record=NOFORN, name="Hidden Hypersonics"),
        ],
        capabilities=[b.capability("cap"), b.capability("secret-cap", record=NOFORN)],
        provides=[
            b.provides("open-a", "cap"),
            b.provides("hidden", "cap"),
            b.provides("open-b", "cap", record=NOFORN),  # hidden edge between visible ends
            b.provides("open-a", "secret-cap"),
        ],
        sources_from=[b.sources("open-a", "hidden", sole=True), b.sources("open-a", "open-b")],
    )


async def test_filter_on_withheld_field_never_matches(api: Api) -> None:
    await api.load(graph())
    q = '{ suppliers(filter: {nameContains: "secret"}) { totalCount nodes { key } } }'
    assert (await api.query(q, nation="USA")).data["suppliers"]["totalCount"] == 1
    gbr = await api.query(q, nation="GBR")
    assert gbr.data["suppliers"] == {"totalCount": 0, "nodes": []}


async def test_name_search_never_finds_hidden_records(api: Api) -> None:
    await api.load(graph())
    q = '{ suppliers(filter: {nameContains: "hypersonic"}) { totalCount nodes { key } } }'
    assert (await api.query(q, nation="USA")).data["suppliers"]["totalCount"] == 1
    assert (await api.query(q, nation="GBR")).data["suppliers"]["totalCount"] == 0


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
async def test_sort_on_withheld_field_ignores_its_value(api: Api, direction: str) -> None:
    """GBR sorting by name: the masked record sorts as null, whatever its real name."""
    q = f"{{ suppliers(sort: [{{field: NAME, direction: {direction}}}]) {{ nodes {{ key }} }} }}"
    orders = []
    for secret in ("Aaaa first", "Zzzz last"):
        await api.load(graph(secret_name=secret))
        orders.append(
            [n["key"] for n in (await api.query(q, nation="GBR")).data["suppliers"]["nodes"]]
        )
    assert orders[0] == orders[1]
    usa_orders = []
    for secret in ("Aaaa first", "Zzzz last"):
        await api.load(graph(secret_name=secret))
        usa_orders.append(
            [n["key"] for n in (await api.query(q, nation="USA")).data["suppliers"]["nodes"]]
        )
    assert usa_orders[0] != usa_orders[1]  # the test has teeth: USA order depends on it


async def test_sort_by_withheld_number_ignores_its_value(api: Api) -> None:
    q = "{ suppliers(sort: [{field: EMPLOYEES, direction: DESC}]) { nodes { key employees } } }"
    await api.load(graph(secret_employees=1))
    first = await api.query(q, nation="GBR")
    await api.load(graph(secret_employees=10**6))
    second = await api.query(q, nation="GBR")
    assert first.body == second.body


async def test_counts_exclude_hidden_records_and_edges(api: Api) -> None:
    await api.load(graph())
    q = """{ suppliers { totalCount }
             capabilities { totalCount nodes { key providers { totalCount nodes { key } } } } }"""
    usa = await api.query(q, nation="USA")
    gbr = await api.query(q, nation="GBR")
    assert usa.data["suppliers"]["totalCount"] == 4
    assert gbr.data["suppliers"]["totalCount"] == 3
    assert gbr.data["capabilities"]["totalCount"] == 1
    cap = gbr.data["capabilities"]["nodes"][0]
    # hidden provider (hidden record) and hidden PROVIDES edge (visible ends) both absent
    assert cap["providers"] == {"totalCount": 1, "nodes": [{"key": "open-a"}]}
    usa_cap = next(n for n in usa.data["capabilities"]["nodes"] if n["key"] == "cap")
    assert usa_cap["providers"]["totalCount"] == 3


async def test_nested_edges_to_hidden_records_are_absent(api: Api) -> None:
    await api.load(graph())
    q = """query($id: ID!) { supplier(id: $id) {
             suppliers { totalCount nodes { key } } capabilities { totalCount } } }"""
    reply = await api.query(q, {"id": encode_id("Supplier", "open-a")}, nation="GBR")
    assert reply.data["supplier"]["suppliers"] == {"totalCount": 1, "nodes": [{"key": "open-b"}]}
    assert reply.data["supplier"]["capabilities"]["totalCount"] == 1


async def test_filter_by_hidden_capability_is_like_unknown(api: Api) -> None:
    await api.load(graph())
    q = "query($c: ID) { suppliers(filter: {capability: $c}) { totalCount } }"
    hidden = await api.query(q, {"c": encode_id("Capability", "secret-cap")}, nation="GBR")
    unknown = await api.query(q, {"c": encode_id("Capability", "nope")}, nation="GBR")
    assert hidden.body["data"] == unknown.body["data"] == {"suppliers": {"totalCount": 0}}


async def test_aliases_are_each_withheld_and_said(api: Api) -> None:
    await api.load(graph())
    q = "query($id: ID!) { a: supplier(id: $id) { x: name y: name key } }"
    reply = await api.query(q, {"id": encode_id("Supplier", "masked")}, nation="GBR")
    assert reply.data["a"] == {"x": None, "y": None, "key": "masked"}
    assert sorted(w["path"] for w in reply.releasability["withheld"]) == ["a.x", "a.y"]


async def test_hidden_id_lookup_same_body_as_missing_id(api: Api) -> None:
    await api.load(graph())
    q = "query($id: ID!) { supplier(id: $id) { key name } node(id: $id) { id } }"
    hidden = await api.query(q, {"id": encode_id("Supplier", "hidden")}, nation="GBR")
    missing = await api.query(q, {"id": encode_id("Supplier", "missing")}, nation="GBR")
    assert hidden.body == missing.body
    assert hidden.status == missing.status


async def test_error_texts_carry_no_data(api: Api) -> None:
    await api.load(graph())
    reply = await api.query(
        '{ suppliers(filter: {nations: ["ZZZ"]}) { nodes { name } } }', nation="GBR"
    )
    text = str(reply.body)
    for secret in ("Hidden Hypersonics", "Zeta Secret Works", "secret-cap"):
        assert secret not in text


async def test_field_markings_say_what_is_withheld_without_values(api: Api) -> None:
    await api.load(graph())
    q = "query($id: ID!) { supplier(id: $id) { marking fieldMarkings { field marking released } } }"
    reply = await api.query(q, {"id": encode_id("Supplier", "masked")}, nation="GBR")
    marks = {m["field"]: m for m in reply.data["supplier"]["fieldMarkings"]}
    assert marks["name"] == {"field": "name", "marking": NOFORN, "released": False}
    assert marks["city"]["released"] is True
    assert "Zeta" not in str(reply.body)


async def test_introspection_exposes_types_not_data(api: Api) -> None:
    await api.load(graph())
    reply = await api.query("{ __schema { types { name } } }", nation="GBR")
    assert "Supplier" in {t["name"] for t in reply.data["__schema"]["types"]}
    assert "Hidden" not in str(reply.body)


async def test_unexpected_errors_are_masked(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver or programming error must not reach the caller with its internal detail."""

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Neo4jError: MATCH (s:Supplier {id: 'hidden'}) -- Hidden Hypersonics")

    monkeypatch.setattr(api.runtime.directory, "page", broken)
    reply = await api.query("{ suppliers { totalCount } }", nation="GBR")
    assert reply.errors[0]["message"] == "Unexpected error."
    assert reply.errors[0]["extensions"] == {"code": "INTERNAL"}
    assert "Hidden" not in str(reply.body)
