"""The `changes` query draws on the request's budget as every other read does: each page is
charged (its size) against `DIBX_MAX_COST`, shared with the request's other root fields and
aliases, and a page of `DIBX_HEAVY_COST` records or more passes the heavy-work gate, so one
caller cannot run unbounded feed reads at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from dibx.graph.driver import Graph
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

THREE = "query { a: changes { endCursor } b: changes { endCursor } c: changes { endCursor } }"


async def test_feed_pages_share_the_request_budget(graph: Graph, tmp_path: Path) -> None:
    api = Api(graph, tmp_path, env={"DIBX_MAX_COST": "100"})
    try:
        await api.load(b.dataset())
        # Each page is 50 changes by default: two fit in 100, a third does not.
        two = await api.query("query { a: changes { endCursor } b: changes { endCursor } }")
        assert two.errors == [], two.body
        three = await api.query(THREE)
        assert [e["extensions"]["code"] for e in three.errors] == ["LIMIT_EXCEEDED"], three.body
        assert "over the limit of 100" in three.errors[0]["message"]
    finally:
        await api.close()


async def test_a_large_feed_page_passes_the_heavy_work_gate(graph: Graph, tmp_path: Path) -> None:
    env = {
        "DIBX_HEAVY_COST": "20",
        "DIBX_HEAVY_CONCURRENCY": "1",
        "DIBX_HEAVY_PER_TOKEN": "1",
        "DIBX_HEAVY_WAIT": "1",
    }
    api = Api(graph, tmp_path, env=env)
    try:
        await api.load(b.dataset())
        heavy = api.app.state.heavy
        async with heavy.slot("user-usa"):  # the same subject already runs heavy work
            refused = await api.query("query { changes(first: 50) { endCursor } }")
            small = await api.query("query { changes(first: 5) { endCursor } }")
        assert refused.status == 429, refused.body
        assert [e["extensions"]["code"] for e in refused.errors] == ["LIMIT_EXCEEDED"]
        assert "heavy request(s) running" in refused.errors[0]["message"]
        assert small.errors == [], small.body  # under the heavy cost: light
        assert (await api.query("query { changes(first: 50) { endCursor } }")).errors == []
    finally:
        await api.close()
