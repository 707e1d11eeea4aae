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
from dibx.errors import TimedOut, Unavailable
from dibx.graph import migrations
from dibx.graph.driver import Graph, Timeouts, connect
from tests.support import builders as b
from tests.support.api import Api, Reply

pytestmark = pytest.mark.neo4j

QUERY = "query { suppliers(first: 5) { nodes { key name } } }"


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

        # Clients keep sending while Neo4j is killed. How fast they are refused is the driver's
        # timeouts (tests/unit/test_driver_timeouts.py): printed below, not asserted.
        in_flight = [asyncio.create_task(_timed(api, token)) for _ in range(8)]
        os.kill(server.pid, signal.SIGKILL)
        await asyncio.to_thread(server.stop)  # reaps the process, removes its pid file
        during = await asyncio.gather(*in_flight)
        # Four more once it is gone, sent together: each waits out the driver's retries.
        during += await asyncio.gather(*(_timed(api, token) for _ in range(4)))
        refused = [(r, t) for r, t in during if r.status != 200]
        print(
            f"\noutage: {len(refused)}/{len(during)} refused, slowest "
            f"{max(t for _, t in during):.2f} s"
        )
        assert len(refused) >= 4  # the four sent after the kill, at least
        for reply, _ in refused:
            assert reply.status == 503
            assert reply.errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
            assert reply.headers["content-type"].startswith("application/json")
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


# --- the restart window: errors that used to escape the mapping -----------------------------


async def test_failed_hooked_write_keeps_its_error(graph: Graph) -> None:
    """A hooked (audited) write whose statement fails: closing the failed transaction raised
    ResultFailedError, which hid the real error from the mapping (an INTERNAL instead of 503
    while Neo4j restarted). Here the statement waits for a lock another transaction holds
    until the server stops it (LockClientStopped, as at a shutdown; its timeout here): the
    caller must get Unavailable, and the hook must not run. On a loaded machine the server
    may stop the statement by its timeout before the lock wait is reached: then TimedOut, the
    timeout's own mapped error; either way not the INTERNAL the unmapped error gave."""
    await graph.write("CREATE (:OutageLock {key: 'k'})")
    hooked: list[object] = []

    async def hook(rows: list[dict[str, object]]) -> None:
        hooked.append(rows)

    async with graph.driver.session(database=graph.database) as session:
        holder = await session.begin_transaction()
        try:
            await holder.run("MATCH (n:OutageLock {key: 'k'}) SET n.held = true")
            with pytest.raises((Unavailable, TimedOut)):
                await graph.write(
                    "MATCH (n:OutageLock {key: 'k'}) SET n.value = 1 RETURN n.key AS key",
                    before_commit=hook,
                    tx_timeout=1.0,
                )
        finally:
            await holder.rollback()
    assert hooked == []


async def test_timed_out_membership_read_answers_json_503(graph: Graph, tmp_path: Path) -> None:
    """The caller's groups are read before execution; a timeout there (as when Neo4j has just
    restarted, cold, under load) escaped as a plain-text, unaudited 500. A 1 ms transaction
    timeout makes some of those reads time out: each must answer an audited JSON 503."""
    ok = Api(graph, tmp_path / "load")
    await ok.load(b.dataset(suppliers=[b.supplier("s1")]))
    await ok.close()
    api = Api(Graph(graph.driver, graph.database, tx_timeout=0.001), tmp_path / "api")
    token = api.token()
    statuses: list[int] = []
    try:
        for _ in range(40):
            api.runtime.memberships.invalidate()  # every request reads the memberships again
            reply = await api.query(QUERY, token=token)
            statuses.append(reply.status)
            assert reply.status in (200, 503), reply.body
            assert reply.headers["content-type"].startswith("application/json")
            if reply.status == 503:
                assert reply.errors[0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
                assert reply.headers["retry-after"]
    finally:
        await api.close()
    print(f"\nstatuses: {sorted(set(statuses))}, 503s: {statuses.count(503)}/{len(statuses)}")
    refused = [r for r in api.audit.records if r["error_codes"] == ["SERVICE_UNAVAILABLE"]]
    assert len(refused) == statuses.count(503)
