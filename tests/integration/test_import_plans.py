"""The import's read of stored edges between each row's ends must look for the edge from
the end with fewer links, whatever the statistics say when Neo4j plans it.

Regression: the read matched `(a {key})-[r]->(b {key})` and left the start to the planner.
Planned on a database without PROVIDES yet (an import's first PROVIDES batch, planned
once and kept), it sometimes started at the capability and expanded every provider of it
for each of the batch's rows: 3.5 s a batch of 2,000 rows, against 25-35 ms in a run
whose plan started at the supplier (`python -m bench.import`, 30k rows). Both ends are now
bound before the edge is matched, so the plan is Expand(Into), which checks from the end
of lower degree."""

from __future__ import annotations

from typing import Any

import pytest

from dibx.exchange.writer import stored_edges_query
from dibx.graph.driver import compiled
from dibx.graph.model import MODEL
from tests.support import builders as b
from tests.support.api import Api
from tests.support.exchange import scope_of

pytestmark = pytest.mark.neo4j


def operators(plan: Any) -> list[str]:
    return [
        plan.get("operatorType", "").split("@")[0],
        *(o for c in plan.get("children", []) for o in operators(c)),
    ]


@pytest.mark.parametrize("rel", sorted({e.rel for e in MODEL.edges.values()}))
async def test_the_stored_edges_read_expands_into_both_bound_ends(api: Api, rel: str) -> None:
    await api.load(b.dataset())  # the tiny test graph: statistics the planner may misread
    edge = next(e for e in MODEL.edges.values() if e.rel == rel)
    params = {
        **(await scope_of(api, "USA")).cypher_params(),
        "nation": "USA",
        "pairs": [{"i": 0, "a": "x", "b": "y"}],
    }
    async with api.graph.driver.session(database=api.graph.database) as session:
        result = await session.run(
            compiled("CYPHER replan=force EXPLAIN " + stored_edges_query(MODEL, edge)), params
        )
        plan = (await result.consume()).plan
    assert plan is not None
    ops = operators(plan)
    assert "Expand(Into)" in ops, ops
    assert "Expand(All)" not in ops, ops
