"""Every transaction carries the request id as metadata and a server-side timeout, on the
real Neo4j: a query past its timeout is stopped by the server and reported as TimedOut."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, LiteralString

import neo4j
import pytest

from dibx.errors import TimedOut
from dibx.graph.driver import Graph, current_request_id, request_context
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

# Counts to two billion: far longer than any timeout below, and touches no data.
SLOW = "UNWIND range(1, 2000000000) AS x WITH x WHERE x < 0 RETURN count(x) AS n"
RUNNING = (
    "SHOW TRANSACTIONS YIELD metaData, currentQuery "
    "WHERE metaData.requestId = $id RETURN metaData, currentQuery"
)


async def _running(graph: Graph, request_id: str) -> dict[str, object]:
    # Poll until the slow transaction shows up running its query (bounded, so a broken run
    # fails, not hangs): a transaction is listed from BEGIN, with an empty `currentQuery`
    # until its statement arrives, which on a loaded machine can be a poll or two later.
    for _ in range(200):
        rows = await graph.read(RUNNING, {"id": request_id})
        if rows and rows[0]["currentQuery"]:
            return rows[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no running transaction tagged {request_id}")


async def test_request_id_and_timeout_reach_neo4j(graph: Graph) -> None:
    with request_context("req-test-42"):
        slow = asyncio.create_task(graph.read(SLOW, tx_timeout=2))
    seen = await _running(graph, "req-test-42")
    assert seen == {"metaData": {"requestId": "req-test-42"}, "currentQuery": SLOW}
    # The server, not the client, stops it: the driver would wait forever for the count.
    with pytest.raises(TimedOut, match="time limit"):
        await slow


async def test_the_configured_timeout_applies_to_writes(graph: Graph) -> None:
    tight = Graph(graph.driver, graph.database, tx_timeout=1)
    with pytest.raises(TimedOut) as caught:
        await tight.write(f"CREATE (:Scratch) WITH 1 AS one {SLOW}")
    assert caught.value.code == "TIMEOUT"
    assert tight.stats.writes == 1
    # Stopped by the server: nothing of the write was committed.
    row = await graph.read_one("MATCH (s:Scratch) RETURN count(s) AS n")
    assert row == {"n": 0}


class Tagged(Graph):
    """Notes the request id each read runs under: the id `read` sends as metadata."""

    seen: list[str | None]

    async def read(
        self,
        query: LiteralString,
        params: Mapping[str, Any] | None = None,
        *,
        tx_timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        self.seen.append(current_request_id())
        return await super().read(query, params, tx_timeout=tx_timeout)


async def test_each_request_tags_its_queries_with_its_id(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None, tmp_path: Path
) -> None:
    graph = Tagged(neo4j_driver, "neo4j")
    graph.seen = []
    api = Api(graph, tmp_path)
    ids: list[set[str | None]] = []
    try:
        for header in ({"X-Request-Id": "abc-123"}, {}, {"X-Request-Id": "no spaces { }"}):
            graph.seen = []
            reply = await api.query("{ suppliers(first: 1) { totalCount } }", headers=header)
            assert reply.status == 200, reply.body
            ids.append(set(graph.seen))
    finally:
        await api.close()
    given, generated, refused = ids
    assert given == {"abc-123"}
    # Without a usable header each request gets its own generated id, never none.
    assert len(generated) == len(refused) == 1
    assert generated != refused
    assert None not in generated | refused
    assert "no spaces { }" not in refused
    assert current_request_id() is None  # the id does not outlive its request
    # The audit names the same id, so a record and Neo4j's transaction list can be matched.
    audited = [r["request_id"] for r in api.audit.records]
    assert audited[0] == "abc-123"
    assert {audited[1]} == generated
    assert {audited[2]} == refused
