"""The change feed's query takes seconds to plan (tens on a busy machine), so every read must
reuse the plan `warm` made at start. Neo4j caches a plan per query text and parameter types
(and, unless the server is told otherwise, per power of ten of each list's and string's
length): a read whose parameters differ in either planned again while its caller waited.
The fan-out queries (one per type) are planned by `warm` too, with the same parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, LiteralString

import pytest

from dibx.graph.driver import Graph
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j


def cypher_type(value: object) -> str:
    """The parameter type Neo4j keys its plan cache by (sizes left out): a list's type names
    its elements' type, and an empty list is a list of nothing."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, list | tuple):
        inner = sorted({cypher_type(v) for v in value}) or ["NOTHING"]
        return f"LIST<{'|'.join(inner)}>"
    if isinstance(value, Mapping):
        return "MAP"
    return type(value).__name__


class Recording(Graph):
    """Notes the parameter types of every read of the feed's query texts, per text."""

    def __init__(self, graph: Graph, texts: set[str]) -> None:
        super().__init__(graph.driver, graph.database)
        self.shapes: dict[str, list[dict[str, str]]] = {text: [] for text in texts}

    async def read(
        self, query: LiteralString, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        if query in self.shapes:
            self.shapes[query].append({k: cypher_type(v) for k, v in (params or {}).items()})
        return await super().read(query, params, **kw)


async def test_every_feed_read_has_the_parameter_types_warm_planned(api: Api) -> None:
    feed = api.runtime.services.changes
    assert feed is not None
    page, fanouts = feed.reader._query, set(feed.reader._fanout.values())
    recording = Recording(api.graph, {page, *fanouts})
    feed.reader.graph = recording
    await feed.warm()
    warmed = {text: shapes[0] for text, shapes in recording.shapes.items()}
    assert all(len(shapes) == 1 for shapes in recording.shapes.values())
    # Memberships are events: each caller's first page reaches its nation's and fans out.
    await api.load(b.dataset())
    variants: list[dict[str, Any]] = [
        {},
        {"types": ["SUPPLIER"]},
        {"filter": {"kinds": ["CREATED"]}},
        {"filter": {"kinds": ["CREATED", "UPDATED"], "ids": ["U3VwcGxpZXI6eA"]}},
        {"filter": {"kinds": []}},
        {"first": 1},
    ]
    for nation in ("USA", "GBR", "JPN"):
        for variables in variants:
            reply = await api.query(
                "query C($first: Int, $types: [ChangeType!], $filter: ChangeFilter) {"
                " changes(first: $first, types: $types, filter: $filter) { endCursor } }",
                variables,
                nation=nation,
            )
            assert not reply.errors, reply.errors
    reads = {text: shapes[1:] for text, shapes in recording.shapes.items()}
    assert len(reads[page]) >= 3 * len(variants)
    assert any(reads[text] for text in fanouts)  # the fan-out was read, not only warmed
    differing = {
        text[:60]: shape
        for text, shapes in reads.items()
        for shape in shapes
        if shape != warmed[text]
    }
    assert differing == {}


async def test_a_plan_serves_every_length_of_a_list(api: Api) -> None:
    """The embedded server plans once per parameter type, whatever the lengths of lists and
    strings: a caller with more groups, or a filter with a second value, finds the plan."""
    query = "MATCH (n:Nation) WHERE n.code IN $codes RETURN count(n) AS n"
    await api.graph.read("CALL db.clearQueryCaches()")
    for codes in (["GBR"], ["GBR", "AUS", "CAN"], ["GBR"] * 30, ["G" * 200]):
        await api.graph.read(query, {"codes": codes})
    cleared = await api.graph.read("CALL db.clearQueryCaches()")
    assert cleared == [{"value": "Query caches successfully cleared of 1 queries."}]
