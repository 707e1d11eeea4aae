"""Rate limits: 429 with Retry-After once a budget is spent, for that caller only, refilled
with time (an injected clock, no sleeping), counted, and refused without any database work."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from dibx.graph.driver import Graph
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

QUERY = {"query": "query { suppliers(first: 1) { nodes { key } } }"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(api: Api, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=api.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://dibx.test")


async def _post(client: httpx.AsyncClient, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await client.post("/graphql", json=QUERY, headers=headers)


def _limited(response: httpx.Response, retry_after: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"] == retry_after
    assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_token_limit_refuses_that_holder_only_and_refills(
    graph: Graph, tmp_path: Path
) -> None:
    clock = Clock()
    env = {
        "DIBX_RATE_PER_TOKEN": "60",  # one a second
        "DIBX_RATE_PER_TOKEN_BURST": "3",
        "DIBX_RATE_PER_ADDRESS": "0",
    }
    api = Api(graph, tmp_path, env=env, clock=clock)
    client = _client(api, "127.0.0.2")
    try:
        alice = api.token(subject="alice")
        for _ in range(3):
            assert (await _post(client, alice)).status_code == 200
        queries = graph.stats.total
        _limited(await _post(client, alice), "1")
        # A fresh token for the same holder shares the budget: it is not keyed by jti.
        _limited(await _post(client, api.token(subject="alice")), "1")
        assert graph.stats.total == queries  # refused before any Cypher
        # Another holder, from the same address, is not affected.
        assert (await _post(client, api.token(subject="bob"))).status_code == 200

        clock.now += 1.0  # one token back
        assert (await _post(client, alice)).status_code == 200
        _limited(await _post(client, alice), "1")
        clock.now += 10.0  # refills up to the burst, no further
        for _ in range(3):
            assert (await _post(client, alice)).status_code == 200
        _limited(await _post(client, alice), "1")

        refused = [r for r in api.audit.records if r.get("outcome") == "refused"]
        assert [r["error_codes"] for r in refused] == [["RATE_LIMITED"]] * 4
        assert {r["subject"] for r in refused} == {"alice"}
        metrics = (await client.get("/metrics")).text
        assert 'dibx_rate_limited_total{reason="token"} 4.0' in metrics
    finally:
        await client.aclose()
        await api.close()


async def test_address_limit_applies_before_the_token_and_spares_other_addresses(
    graph: Graph, tmp_path: Path
) -> None:
    clock = Clock()
    env = {
        "DIBX_RATE_PER_ADDRESS": "30",  # one every two seconds
        "DIBX_RATE_PER_ADDRESS_BURST": "2",
        "DIBX_RATE_PER_TOKEN": "0",
    }
    api = Api(graph, tmp_path, env=env, clock=clock)
    flooder, other = _client(api, "127.0.0.2"), _client(api, "127.0.0.3")
    try:
        token = api.token()
        # Requests without a valid token spend the address's budget too...
        assert (await _post(flooder, None)).status_code == 401
        assert (await _post(flooder, "not-a-token")).status_code == 401
        queries = graph.stats.total
        # ...so a valid one is then refused, before its token is looked at.
        _limited(await _post(flooder, token), "2")
        _limited(await _post(flooder, "not-a-token"), "2")
        assert graph.stats.total == queries
        # Probes and scrapers are never limited.
        assert (await flooder.get("/healthz")).status_code == 200
        assert (await flooder.get("/readyz")).status_code == 200
        assert (await _post(other, token)).status_code == 200

        clock.now += 1.0
        _limited(await _post(flooder, token), "1")
        clock.now += 1.0
        assert (await _post(flooder, token)).status_code == 200
        metrics = (await other.get("/metrics")).text
        assert 'dibx_rate_limited_total{reason="address"} 3.0' in metrics
    finally:
        await flooder.aclose()
        await other.aclose()
        await api.close()


async def test_instances_share_the_configured_rate(graph: Graph, tmp_path: Path) -> None:
    """With 3 processes declared, each admits a third of the burst (and of the rate)."""
    clock = Clock()
    env = {
        "DIBX_RATE_PER_TOKEN": "180",
        "DIBX_RATE_PER_TOKEN_BURST": "6",
        "DIBX_RATE_PER_ADDRESS": "0",
        "DIBX_RATE_INSTANCES": "3",
    }
    api = Api(graph, tmp_path, env=env, clock=clock)
    client = _client(api, "127.0.0.2")
    try:
        token = api.token()
        assert [(await _post(client, token)).status_code for _ in range(3)] == [200, 200, 429]
        clock.now += 1.0  # 180/min over 3 processes: one a second here
        assert [(await _post(client, token)).status_code for _ in range(2)] == [200, 429]
    finally:
        await client.aclose()
        await api.close()
