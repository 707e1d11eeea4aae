"""Retiring is a soft delete that keeps history: every current read answers as if the
retired record (and every edge at it) had never existed.

The same queries (directory lookups and lists, relations both ways, nation listings, and the
supply-chain analyses) run over a graph where a supplier was retired through the API and over
the same graph loaded without that supplier: the responses must be identical. The retired
record and its edges' states stay in the graph.
"""

from __future__ import annotations

from typing import Any

import pytest

from dibx.graph.writes import clear_database
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    REMOVE_PROVIDES,
    RETIRE_SUPPLIER,
    SET_PROVIDES,
    cid,
    payload,
    sid,
    write,
)

pytestmark = pytest.mark.neo4j

READS = ("supplier:read", "supply_chain:read")

QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("{ suppliers(first: 50) { totalCount nodes { key name } } }", {}),
    ("query($id: ID!) { supplier(id: $id) { key name } }", {"id": sid("sub")}),
    ("query($id: ID!) { node(id: $id) { id } }", {"id": sid("sub")}),
    (
        "query($id: ID!) { capability(id: $id) { providers { totalCount "
        "edges { capacity node { key } } } } }",
        {"id": cid("part")},
    ),
    (
        "query($id: ID!) { supplier(id: $id) { suppliers { totalCount nodes { key } } "
        "customers { totalCount } } }",
        {"id": sid("prime")},
    ),
    (
        "query($id: ID!) { supplier(id: $id) { subsidiaries { totalCount nodes { key } } } }",
        {"id": sid("parent")},
    ),
    ('{ nation(code: "GBR") { suppliers { totalCount nodes { key } } } }', {}),
    (
        "query($r: ID!) { supplyChain(root: $r, depth: 4) { nodeCount edgeCount "
        "nodes { key kind tier } edges { from to kind share capacity } } }",
        {"r": sid("prime")},
    ),
    (
        "query($c: ID!) { capabilityGap(capability: $c, depth: 3) { soleSourced { key } "
        "withoutProvider { key } inputs { capability { key } providers totalCapacity } } }",
        {"c": cid("sys")},
    ),
    (
        "query($c: ID!) { concentration(capability: $c) { providers totalCapacity "
        "hhiBySupplier byNation { nation providers capacity } } }",
        {"c": cid("part")},
    ),
    (
        "query($r: ID!) { singlePointsOfFailure(root: $r) { nodeCount "
        "suppliers { dominates supplier { key } } } }",
        {"r": sid("prime")},
    ),
]


def data(*, with_sub: bool) -> Any:
    suppliers = [
        b.supplier("prime", "USA", record="CUI"),
        b.supplier("other", "GBR", record="CUI"),
        b.supplier("parent", "USA", record="CUI"),
    ]
    provides = [b.provides("prime", "sys"), b.provides("other", "part", capacity=5.0)]
    sources = [b.sources("prime", "other", share=0.5)]
    owns = []
    if with_sub:
        suppliers.append(b.supplier("sub", "GBR", record="CUI"))
        provides.append(b.provides("sub", "part", capacity=20.0))
        sources.append(b.sources("prime", "sub", share=0.5))
        owns.append(b.owns("sub", "parent", 0.6))
    return b.dataset(
        suppliers=suppliers,
        capabilities=[b.capability("sys"), b.capability("part")],
        requires=[b.requires("sys", "part")],
        provides=provides,
        sources=sources,
        owns=owns,
    )


async def _answers(api: Api) -> list[dict[str, Any]]:
    out = []
    for query, variables in QUERIES:
        reply = await api.query(query, variables, nation="USA", scopes=READS)
        assert reply.status == 200, reply.body
        out.append(reply.body)
    return out


async def test_a_retired_supplier_is_gone_from_every_read(api: Api) -> None:
    await api.load(data(with_sub=True))
    seen = await _answers(api)
    out = payload(
        await write(
            api, RETIRE_SUPPLIER, {"id": sid("sub"), "expectedVersion": 1, "reason": "closed"}
        )
    )
    assert out["userErrors"] == []
    assert out["changes"][0]["kind"] == "RETIRED"
    after = await _answers(api)
    assert after != seen  # the queries do see the supplier while it is current

    states = await api.graph.read(
        "MATCH (s) WHERE any(l IN labels(s) WHERE l ENDS WITH 'State') "
        "RETURN labels(s)[0] AS label, s.kind AS kind ORDER BY label, kind"
    )
    kinds = {(r["label"], r["kind"]) for r in states}
    assert ("SupplierState", "retired") in kinds
    assert ("ProvidesState", "retired") in kinds
    assert ("SourcesFromState", "retired") in kinds
    assert ("SubsidiaryOfState", "retired") in kinds
    assert await api.graph.read("MATCH (r:RetiredSupplier) RETURN r.id AS id") == [{"id": "sub"}]

    await clear_database(api.graph)
    await api.load(data(with_sub=False))
    assert await _answers(api) == after


async def test_a_removed_edge_is_gone_and_keeps_its_states(api: Api) -> None:
    await api.load(data(with_sub=False))
    seen = await _answers(api)
    created = payload(
        await write(
            api,
            SET_PROVIDES,
            {
                "supplier": sid("other"),
                "capability": cid("sys"),
                "marking": "CUI",
                "fields": {
                    "capacity": {"value": 3.0, "marking": "CUI"},
                    "unit": {"value": "t", "marking": "CUI"},
                },
            },
        )
    )
    assert created["userErrors"] == []
    assert await _answers(api) != seen
    removed = payload(
        await write(
            api,
            REMOVE_PROVIDES,
            {"supplier": sid("other"), "capability": cid("sys"), "expectedVersion": 1},
        )
    )
    assert removed["userErrors"] == []
    assert removed["changes"][0]["version"] == 2
    assert await _answers(api) == seen
    rows = await api.graph.read(
        "MATCH (s:ProvidesState)-[:STATE_FROM]->(:Supplier {id: 'other'}) "
        "RETURN s.kind AS kind, s.capacity AS c, s.validTo IS NULL AS open ORDER BY s.version"
    )
    assert rows == [
        {"kind": "created", "c": 3.0, "open": False},
        {"kind": "retired", "c": 3.0, "open": True},
    ]
