"""Warm-up of the trusted reads at start (dibx.app.warm).

Invariants:
- each covered operation of the trusted documents runs once, with the very query text and
  parameter names and types a caller's request runs (what Neo4j keys its plan cache by);
- nothing else runs: no mutation, no analysis, no document needing a value it cannot guess,
  each skipped with its reason in the log;
- what it reads is released to no nation: a record marked for one nation only is not read
  back, and nothing is audited as if a caller had asked;
- /readyz answers 503 `warming` until the warm-up ends, and ready once it ends or times out.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import structlog

from dibx.graph.driver import Graph
from dibx.schema.ids import encode_id
from tests.integration.test_persisted_operations import MUTATION, sha
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

COVERED = """
query Tree($id: ID!, $first: Int!, $withName: Boolean!) {
  supplier(id: $id) { key name @include(if: $withName)
    suppliers(first: $first) { totalCount edges { share node { key name } } } }
}
"""
# The id sits in an input object: its field names the record type.
FILTERED = (
    "query Filtered($c: ID!) { suppliers(first: 0, filter: {capability: $c}) { totalCount } }"
)
# Not compiled reads, or not guessable: none of these may run.
ANALYSIS = "query Gap($c: ID!) { capabilityGap(capability: $c, depth: 3) { depth } }"
DATED = "query Dated($d: DateTime!) { suppliers(asOf: $d) { totalCount } }"


class Recorded:
    """Wraps the real Graph's read to note each query and its parameters (Neo4j still runs
    them); `hold`, while set, keeps reads waiting."""

    def __init__(self, graph: Graph) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.hold: asyncio.Event | None = None
        original = graph.read

        async def read(query: Any, params: Any = None, **kw: Any) -> list[dict[str, Any]]:
            self.calls.append((str(query), dict(params or {})))
            rows = await original(query, params, **kw)
            if self.hold is not None:
                await self.hold.wait()
            return rows

        graph.read = read  # type: ignore[method-assign]


@pytest_asyncio.fixture(loop_scope="session")
async def warming(graph: Graph, tmp_path: Path) -> AsyncIterator[tuple[Api, Recorded]]:
    path = tmp_path / "trusted-documents.json"
    path.write_text(json.dumps({sha(d): d for d in (COVERED, FILTERED, ANALYSIS, DATED, MUTATION)}))
    api = Api(graph, tmp_path, env={"DIBX_TRUSTED_DOCUMENTS_FILE": str(path)})
    await api.load(
        b.dataset(
            suppliers=[b.supplier("s1", "USA"), b.supplier("s2", "GBR", record="CUI//NOFORN")],
            sources_from=[b.sources("s1", "s2")],
        )
    )
    recorded = Recorded(graph)
    yield api, recorded
    await api.close()


def _shape(params: dict[str, Any]) -> dict[str, str]:
    return {k: type(v).__name__ for k, v in params.items()}


async def test_the_warm_up_runs_each_trusted_read_once_as_a_caller_would(
    warming: tuple[Api, Recorded],
) -> None:
    api, recorded = warming
    assert (await api.client.get("/readyz")).json() == {"status": "warming"}
    # What the Neo4j alert reads to tell warming from an outage (deploy/prometheus).
    assert "dibx_warming 1.0" in (await api.client.get("/metrics")).text
    with structlog.testing.capture_logs() as logs:
        await api.app.state.warm_up()
    assert (await api.client.get("/readyz")).status_code == 200
    assert "dibx_warming 0.0" in (await api.client.get("/metrics")).text

    done = [e for e in logs if e["event"] == "trusted_documents_warmed"]
    assert len(done) == 1, logs
    # Tree with and without the name (`@include`), and Filtered; each found its records'
    # type from its placeholders (a wrong one is an error before any Cypher).
    assert done[0]["ran"] == 3, logs
    assert [e for e in logs if e["event"] == "warm_up_errors"] == []
    skipped = done[0]["skipped"]
    assert sorted(skipped) == sorted(
        [
            f"Gap ({sha(ANALYSIS)[:12]})",
            f"Dated ({sha(DATED)[:12]})",
            f"Challenge ({sha(MUTATION)[:12]})",
        ]
    )
    assert "no placeholder for $d of type DateTime!" in skipped[f"Dated ({sha(DATED)[:12]})"]
    assert "mutation" in skipped[f"Challenge ({sha(MUTATION)[:12]})"]
    # One compiled read per shape, nothing written, no request audited.
    assert len(recorded.calls) == 3, ([q[:80] for q, _ in recorded.calls], logs)
    assert [p["groups"] for _, p in recorded.calls] == [["-"]] * 3  # no nation's release
    assert api.audit.records == []

    reply = await api.query(
        COVERED, {"id": encode_id("Supplier", "s1"), "first": 5, "withName": True}, nation="GBR"
    )
    assert reply.errors == []
    assert reply.data["supplier"]["key"] == "s1"
    caller_query, caller_params = recorded.calls[-1]
    warmed = [p for q, p in recorded.calls[:3] if q == caller_query]
    assert len(warmed) == 1
    assert _shape(caller_params) == _shape(warmed[0])


async def test_the_warm_up_reads_only_what_every_caller_may_see(
    graph: Graph, tmp_path: Path
) -> None:
    listing = "query List { suppliers { nodes { key name } } }"
    path = tmp_path / "trusted-documents.json"
    path.write_text(json.dumps({sha(listing): listing}))
    api = Api(graph, tmp_path, env={"DIBX_TRUSTED_DOCUMENTS_FILE": str(path)})
    await api.load(
        b.dataset(
            suppliers=[b.supplier("s1", "USA"), b.supplier("s2", "GBR", record="CUI//NOFORN")]
        )
    )
    rows: list[Any] = []
    original = graph.read

    async def keep(query: Any, params: Any = None, **kw: Any) -> list[dict[str, Any]]:
        found = await original(query, params, **kw)
        rows.extend(found)
        return found

    graph.read = keep  # type: ignore[method-assign]
    try:
        await api.app.state.warm_up()
        read = json.dumps(rows, default=str)
        assert '"s1"' in read
        assert '"s2"' not in read
        # The same read for a nation the marking releases to returns the record.
        rows.clear()
        reply = await api.query(listing, nation="USA")
        assert sorted(n["key"] for n in reply.data["suppliers"]["nodes"]) == ["s1", "s2"]
        assert '"s2"' in json.dumps(rows, default=str)
    finally:
        await api.close()


async def test_a_warm_up_past_its_time_leaves_the_instance_ready(
    graph: Graph, tmp_path: Path
) -> None:
    path = tmp_path / "trusted-documents.json"
    path.write_text(json.dumps({sha(COVERED): COVERED}))
    api = Api(
        graph,
        tmp_path,
        env={"DIBX_TRUSTED_DOCUMENTS_FILE": str(path), "DIBX_WARM_TIMEOUT": "1"},
    )
    recorded = Recorded(graph)
    recorded.hold = asyncio.Event()  # the read never returns within the second
    try:
        assert (await api.client.get("/readyz")).status_code == 503
        with structlog.testing.capture_logs() as logs:
            await api.app.state.warm_up()
        assert [e["event"] for e in logs if "warm" in e["event"]] == [
            "trusted_documents_warm_timeout"
        ]
        assert (await api.client.get("/readyz")).status_code == 200
    finally:
        recorded.hold.set()
        await api.close()
