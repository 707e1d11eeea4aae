"""A batch larger than the database's transaction memory is written in parts, not lost.

Neo4j bounds the memory of all its transactions at once (`dbms.memory.transaction.total.max`,
DIBX_NEO4J_TX_MEMORY for the embedded server). A batch over it used to stop the import with
"the database is unavailable" (seen at 5,000 suppliers a batch on the default 256 MiB). Runs
its own embedded Neo4j with a small pool, so a few hundred rows pass it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from dibx import neo4j_server
from dibx.errors import MemoryLimit
from dibx.exchange.importer import Source
from dibx.graph import migrations
from dibx.graph.driver import Graph, connect
from tests.integration.test_import import imported
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

ROWS = 600
HEADER = "key,marking,name,cage,cage.marking,city,description,employees,employees.marking,nation\n"


def _suppliers(n: int) -> Source:
    rows = "".join(
        f"mem-{i:04d},CUI,Memory Test {i},K{i:04d},CUI,Leeds,A long enough description {i},"
        f"{i},CUI//PROPIN,GBR\n"
        for i in range(n)
    )
    return Source("suppliers.csv", [HEADER + rows])


def _start(data_dir: Path) -> neo4j_server.EmbeddedNeo4j:
    return neo4j_server.start(
        data_dir,
        neo4j_server.free_port(),
        heap="256m",
        page_cache="64m",
        tx_memory="10m",
        tie_to_parent=True,
    )


async def _stored(graph: Graph) -> int:
    row = await graph.read_one(
        "MATCH (s:Supplier) WHERE s.id STARTS WITH 'USA:mem-' RETURN count(s) AS n"
    )
    assert row is not None
    return int(row["n"])


async def test_a_batch_over_the_transaction_memory_limit_is_written_in_parts(
    tmp_path: Path,
) -> None:
    server = await asyncio.to_thread(_start, tmp_path / "neo4j")
    graph = Graph(connect(server.uri, "neo4j", ""), "neo4j")
    api = Api(graph, tmp_path / "api")
    try:
        await migrations.apply(graph)
        await api.load(b.dataset())

        # The limit is real here: the whole batch in one transaction is refused.
        with capture_logs() as logs:
            report = await imported(api, "USA", [_suppliers(ROWS)], batch_size=ROWS)
        assert report.stopped is None, report.stopped
        assert (report.read, report.created, report.rejected) == (ROWS, ROWS, 0)
        assert await _stored(graph) == ROWS
        splits = [e for e in logs if e["event"] == "import batch split"]
        assert splits, logs
        assert splits[0]["rows"] == ROWS

        # A re-run finds every row as stored, whatever parts they were written in.
        again = await imported(api, "USA", [_suppliers(ROWS)], batch_size=ROWS)
        assert (again.created, again.unchanged, again.stopped) == (0, ROWS, None)
        assert await _stored(graph) == ROWS
    finally:
        await graph.close()
        await asyncio.to_thread(server.stop)


async def test_a_read_over_the_limit_says_memory_not_an_outage(tmp_path: Path) -> None:
    server = await asyncio.to_thread(_start, tmp_path / "neo4j")
    graph = Graph(connect(server.uri, "neo4j", ""), "neo4j")
    try:
        with pytest.raises(MemoryLimit) as raised:
            await graph.read("UNWIND range(1, 2000000) AS i RETURN collect(i) AS all")
        assert "transaction memory limit" in str(raised.value)
        assert "MiB" not in str(raised.value)  # Neo4j's figures stay in the logs
    finally:
        await graph.close()
        await asyncio.to_thread(server.stop)
