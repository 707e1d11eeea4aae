"""`dibx seed`: what it reports matches what it wrote."""

from __future__ import annotations

import pytest

from dibx import data as shipped
from dibx.graph import generation, migrations
from dibx.graph.driver import Graph
from dibx.ingest import seeding

pytestmark = pytest.mark.neo4j


async def test_seed_with_a_synthetic_graph_counts_each_nation_once(graph: Graph) -> None:
    report = await seeding.seed(graph, shipped.reference_dir(), demo=False, synthetic_suppliers=5)
    row = await graph.read_one("MATCH (n:Nation) RETURN count(n) AS n")
    assert row is not None
    assert report.counts["Nation"] == row["n"] == 249


async def test_seeding_and_its_reset_are_counted_writes(graph: Graph) -> None:
    report = await seeding.seed(graph, shipped.reference_dir(), demo=True, reset=True)
    kinds = [k for k, n in report.counts.items() if n and k != "BASED_IN"]
    # Every kind written takes at least one batch of two statements (the rows, then the data
    # generation moved); the reset at least one (empty) batch of relationships and one of
    # nodes. All of them through the Graph, counted.
    assert graph.stats.writes >= 2 * len(kinds) + 2
    moved = generation.of(await graph.read_one(generation.READ))
    assert moved is not None
    assert moved[2] >= len(kinds)  # loads: one per batch at least


async def test_a_database_migrated_anew_is_still_empty(graph: Graph) -> None:
    """Migrations move the data generation of a written database but create nothing in an
    empty one: `dibx serve` seeds the demo only into an empty database."""
    assert await seeding.is_empty(graph)
    await graph.write("MATCH (m:Migration) WHERE m.version >= 15 DELETE m")
    assert await migrations.apply(graph)  # 0015 and later run again
    assert await seeding.is_empty(graph)
    assert generation.of(await graph.read_one(generation.READ)) is None
