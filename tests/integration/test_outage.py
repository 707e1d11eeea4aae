"""Neo4j stopped under requests: fast, audited 503s; back without restarting the API.

Runs its own embedded Neo4j (not the session's), kills it with SIGKILL while clients send
requests, then starts it again on the same data directory and port. The latency bound is
generous on purpose (the configured timeouts add up to about 6 s; before, 57-59 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from dibx import neo4j_server
from dibx.graph import migrations
from dibx.graph.driver import Graph, Timeouts, connect
from tests.support import builders as b
from tests.support.api import Api, Reply

pytestmark = pytest.mark.neo4j

QUERY = "query { suppliers(first: 5) { nodes { key name } } }"
FAST = 10.0  # seconds: "within a few seconds", with room for a loaded machine


async def _timed(api: Api, token: str) -> tuple[Reply, float]:
    start = time.perf_counter()
    reply = await api.query(QUERY, token=token)
    return reply, time.perf_counter() - start


def _start(data_dir: Path, port: int) -> neo4j_server.EmbeddedNeo4j:
    return neo4j_server.start(data_dir, port, heap="256m", page_cache="64m", tie_to_parent=True)


async def test_neo4j_killed_under_requests_then_back(tmp_path: Path) -> None:
    data_dir, port = tmp_path / "neo4j", neo4j_server.free_port()
    server = await asyncio.to_thread(_start, data_dir, port)
    graph = Graph(connect(server.uri, "neo4j", "", timeouts=Timeouts(2, 2, 2)), "neo4j")
    api = Api(graph, tmp_path / "api")
    token = api.token()
    try:
        await migrations.apply(graph)
        await api.load(b.dataset(suppliers=[b.supplier("s1")]))
        before, _ = await _timed(api, token)
        assert before.status == 200
        assert before.data["suppliers"]["nodes"][0]["key"] == "s1"

        # Clients keep sending while Neo4j is killed.
        in_flight = [asyncio.create_task(_timed(api, token)) for _ in range(8)]
        os.kill(server.pid, signal.SIGKILL)
        await asyncio.to_thread(server.stop)  # reaps the process, removes its pid file
        during = await asyncio.gather(*in_flight)
        during += [await _timed(api, token) for _ in range(4)]
        refused = [(r, t) for r, t in during if r.status != 200]
        print(
            f"\noutage: {len(refused)}/{len(during)} refused, slowest "
            f"{max(t for _, t in during):.2f} s"
        )
        assert len(refused) >= 4  # the four sent after the kill, at least
        for reply, seconds in refused:
            assert reply.status == 503
            assert reply.errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert reply.headers["content-type"].startswith("application/json")
            assert seconds < FAST
        audited = [r for r in api.audit.records if "SERVICE_UNAVAILABLE" in r["error_codes"]]
        assert len(audited) == len(refused)

        # Same data directory and port: the same API process serves again.
        server = await asyncio.to_thread(_start, data_dir, port)
        deadline = time.monotonic() + 30
        after, _ = await _timed(api, token)
        while after.status != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            after, _ = await _timed(api, token)
        assert after.status == 200
        assert after.data["suppliers"]["nodes"][0]["key"] == "s1"
    finally:
        await api.close()
        await graph.close()
        await asyncio.to_thread(server.stop)
