"""How many subscriptions one caller may hold: at most `DIBX_LIVE_PER_SOCKET` on a socket. A
refusal is an `error` message with code LIMIT_EXCEEDED naming the limit, and is audited
(docs/subscriptions.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dibx.graph.driver import Graph
from tests.support.api import Api
from tests.support.live import WAIT_S, LiveClient, serving

pytestmark = pytest.mark.neo4j

TRANSPORT = "graphql-transport-ws"
SUPPLIERS = {"types": ["SUPPLIER"]}


@pytest_asyncio.fixture(loop_scope="session")
async def limited(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    env = {"DIBX_LIVE_PER_SOCKET": "2"}
    client = Api(graph, tmp_path, env=env)
    yield client
    await client.close()


async def _outcome(api: Api, sid: str, *, ended: bool = False) -> dict[str, Any]:
    """The audit record that says how subscription `sid` started (or, `ended`, ended)."""
    wanted = {"complete", "client", "closed", "error"} if ended else {"started", "refused"}
    async with asyncio.timeout(WAIT_S):
        while True:
            for record in api.audit.records:
                if record.get("subscription_id") == sid and record["outcome"] in wanted:
                    return record
            await asyncio.sleep(0.01)


async def _refused(client: LiveClient, sid: str) -> dict[str, Any]:
    message = await client.receive()
    assert isinstance(message, dict), message
    assert (message["id"], message["type"]) == (sid, "error"), message
    [error] = message["payload"]
    return dict(error["extensions"])


@pytest.mark.asyncio(loop_scope="session")
async def test_a_subscription_over_the_socket_limit_is_refused_with_a_code_and_audited(
    limited: Api,
) -> None:
    api = limited
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(api.token("GBR")) == {"type": "connection_ack"}
        for _ in range(2):
            assert (await _outcome(api, await client.subscribe()))["outcome"] == "started"
        third = await client.subscribe()
        assert await _refused(client, third) == {
            "code": "LIMIT_EXCEEDED",
            "limit": "subscriptionsPerSocket",
            "maximum": 2,
        }
        record = await _outcome(api, third)
        assert (record["transport"], record["nation"]) == (TRANSPORT, "GBR")
        assert (record["outcome"], record["error_codes"], record["status"]) == (
            "refused",
            ["LIMIT_EXCEEDED"],
            429,
        )
