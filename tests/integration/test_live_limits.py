"""How many subscriptions and pings one caller may send.

Subscriptions: at most `DIBX_LIVE_PER_SOCKET` on a socket and at most
`DIBX_LIVE_PER_PRINCIPAL` in a process for one token holder (subject and nation), whatever
the number of sockets. A refusal is an `error` message with code LIMIT_EXCEEDED naming the
limit, and is audited; a slot comes back when its subscription completes or its socket
closes. Pings: a flood closes the socket with 4429 (docs/subscriptions.md)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dibx.graph.driver import Graph
from tests.support import builders as b
from tests.support.api import Api
from tests.support.live import WAIT_S, Closed, LiveClient, serving
from tests.support.stewardship import created, supplier_input

pytestmark = pytest.mark.neo4j

TRANSPORT = "graphql-transport-ws"
SUPPLIERS = {"types": ["SUPPLIER"]}
PING_BURST = 10  # pings answered back to back (docs/subscriptions.md)


@pytest_asyncio.fixture(loop_scope="session")
async def limited(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    env = {"DIBX_LIVE_PER_SOCKET": "2", "DIBX_LIVE_PER_PRINCIPAL": "3"}
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


@pytest.mark.asyncio(loop_scope="session")
async def test_one_token_holder_holds_a_bounded_number_of_subscriptions_across_sockets(
    limited: Api,
) -> None:
    api = limited
    await api.load(b.dataset())
    gbr = api.token("GBR")
    async with (
        serving(api) as url,
        LiveClient.opened(url) as other,
        LiveClient.opened(url) as last,
        LiveClient.opened(url) as usa,
    ):
        for client in (other, last):
            assert await client.init(gbr) == {"type": "connection_ack"}
        assert await usa.init(api.token("USA")) == {"type": "connection_ack"}
        async with LiveClient.opened(url) as first:
            assert await first.init(gbr) == {"type": "connection_ack"}
            held = [
                await first.subscribe(SUPPLIERS),
                await first.subscribe(SUPPLIERS),
                await other.subscribe(SUPPLIERS),
            ]
            for sid in held:
                assert (await _outcome(api, sid))["outcome"] == "started"
            # A change each subscription pushes: all three run (past their start).
            await created(api, supplier_input("acme"), "GBR")
            await first.events(2)
            await other.events(1)
            fourth = await other.subscribe(SUPPLIERS)
            assert await _refused(other, fourth) == {
                "code": "LIMIT_EXCEEDED",
                "limit": "subscriptionsPerPrincipal",
                "maximum": 3,
            }
            record = await _outcome(api, fourth)
            assert (record["outcome"], record["error_codes"]) == ("refused", ["LIMIT_EXCEEDED"])
            # Another token holder is not held to GBR's count.
            assert (await _outcome(api, await usa.subscribe(SUPPLIERS)))["outcome"] == "started"
            # A completed subscription gives its slot back.
            await first.send({"id": held[0], "type": "complete"})
            assert (await _outcome(api, held[0], ended=True))["outcome"] == "client"
            assert (await _outcome(api, await other.subscribe(SUPPLIERS)))["outcome"] == "started"
        # So does a closed socket: GBR now holds two (on `other`), so one more starts.
        await _outcome(api, held[1], ended=True)
        assert (await _outcome(api, await last.subscribe(SUPPLIERS)))["outcome"] == "started"
        over = await last.subscribe(SUPPLIERS)
        assert (await _refused(last, over))["limit"] == "subscriptionsPerPrincipal"


@pytest.mark.asyncio(loop_scope="session")
async def test_a_ping_flood_closes_the_socket_with_4429(api: Api) -> None:
    """Each ping is answered with a pong, in bursts of 10 refilled at one a second; a client
    that floods is closed with 4429 (and audited) instead of drawing a pong per message."""
    sent = 100
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(api.token("GBR")) == {"type": "connection_ack"}
        for _ in range(sent):
            await client.send({"type": "ping"})
        pongs = 0
        while pongs < sent:
            message = await client.receive()
            if isinstance(message, Closed):
                break
            assert message == {"type": "pong"}
            pongs += 1
    assert message == Closed(4429, "Too many pings"), pongs
    assert PING_BURST <= pongs < sent
    [refused] = [r for r in api.audit.records if r.get("outcome") == "refused"]
    assert (refused["transport"], refused["error_codes"]) == (TRANSPORT, ["RATE_LIMITED"])


@pytest.mark.asyncio(loop_scope="session")
async def test_a_subscription_completed_while_it_starts_leaves_no_unclosed_audit_record(
    limited: Api,
) -> None:
    """The client completes a subscription while it is still being set up (its context is
    being read): an audit record saying it started must have one saying how it ended."""
    api = limited
    slow = asyncio.Event()
    original = api.runtime.memberships.released_to

    async def released_to(scope: Any) -> Any:
        slow.set()
        await asyncio.sleep(0.5)  # the set-up's last read, held open
        return await original(scope)

    api.runtime.memberships.released_to = released_to  # type: ignore[method-assign]
    try:
        async with serving(api) as url, LiveClient.opened(url) as client:
            assert await client.init(api.token("GBR")) == {"type": "connection_ack"}
            sid = await client.subscribe()
            async with asyncio.timeout(WAIT_S):
                await slow.wait()
            await client.send({"id": sid, "type": "complete"})
            await asyncio.sleep(1.0)  # the set-up ends (or is cancelled) by now
        mine = [r for r in api.audit.records if r.get("subscription_id") == sid]
        started = [r for r in mine if r["outcome"] == "started"]
        ended = [r for r in mine if r["outcome"] in {"complete", "client", "closed", "error"}]
        assert len(ended) == len(started), mine
    finally:
        api.runtime.memberships.released_to = original  # type: ignore[method-assign]
