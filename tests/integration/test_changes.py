"""The `changes` query: events as each nation may see them (docs/changes.md)."""

from __future__ import annotations

import asyncio
import os
from datetime import date, timedelta
from typing import Any

import pytest

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support import challenges
from tests.support.api import Api
from tests.support.stewardship import (
    HISTORY,
    REL_GBR,
    RETIRE_SUPPLIER,
    UPDATE_SUPPLIER,
    created,
    payload,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j


@pytest.fixture(autouse=True)
async def planned(api: Api) -> None:
    """Plan the feed's query as each API process does at start (a cold plan can take longer
    than a request's timeout on a saturated machine); cached by Neo4j after the first."""
    feed = api.runtime.services.changes
    assert feed is not None
    await feed.warm()


CHANGES = """
query C($after: String, $first: Int, $types: [ChangeType!], $filter: ChangeFilter) {
  changes(after: $after, first: $first, types: $types, filter: $filter) {
    endCursor hasNextPage
    changes { cursor type kind id start end marking
      fields { field value released marking } } } }
"""


async def changes(api: Api, nation: str, **variables: Any) -> dict[str, Any]:
    reply = await api.query(CHANGES, variables, nation=nation)
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    return dict(reply.data["changes"])


def brief(page: dict[str, Any]) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(kind, type, id, {field: value}) of each change."""
    return [
        (c["kind"], c["type"], c["id"], {f["field"]: f["value"] for f in c["fields"]})
        for c in page["changes"]
    ]


async def test_create_update_retire_as_each_nation_sees_them(api: Api) -> None:
    await api.load(b.dataset())
    out = await created(api, supplier_input("acme", record=REL_GBR, marking=REL_GBR))
    key = out["key"]
    upd = await write(
        api,
        UPDATE_SUPPLIER,
        {
            "id": sid(key),
            "expectedVersion": 1,
            "fields": {"employees": {"value": 5, "marking": REL_GBR}},
        },
    )
    assert payload(upd)["userErrors"] == []
    ret = await write(api, RETIRE_SUPPLIER, {"id": sid(key), "expectedVersion": 2})
    assert payload(ret)["userErrors"] == []
    usa = brief(await changes(api, "USA", types=["SUPPLIER"]))
    gbr = brief(await changes(api, "GBR", types=["SUPPLIER"]))
    aus = brief(await changes(api, "AUS", types=["SUPPLIER"]))
    assert [c[0] for c in usa] == ["CREATED", "UPDATED", "RETIRED"]
    assert usa == gbr
    assert usa[1][3] == {"employees": 5}
    assert aus == []


async def test_a_membership_that_starts_or_ends_is_a_change(api: Api) -> None:
    """Reference (re)loads append MEMBER_OF events: a new membership, and one that ends."""
    await api.load(b.dataset())
    start = await changes(api, "USA", types=["MEMBER_OF"], first=100)
    assert {c["kind"] for c in start["changes"]} == {"CREATED"}
    cursor = start["endCursor"]
    again = await changes(api, "USA", types=["MEMBER_OF"], after=cursor)
    await api.load(b.dataset())  # the same data again: nothing changed, no event
    assert (await changes(api, "USA", types=["MEMBER_OF"], after=cursor))["changes"] == []
    assert again["changes"] == []
    ended = b.reference().replaced(
        edges={
            "MEMBER_OF": [
                b.membership("NZL", "NTIB", since=date(2000, 1, 1), until=date(2024, 1, 1)),
                b.membership("JPN", "NTIB", since=date(2020, 1, 1)),
            ]
        }
    )
    await api.load(ended)
    page = await changes(api, "USA", types=["MEMBER_OF"], after=cursor)
    got = sorted(
        (c["kind"], c["start"], {f["field"]: f["value"] for f in c["fields"]}.get("until"))
        for c in page["changes"]
    )
    assert got == [
        ("CREATED", encode_id("Nation", "JPN"), None),
        ("UPDATED", encode_id("Nation", "NZL"), "2024-01-01"),
    ]


REL_AUS = "CUI//REL TO USA, AUS, GBR"


def kinds(page: dict[str, Any]) -> list[str]:
    return [c["kind"] for c in page["changes"]]


async def test_markings_decide_who_gets_which_event(api: Api) -> None:
    """A hidden-field update is no event for AUS; narrowing the record's marking retires it
    for AUS, widening creates it again (its withheld field said, not shown)."""
    await api.load(b.dataset())
    made = await created(
        api,
        supplier_input("acme", record=REL_AUS, marking=REL_AUS, employees=None)
        | {
            "fields": {
                "name": {"value": "Acme", "marking": REL_AUS},
                "employees": {"value": 5, "marking": REL_GBR},
            }
        },
    )
    key, version = made["key"], 1

    async def update(input: dict[str, Any]) -> None:
        nonlocal version
        out = payload(
            await write(api, UPDATE_SUPPLIER, {"id": sid(key), "expectedVersion": version, **input})
        )
        assert out["userErrors"] == [], out
        version += 1

    await update({"fields": {"employees": {"value": 7, "marking": REL_GBR}}})
    await update({"marking": REL_GBR, "reason": "narrowed"})
    await update({"marking": REL_AUS, "reason": "widened"})
    await update({"fields": {"name": {"value": "Acme Ltd", "marking": REL_AUS}}})

    aus = await changes(api, "AUS", types=["SUPPLIER"])
    usa = await changes(api, "USA", types=["SUPPLIER"])
    assert kinds(aus) == ["CREATED", "RETIRED", "CREATED", "UPDATED"]
    assert kinds(usa) == ["CREATED", "UPDATED", "UPDATED", "UPDATED", "UPDATED"]
    recreated = {f["field"]: f for f in aus["changes"][2]["fields"]}
    assert recreated["name"]["value"] == "Acme"
    assert recreated["name"]["released"]
    assert recreated["employees"] == {
        "field": "employees",
        "value": None,
        "released": False,
        "marking": REL_GBR,
    }
    assert aus["changes"][1]["fields"] == []
    assert aus["changes"][1]["marking"] is None
    assert brief(usa)[1][3] == {"employees": 7}
    assert brief(usa)[2][3] == {}
    assert usa["changes"][2]["marking"] == REL_GBR
    assert brief(aus)[3][3] == {"name": "Acme Ltd"}

    # Pages of any size give the same sequence as one read, and end where it ended.
    whole = brief(usa)
    for size in (1, 2, 3):
        seen: list[Any] = []
        after = None
        while True:
            page = await changes(api, "USA", types=["SUPPLIER"], first=size, after=after)
            seen += brief(page)
            after = page["endCursor"]
            if not page["hasNextPage"]:
                break
        assert seen == whole, size
        assert (await changes(api, "USA", types=["SUPPLIER"], after=after))["changes"] == []

    # Filters: by kind (as the caller sees it) and by record id.
    created_only = await changes(api, "AUS", types=["SUPPLIER"], filter={"kinds": ["CREATED"]})
    assert kinds(created_only) == ["CREATED", "CREATED"]
    assert kinds(await changes(api, "USA", filter={"ids": [sid(key)]})) == kinds(usa)
    assert (await changes(api, "USA", filter={"ids": [sid("GBR:other")]}))["changes"] == []


async def test_retention_compacts_the_feed_and_expires_old_cursors(api: Api) -> None:
    await api.load(b.dataset())
    key = (await created(api, supplier_input("acme", record=REL_GBR, marking=REL_GBR)))["key"]
    feed = api.runtime.services.changes
    assert feed is not None
    clock = feed.clock
    feed.clock = lambda: clock() - timedelta(days=8)  # a cursor handed out 8 days ago
    old = (await changes(api, "USA"))["endCursor"]
    feed.clock = clock
    await feed.warm()  # what each API process runs at start; harmless at any time
    reply = await api.query(CHANGES, {"after": old}, nation="USA")
    assert [e["extensions"]["code"] for e in reply.errors] == ["CURSOR_EXPIRED"]
    fresh = await changes(api, "USA")
    assert kinds(fresh)[-1] == "CREATED"
    # Compaction past the retention removes events from the feed, not from history.
    assert await feed.compact(now=clock() + timedelta(days=30)) > 0
    assert (await changes(api, "USA"))["changes"] == []
    history = await api.query(HISTORY, {"id": sid(key)}, nation="USA")
    assert [r["kind"] for r in history.data["supplier"]["history"]] == ["CREATED"]
    # A read from the oldest retained event starts above what was compacted.
    later = await created(api, supplier_input("later", record=REL_GBR))
    assert [c["id"] for c in (await changes(api, "USA", types=["SUPPLIER"]))["changes"]] == [
        later["id"]
    ]


async def test_a_cursor_handed_out_late_expires_with_the_place_it_stands_at(api: Api) -> None:
    """Retention keeps events, and a cursor stands at a place among them: handed out days
    after those events committed (a backlog read late, or a page of none read on from an old
    cursor), it must expire when they are compacted, not retention after it was handed out,
    or resuming from it would skip compacted events without a word."""
    await api.load(b.dataset())
    made = [await created(api, supplier_input(f"k{i}", record=REL_GBR)) for i in range(2)]
    feed = api.runtime.services.changes
    assert feed is not None
    clock = feed.clock
    feed.clock = lambda: clock() + timedelta(days=6)  # the backlog is read six days later
    first = await changes(api, "USA", types=["SUPPLIER"], first=1)
    assert [c["id"] for c in first["changes"]] == [made[0]["id"]]
    assert first["hasNextPage"]
    none = await changes(api, "USA", types=["SUPPLIER"], first=0, after=first["endCursor"])
    handed = {
        "the event's own": first["changes"][0]["cursor"],
        "the page's end": first["endCursor"],
        "an empty page's end": none["endCursor"],
    }
    # Two days on, the events are past retention and compacted.
    feed.clock = lambda: clock() + timedelta(days=8)
    assert await feed.compact() > 0
    answered: dict[str, Any] = {}
    for name, cursor in handed.items():
        reply = await api.query(CHANGES, {"after": cursor, "types": ["SUPPLIER"]}, nation="USA")
        answered[name] = tuple(e["extensions"]["code"] for e in reply.errors) or reply.data
    assert answered == dict.fromkeys(handed, ("CURSOR_EXPIRED",))


async def test_a_reader_stops_before_an_event_it_cannot_read_yet(api: Api) -> None:
    """A committed transaction's counter can be read a moment before its events' index
    entries are: a reader must stop before such a gap, not move its cursor past an event it
    has not read (seen once in a run of the concurrent-writers test below)."""
    await api.load(b.dataset())
    start = (await changes(api, "USA", types=["SUPPLIER"]))["endCursor"]
    made = [await created(api, supplier_input(f"g{i}", record=REL_GBR)) for i in range(3)]
    # The second supplier's event, as a reader finds it before its index entry is applied.
    hidden = await api.graph.write(
        "MATCH (c:Change:SupplierState {id: $key}) REMOVE c:Change SET c:Lagging "
        "RETURN count(c) AS n",
        {"key": made[1]["key"]},
    )
    assert hidden[0]["n"] == 1
    first = await changes(api, "USA", types=["SUPPLIER"], after=start)
    assert [c["id"] for c in first["changes"]] == [made[0]["id"]]
    await api.graph.write("MATCH (c:Lagging) REMOVE c:Lagging SET c:Change")
    rest = await changes(api, "USA", types=["SUPPLIER"], after=first["endCursor"])
    assert [c["id"] for c in rest["changes"]] == [made[1]["id"], made[2]["id"]]


WRITERS = int(os.environ.get("DIBX_CHANGES_WRITERS", "8"))


async def test_concurrent_writers_never_commit_below_what_a_reader_saw(api: Api) -> None:
    """Writers commit in `seq` order: a reader never finds a new seq below one it has seen,
    and a reader resuming from its cursor during the writes gets every change exactly once."""
    await api.load(b.dataset())
    start = (await changes(api, "USA", types=["SUPPLIER"]))["endCursor"]
    done = asyncio.Event()
    violations: list[tuple[int, int]] = []
    seen_ids: list[str] = []

    async def raw_reader() -> None:
        highest = 0
        while True:
            finished = done.is_set()
            rows = await api.graph.read("MATCH (c:Change) RETURN collect(c.seq) AS seqs")
            seqs = set(rows[0]["seqs"])
            violations.extend((s, highest) for s in seqs if s < highest and s not in known)
            known.update(seqs)
            highest = max(seqs, default=highest)
            if finished:
                return

    async def feed_reader() -> None:
        after = start
        while True:
            finished = done.is_set()
            page = await changes(api, "USA", types=["SUPPLIER"], after=after)
            seen_ids.extend(c["id"] for c in page["changes"])
            after = page["endCursor"]
            if finished and not page["hasNextPage"]:
                return

    known: set[int] = set()

    async def writers() -> list[str]:
        made = await asyncio.gather(
            *(created(api, supplier_input(f"w{i}", record=REL_GBR)) for i in range(WRITERS))
        )
        done.set()
        return [m["id"] for m in made]

    ids, _, _ = await asyncio.gather(writers(), raw_reader(), feed_reader())
    assert violations == []
    assert sorted(seen_ids) == sorted(ids)


async def test_a_challenge_decision_is_a_change(api: Api) -> None:
    """CHANGE of a field's marking releases it to GBR: an UPDATED event with the value."""
    await api.load(challenges.data())
    cid = await challenges.filed_id(api)  # GBR disputes `masked`'s NOFORN employees
    start = (await changes(api, "GBR", types=["SUPPLIER"]))["endCursor"]
    reply = await challenges.decide(api, cid, "CHANGE", REL_GBR)
    assert reply.errors == [], reply.body
    page = await changes(api, "GBR", types=["SUPPLIER"], after=start)
    assert brief(page) == [
        (
            "UPDATED",
            "SUPPLIER",
            sid("masked"),
            {"employees": challenges.SECRET_EMPLOYEES},
        )
    ]
