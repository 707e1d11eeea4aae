"""The subscription socket's door: the bearer token at connection_init, its expiry, its scope,
and what the socket refuses to run (graphql-transport-ws close codes, docs/subscriptions.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dibx.app.live import FORBIDDEN, TOKEN_EXPIRED
from dibx.graph.driver import Graph
from tests.support.api import Api
from tests.support.live import CHANGES, Closed, LiveClient, serving

pytestmark = pytest.mark.neo4j


def _refusals(api: Api) -> list[dict[str, object]]:
    return [r for r in api.audit.records if r.get("transport") == "graphql-transport-ws"]


@pytest.mark.asyncio(loop_scope="session")
async def test_connection_init_refuses_missing_invalid_unscoped_and_expired_tokens(
    api: Api,
) -> None:
    unscoped = api.token("USA", scopes=("marking:challenge",))
    async with serving(api) as url:
        for payload in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": 7}):
            async with LiveClient.opened(url) as client:
                await client.send({"type": "connection_init", "payload": payload})
                assert await client.receive() == Closed(FORBIDDEN, "Forbidden"), payload
        async with LiveClient.opened(url) as client:
            assert await client.init(unscoped) == Closed(FORBIDDEN, "Forbidden")
        # A token past its expiry (and the validator's leeway) when it arrives.
        stale = api.token("USA")
        validator = api.runtime.validator
        validator._clock = lambda: time.time() + 2 * 86400  # type: ignore[attr-defined]
        try:
            async with LiveClient.opened(url) as client:
                assert await client.init(stale) == Closed(FORBIDDEN, "Forbidden")
        finally:
            validator._clock = time.time  # type: ignore[attr-defined]
    codes = [r["error_codes"] for r in _refusals(api)]
    assert codes == [["UNAUTHENTICATED"]] * 3 + [["INSUFFICIENT_SCOPE"], ["UNAUTHENTICATED"]]
    assert all(r["status"] == 403 for r in _refusals(api))


@pytest.mark.asyncio(loop_scope="session")
async def test_socket_closes_with_4403_when_its_token_expires(api: Api) -> None:
    short = api.token("USA", ttl=2)
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(short) == {"type": "connection_ack"}
        await client.subscribe()
        while True:  # the feed is empty: nothing comes but the close
            message = await client.receive()
            if isinstance(message, Closed):
                break
        assert message == Closed(FORBIDDEN, TOKEN_EXPIRED)


@pytest.mark.asyncio(loop_scope="session")
async def test_socket_runs_subscriptions_only_and_audits_their_start(api: Api) -> None:
    token = api.token("GBR")
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(token) == {"type": "connection_ack"}
        sid = await client.subscribe(document="query Q { changes { endCursor } }")
        refused = await client.receive()
        assert isinstance(refused, dict)
        assert refused["type"] == "error"
        assert refused["id"] == sid
        # Before the ack nothing runs: a second connection_init closes the socket (4429).
        await client.send({"type": "connection_init", "payload": {}})
        assert await client.receive() == Closed(4429, "Too many initialisation requests")
    records = _refusals(api)
    assert [r["outcome"] for r in records] == ["refused"]  # the query never started
    assert records[0]["error_codes"] == ["BAD_REQUEST"]


@pytest.mark.asyncio(loop_scope="session")
async def test_bad_cursor_is_an_error_with_its_code_and_the_socket_stays(api: Api) -> None:
    token = api.token("GBR", scopes=("supplier:read",))
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(token) == {"type": "connection_ack"}
        sid = await client.subscribe({"after": "garbage"})
        refused = await client.receive()
        assert isinstance(refused, dict)
        assert refused["id"] == sid, refused
        errors = refused["payload"]["errors"]
        assert [e["extensions"]["code"] for e in errors] == ["BAD_USER_INPUT"], refused
        assert await client.receive() == {"id": sid, "type": "complete"}
        await client.send({"type": "ping"})
        assert await client.receive() == {"type": "pong"}
    records = [r for r in _refusals(api) if r.get("outcome") == "started"]
    assert [r["nation"] for r in records] == ["GBR"]
    assert records[0]["operation"] == "Live"
    assert records[0]["operation_type"] == "subscription"


MALFORMED: dict[str, object] = {
    "not an object": [],
    "a string": "subscribe",
    "payload not an object": {"id": "1", "type": "subscribe", "payload": "x"},
    "id not a string": {"id": ["1"], "type": "subscribe", "payload": {"query": CHANGES}},
    "query not a string": {"id": "1", "type": "subscribe", "payload": {"query": 5}},
    "variables not an object": {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": CHANGES, "variables": [1]},
    },
    "complete with an id not a string": {"id": {"x": 1}, "type": "complete"},
}


@pytest.mark.asyncio(loop_scope="session")
async def test_a_malformed_message_closes_the_socket_with_4400(api: Api) -> None:
    """graphql-transport-ws: a message of a format the protocol does not specify closes the
    socket at once with 4400 (a graphql-ws client takes it as fatal and does not retry)."""
    token = api.token("GBR")
    answered: dict[str, object] = {}
    async with serving(api) as url:
        for name, message in MALFORMED.items():
            async with LiveClient.opened(url) as client:
                assert await client.init(token) == {"type": "connection_ack"}
                await client.socket.send(json.dumps(message))
                answered[name] = await client.receive()
    assert answered == dict.fromkeys(MALFORMED, Closed(4400, "Invalid message"))


@pytest.mark.asyncio(loop_scope="session")
async def test_a_message_over_the_body_limit_closes_the_socket_with_1009(
    graph: Graph, tmp_path: Path
) -> None:
    """A message on the socket is held to the limit of an HTTP body (DIBX_MAX_BODY_BYTES),
    `connection_init` included, which arrives before any token was checked: over it, the
    socket closes with 1009 Message Too Big and the message is not read."""
    api = Api(graph, tmp_path, env={"DIBX_MAX_BODY_BYTES": "4096"})
    token = api.token("GBR")
    padding = "x" * 5000
    try:
        async with serving(api) as url:
            async with LiveClient.opened(url) as client:
                answer = await client.init(None, padding=padding)
                assert answer == Closed(1009, "Message too big")
            async with LiveClient.opened(url) as client:
                assert await client.init(token) == {"type": "connection_ack"}
                await client.subscribe({"after": "garbage"}, document=CHANGES + "#" + padding)
                assert await client.receive() == Closed(1009, "Message too big")
            # Up to the limit, a message is read as before.
            async with LiveClient.opened(url) as client:
                assert await client.init(token, padding="x" * 3000) == {"type": "connection_ack"}
    finally:
        await api.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_the_closing_record_says_why_a_subscription_was_refused_or_failed(api: Api) -> None:
    """As an HTTP request's record does: a subscription refused by a limit (or validation)
    ends with outcome `refused` and its codes; one whose execution answered an error says
    that error's code."""
    wide = "subscription Wide { changes { " + " ".join(f"a{i}: cursor" for i in range(40)) + " } }"
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(api.token("GBR")) == {"type": "connection_ack"}
        refused = await client.subscribe(document=wide)
        answer = await client.receive()
        assert isinstance(answer, dict)
        assert [e["extensions"]["code"] for e in answer["payload"]] == ["LIMIT_EXCEEDED"]
        failed = await client.subscribe({"after": "garbage"})
        answer = await client.receive()
        assert isinstance(answer, dict)
        assert answer["type"] == "next"
        assert await client.receive() == {"id": failed, "type": "complete"}
    closing = {
        r["subscription_id"]: (r["outcome"], r.get("error_codes"), r["status"])
        for r in _refusals(api)
        if r.get("subscription_id") is not None and r["outcome"] != "started"
    }
    assert closing == {
        refused: ("refused", ["LIMIT_EXCEEDED"], 400),
        failed: ("complete", ["BAD_USER_INPUT"], 200),
    }
