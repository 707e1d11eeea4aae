"""Every name a query plans with exists from the start (`dibx.graph.tokens`).

Neo4j throws a cached plan away and plans again once a label, relationship type or property
key it named without it existing comes to exist. On a new database the change feed's queries
(seconds to plan each) were planned at start and again as soon as data arrived, while a
caller waited. Here, on a database of its own that has only been migrated, the feed's queries
and the compiled reads of documents that select every field, marking and relation of every
type must name nothing Neo4j reports missing."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import neo4j
import pytest

from dibx import neo4j_server
from dibx.graph import migrations
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, NodeType
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

MISSING = re.compile(r"The (label|relationship type|property) `([^`]+)` does not exist")


@pytest.fixture
async def fresh(tmp_path: Path) -> AsyncIterator[Graph]:
    """A database of its own, migrated and nothing else (the session's has every name), read
    through a driver that has Neo4j's warnings logged (dibx's own turns them off)."""
    with neo4j_server.running(tmp_path / "neo4j", tie_to_parent=True) as server:
        driver = neo4j.AsyncGraphDatabase.driver(
            server.uri, auth=("neo4j", ""), notifications_min_severity="WARNING"
        )
        graph = Graph(driver, "neo4j")
        await migrations.apply(graph)
        try:
            yield graph
        finally:
            await graph.close()


def _everything(node: NodeType) -> str:
    """Every field and field marking, and every relation with its edge's fields and field
    markings (the far records' own fields are another document's)."""
    marks = "fieldMarkings { field marking released }"
    parts = ["__typename", *node.names, "marking", marks]
    for name, rel in node.relations.items():
        if rel.many:
            edge = " ".join(MODEL.edges[rel.rel].names)
            parts.append(
                f"{name} {{ totalCount edges {{ {edge} {marks} node {{ __typename }} }} }}"
            )
        else:
            parts.append(f"{name} {{ __typename }}")
    return " ".join(parts)


def documents() -> list[str]:
    supplier, capability = MODEL.nodes["Supplier"], MODEL.nodes["Capability"]
    nation, agreement = MODEL.nodes["Nation"], MODEL.nodes["Agreement"]
    return [
        f'{{ supplier(id: "U3VwcGxpZXI6YQ") {{ {_everything(supplier)} }} }}',
        f'{{ capability(id: "Q2FwYWJpbGl0eTpj") {{ {_everything(capability)} }} }}',
        f'{{ nation(code: "GBR") {{ {_everything(nation)} }} }}',
        f'{{ agreement(code: "AUKUS") {{ {_everything(agreement)} }} }}',
        '{ supplier(id: "U3VwcGxpZXI6YQ") { history { kind version reason marking '
        "changes { field oldValue oldMarking newValue newMarking } } } }",
    ]


async def test_no_query_names_what_a_new_database_lacks(
    fresh: Graph, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    api = Api(fresh, tmp_path)
    feed = api.runtime.services.changes
    assert feed is not None
    try:
        with caplog.at_level(logging.WARNING, logger="neo4j.notifications"):
            await feed.warm()  # the feed's page and fan-out queries, as at start
            for document in documents():
                reply = await api.query(document, {}, nation="GBR")
                assert reply.status == 200, reply.body
                assert not reply.errors, (document, reply.body)
            # The capture itself works: a name nobody made is reported.
            await fresh.read("MATCH (n:NeverMadeHere) RETURN count(n) AS n")
    finally:
        await api.close()
    notes = [r.getMessage() for r in caplog.records if r.name == "neo4j.notifications"]
    missing = sorted({f"{m.group(1)} {m.group(2)}" for n in notes if (m := MISSING.search(n))})
    assert missing == ["label NeverMadeHere"]
