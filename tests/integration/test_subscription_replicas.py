"""Two API processes on one Neo4j: a write through one reaches a subscriber on the other (no
in-process bus: each process polls the outbox), and a cursor one handed out resumes on the
other (both seal with the deployment's server secret)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from dibx.graph.driver import Graph
from dibx.graph.writes import write_dataset
from tests.support import builders as b
from tests.support.live import LiveClient
from tests.support.served import dev_token, serve_env, serving
from tests.support.stewardship import CREATE_SUPPLIER, REL_GBR, supplier_input

pytestmark = pytest.mark.neo4j


def _env(neo4j_uri: str, data_dir: Path) -> dict[str, str]:
    return serve_env(
        neo4j_uri,
        data_dir,
        DIBX_RATE_PER_ADDRESS="0",
        DIBX_RATE_PER_TOKEN="0",
        DIBX_LIVE_POLL_MS="100",
    )


def _create(url: str, token: str, key: str) -> None:
    given = supplier_input(key, record=REL_GBR, marking=REL_GBR, name=key)
    reply = httpx.post(
        f"{url}/graphql",
        json={"query": CREATE_SUPPLIER, "variables": {"input": given}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    assert "errors" not in body, body


@pytest.mark.asyncio(loop_scope="session")
async def test_write_through_one_process_reaches_a_subscriber_on_the_other(
    graph: Graph, neo4j_uri: str, tmp_path: Path
) -> None:
    await write_dataset(graph, b.dataset())
    data_dir = tmp_path / "var"
    one, two = _env(neo4j_uri, data_dir), _env(neo4j_uri, data_dir)
    writer = dev_token(one, "GBR", "supplier:read", "data:write")
    reader = dev_token(one, "GBR", "supplier:read")
    # Started together (each waits for its own readiness); stopped with SIGINT after.
    with serving(one, two, logs=[tmp_path / "one.log", tmp_path / "two.log"]) as processes:
        url_one, url_two = (p.url for p in processes)
        ws_one, ws_two = (u.replace("http://", "ws://") + "/graphql" for u in (url_one, url_two))
        async with LiveClient.opened(ws_two) as client:
            assert await client.init(reader) == {"type": "connection_ack"}
            await client.subscribe({"types": ["SUPPLIER"]})
            _create(url_one, writer, "via-one")
            [first] = await client.events(1)
        assert first["kind"] == "CREATED"
        _create(url_one, writer, "while-away")
        # The cursor process two handed out resumes on process one: nothing lost, no repeat.
        async with LiveClient.opened(ws_one) as client:
            assert await client.init(reader) == {"type": "connection_ack"}
            await client.subscribe({"types": ["SUPPLIER"], "after": first["cursor"]})
            [second] = await client.events(1)
    assert first["id"] != second["id"]
    names = [{f["field"]: f["value"] for f in e["fields"]}["name"] for e in (first, second)]
    assert names == ["via-one", "while-away"]
