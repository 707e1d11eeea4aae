"""The `changes` subscription against the real Neo4j: a write reaches the nations that may see
it and no other, exactly as the `changes` query lists it; a socket killed mid-stream resumes
from its last cursor without loss or repeats; a subscriber that stops reading is dropped with
its reason while the process holds at most its queue's worth of events for it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from dibx.app.live import TRY_AGAIN_LATER
from dibx.auth.principal import Principal
from dibx.graph.driver import Graph
from dibx.graph.writes import clear_database
from dibx.services.changes import START, Position
from dibx.services.live import BEHIND, Interest, LiveHub, LiveLimits, Slice, Subscriber
from tests.support import builders as b
from tests.support.api import Api
from tests.support.live import Closed, LiveClient, query_all, serving
from tests.support.stewardship import NOFORN, REL_GBR, created, supplier_input

pytestmark = pytest.mark.neo4j

READER = ("supplier:read",)
TO_ALL = "CUI//REL TO USA, AUS, GBR"


def _principal(nation: str) -> Principal:
    return Principal(f"u-{nation}", "test", nation, None, frozenset(READER), frozenset(), None)


def _same(change: dict[str, Any]) -> dict[str, Any]:
    """A change without its cursor (each cursor is sealed afresh, so two never compare equal)."""
    return {k: v for k, v in change.items() if k != "cursor"}


async def _supplier(
    api: Api, key: str, marking: str, nation: str = "GBR", name: str = "Acme Ltd"
) -> None:
    given = supplier_input(key, nation=nation, record=marking, marking=marking, name=name)
    await created(api, given, nation)


@pytest.mark.asyncio(loop_scope="session")
async def test_each_nation_gets_what_the_query_lists_for_it_and_nothing_hidden(api: Api) -> None:
    await api.load(b.dataset())
    tokens = {n: api.token(n, READER) for n in ("USA", "GBR", "AUS")}
    async with (
        serving(api) as url,
        LiveClient.opened(url) as usa,
        LiveClient.opened(url) as gbr,
        LiveClient.opened(url) as aus,
    ):
        clients = {"USA": usa, "GBR": gbr, "AUS": aus}
        for nation, client in clients.items():
            assert await client.init(tokens[nation]) == {"type": "connection_ack"}
            await client.subscribe({"types": ["SUPPLIER"]})
        await _supplier(api, "rel-gbr", REL_GBR)  # USA, GBR
        await _supplier(api, "noforn", NOFORN, nation="USA")  # USA only
        await _supplier(api, "to-all", TO_ALL)  # all three: the marker
        pushed = {
            "USA": await usa.events(3),
            "GBR": await gbr.events(2),
            "AUS": await aus.events(1),
        }
    for nation, events in pushed.items():
        listed, _ = await query_all(api, tokens[nation], {"types": ["SUPPLIER"]})
        assert [_same(e) for e in events] == [_same(c) for c in listed], nation
    # The marker came right after what each could see: nothing hidden was pushed before it.
    keys = {n: [e["id"] for e in events] for n, events in pushed.items()}
    assert keys["AUS"] == keys["USA"][2:] == keys["GBR"][1:]
    # Cursors are the query's: reading on after a pushed cursor lists the pushed rest.
    rest, _ = await query_all(
        api, tokens["USA"], {"types": ["SUPPLIER"], "after": pushed["USA"][0]["cursor"]}
    )
    assert [_same(c) for c in rest] == [_same(e) for e in pushed["USA"][1:]]


@pytest.mark.asyncio(loop_scope="session")
async def test_killed_socket_resumes_from_its_last_cursor_without_loss_or_repeat(
    api: Api,
) -> None:
    await api.load(b.dataset())
    token = api.token("GBR", READER)
    async with serving(api) as url:
        async with LiveClient.opened(url) as first:
            assert await first.init(token) == {"type": "connection_ack"}
            await first.subscribe({"types": ["SUPPLIER"]})
            for i in range(4):
                await _supplier(api, f"s{i}", REL_GBR)
            before = await first.events(2)
            first.socket.transport.abort()  # type: ignore[attr-defined] - no close handshake
        for i in range(4, 6):  # committed while nobody listens
            await _supplier(api, f"s{i}", REL_GBR)
        async with LiveClient.opened(url) as second:
            assert await second.init(token) == {"type": "connection_ack"}
            await second.subscribe({"types": ["SUPPLIER"], "after": before[-1]["cursor"]})
            await _supplier(api, "s6", REL_GBR)
            after = await second.events(5)  # s2..s6
    listed, _ = await query_all(api, token, {"types": ["SUPPLIER"]})
    assert [_same(e) for e in before + after] == [_same(c) for c in listed]
    ids = [e["id"] for e in before + after]
    assert len(ids) == len(set(ids)) == 7


@pytest.mark.asyncio(loop_scope="session")
async def test_poller_drops_a_subscriber_whose_queue_would_overflow(api: Api) -> None:
    """The decision, on the real feed: a subscriber that has not taken its queue's worth of
    events (2 here) is dropped when the next round has more for it; it never held more than
    2, and its queue is freed. A subscriber reading the same events that keeps taking them
    is not dropped. Only events it may see count: 5 changes hidden from it change nothing."""
    await api.load(b.dataset())
    feed = api.runtime.services.changes
    assert feed is not None
    today = date.today()
    groups = await api.runtime.memberships.groups_of("GBR", today)
    gbr = api.runtime.policy.scope_for(_principal("GBR"), groups, today)
    hub = LiveHub(feed.last_seq, LiveLimits(interval_s=3600, queue_size=2, page_size=2))

    async def interest() -> Interest:
        async def read(after: Position, first: int) -> Slice:
            found = await feed.read_from(gbr, after, first=first, types=["Supplier"])
            return Slice(found.items, found.end, found.more)

        return Interest("gbr", read)

    stalled = Subscriber(interest, START, 2)
    reading = Subscriber(interest, START, 2)
    for s in (stalled, reading):
        hub._subscribers.add(s)
    for i in range(5):
        await _supplier(api, f"hidden{i}", NOFORN, nation="USA")
    await hub.round()
    assert stalled.dropped is None
    assert len(stalled.queue) == 0
    for i in range(2):
        await _supplier(api, f"seen{i}", REL_GBR)
    await hub.round()
    assert len(stalled.queue) == 2
    reading.queue.clear()  # it took them
    await _supplier(api, "one-more", REL_GBR)
    await hub.round()
    assert stalled.dropped == BEHIND
    assert len(stalled.queue) == 0
    assert stalled.high_water == 2
    assert reading.dropped is None
    assert len(reading.queue) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_dropped_subscriber_gets_close_1013_with_its_reason(api: Api) -> None:
    await api.load(b.dataset())
    token = api.token("GBR", READER)
    hub = api.runtime.live
    assert hub is not None
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(token) == {"type": "connection_ack"}
        await client.subscribe({"types": ["SUPPLIER"]})
        await _supplier(api, "first", REL_GBR)
        await client.events(1)
        [subscriber] = hub._subscribers
        subscriber.drop(BEHIND)  # as the poller does when its queue would overflow
        assert await client.receive() == Closed(TRY_AGAIN_LATER, BEHIND)
    records = [r for r in api.audit.records if r.get("subscription_id")]
    assert [r["outcome"] for r in records] == ["started", "closed"]
    assert records[1]["delivered"] == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_pushed_stream_is_the_same_whatever_is_hidden_from_the_caller(
    api: Api, graph: Graph
) -> None:
    """Noninterference for the subscription: GBR's pushed events are identical whether no,
    one or three changes hidden from it (NOFORN) are committed between the ones it may see."""
    token = api.token("GBR", READER)
    streams = []
    for hidden in (0, 1, 3):
        await clear_database(graph)
        await api.load(b.dataset())
        async with serving(api) as url, LiveClient.opened(url) as client:
            assert await client.init(token) == {"type": "connection_ack"}
            await client.subscribe({"types": ["SUPPLIER"]})
            await _supplier(api, "before", REL_GBR)
            for i in range(hidden):
                await _supplier(api, f"hidden{i}", NOFORN, nation="USA")
            await _supplier(api, "after", TO_ALL)
            events = await client.events(2)
        streams.append([{k: v for k, v in _same(e).items() if k != "committedAt"} for e in events])
    assert streams[0] == streams[1] == streams[2]
