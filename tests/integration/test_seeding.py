"""`dibx seed`: what it reports matches what it wrote."""

from __future__ import annotations

import pytest

from dibx import data as shipped
from dibx.graph.driver import Graph
from dibx.services import seeding

pytestmark = pytest.mark.neo4j


async def test_seed_with_a_synthetic_graph_counts_each_nation_once(graph: Graph) -> None:
    report = await seeding.seed(graph, shipped.reference_dir(), demo=False, synthetic_suppliers=5)
    row = await graph.read_one("MATCH (n:Nation) RETURN count(n) AS n")
    assert row is not None
    assert report.counts["Nation"] == row["n"] == 249
