"""A membership that starts or ends, in the change feed (docs/changes.md, "Memberships").

JPN joins ACGU: a JPN caller reading on from before gets, after the MEMBER_OF event, a
CREATED for every record and edge marked for ACGU, released as a CREATED releases it; callers
of other nations get the MEMBER_OF event only. JPN leaves: a RETIRED for each. A page may
stop inside the fan-out and resume without loss or repeat, and a subscription gets it too.
DIBX_FANOUT_RECORDS scales the number of ACGU suppliers (default 5).
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any

import pytest

from dibx.graph.records import Dataset
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api
from tests.support.live import LiveClient, query_all, serving

pytestmark = pytest.mark.neo4j

RECORDS = int(os.environ.get("DIBX_FANOUT_RECORDS", "5"))
REL_ACGU = "CUI//REL TO USA, ACGU"
READER = ("supplier:read",)
CHANGES = """
query C($after: String, $first: Int) {
  changes(after: $after, first: $first) {
    endCursor hasNextPage
    changes { cursor type kind id start end marking
      fields { field value released marking } } } }
"""


@pytest.fixture(autouse=True)
async def planned(api: Api) -> None:
    feed = api.runtime.services.changes
    assert feed is not None
    await feed.warm()


def _data() -> Dataset:
    """ACGU suppliers (record and name REL TO USA, ACGU; `employees` NOFORN), one offering a
    public capability (the offer is public: it shows with its supplier), one public supplier
    and one NOFORN supplier (neither changes for JPN)."""
    acgu = [
        b.supplier(
            f"acgu{i:04d}",
            record=REL_ACGU,
            fields={"name": REL_ACGU, "employees": "CUI//NOFORN"},
            employees=10 + i,
        )
        for i in range(RECORDS)
    ]
    others = [b.supplier("pub"), b.supplier("nf", record="CUI//NOFORN")]
    return b.dataset(
        suppliers=[*acgu, *others],
        capabilities=[b.capability("c0")],
        provides=[b.provides("acgu0000", "c0"), b.provides("pub", "c0")],
    )


def _membership(until: date | None = None) -> Dataset:
    return Dataset.of([b.membership("JPN", "ACGU", since=date(2000, 1, 1), until=until)])


async def _page(api: Api, nation: str, after: str | None, first: int = 100) -> dict[str, Any]:
    reply = await api.query(CHANGES, {"after": after, "first": first}, nation=nation)
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    return dict(reply.data["changes"])


async def _all(api: Api, nation: str, after: str | None, first: int = 100) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        page = await _page(api, nation, after, first)
        out += page["changes"]
        after = page["endCursor"]
        if not page["hasNextPage"]:
            return out


def _brief(changes: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str | None]]:
    return [(c["kind"], c["type"], c["id"], c["start"]) for c in changes]


def _same(change: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in change.items() if k != "cursor"}


def _sid(key: str) -> str:
    return encode_id("Supplier", key)


async def _ends(api: Api, nations: tuple[str, ...]) -> dict[str, str]:
    """Each nation's end cursor of the feed as it stands."""
    ends = {}
    for n in nations:
        page = await _page(api, n, None)
        while page["hasNextPage"]:
            page = await _page(api, n, page["endCursor"])
        ends[n] = page["endCursor"]
    return ends


async def test_join_shows_its_records_to_that_nation_only_and_leave_retires_them(
    api: Api,
) -> None:
    await api.load(_data())
    before = await _ends(api, ("JPN", "KOR", "USA"))
    await api.load(_membership())  # JPN joins ACGU
    jpn = await _all(api, "JPN", before["JPN"])
    membership = ("CREATED", "MEMBER_OF", None, encode_id("Nation", "JPN"))
    acgu = [_sid(f"acgu{i:04d}") for i in range(RECORDS)]
    assert _brief(jpn) == [
        membership,
        *[("CREATED", "SUPPLIER", sid, None) for sid in acgu],
        ("CREATED", "PROVIDES", None, acgu[0]),
    ]
    first = {f["field"]: f for f in jpn[1]["fields"]}
    assert jpn[1]["marking"] == REL_ACGU
    assert first["name"]["value"] == "Supplier acgu0000"
    assert first["name"]["released"]
    assert first["employees"] == {
        "field": "employees",
        "value": None,
        "released": False,
        "marking": "CUI//NOFORN",
    }
    for other in ("KOR", "USA"):
        assert _brief(await _all(api, other, before[other])) == [membership], other
    # The cursor handed out before the join opens after it, and one after the fan-out is
    # at the end.
    assert (await _page(api, "JPN", jpn[-1]["cursor"]))["changes"] == []

    joined = await _ends(api, ("JPN", "KOR"))
    await api.load(_membership(until=date(2024, 1, 1)))  # JPN leaves
    left = await _all(api, "JPN", joined["JPN"])
    assert _brief(left) == [
        ("UPDATED", "MEMBER_OF", None, encode_id("Nation", "JPN")),
        *[("RETIRED", "SUPPLIER", sid, None) for sid in acgu],
        ("RETIRED", "PROVIDES", None, acgu[0]),
    ]
    assert all(c["fields"] == [] and c["marking"] is None for c in left[1:])
    assert _brief(await _all(api, "KOR", joined["KOR"])) == _brief(left[:1])


async def test_pages_stop_inside_a_fan_out_and_resume_without_loss_or_repeat(api: Api) -> None:
    await api.load(_data())
    start = (await _ends(api, ("JPN",)))["JPN"]
    await api.load(_membership())
    whole = await _all(api, "JPN", start)
    assert len(whole) == RECORDS + 2
    for first in (1, 2, 3):
        paged = await _all(api, "JPN", start, first=first)
        assert [_same(c) for c in paged] == [_same(c) for c in whole], first
    # Each event's own cursor reads on with the next one.
    for i, change in enumerate(whole[:-1]):
        nxt = (await _page(api, "JPN", change["cursor"], first=1))["changes"]
        assert [_same(c) for c in nxt] == [_same(whole[i + 1])]


async def test_a_subscription_gets_the_fan_out(api: Api) -> None:
    await api.load(_data())
    start = (await _ends(api, ("JPN",)))["JPN"]
    token = api.token("JPN", READER)
    async with serving(api) as url, LiveClient.opened(url) as jpn:
        assert await jpn.init(token) == {"type": "connection_ack"}
        await jpn.subscribe({"after": start})
        await api.load(_membership())
        pushed = await jpn.events(RECORDS + 2)
    listed, _ = await query_all(api, token, {"after": start})
    assert [_same(e) for e in pushed] == [_same(c) for c in listed]
    assert [c["kind"] for c in pushed] == ["CREATED"] * (RECORDS + 2)


async def test_a_dated_membership_fans_out_when_the_clock_marks_its_date(api: Api) -> None:
    """A membership written before its `since` is no transition when committed (here: its
    state moved to yesterday, as if loaded then); the membership clock writes the event that
    fans it out once the date has come, once."""
    await api.load(_data())
    before = await _ends(api, ("JPN", "KOR"))
    today = date.today()
    edge = b.membership("JPN", "ACGU", since=today)
    await api.load(Dataset.of([edge]))
    await api.graph.write(
        "MATCH (s:MemberOfState {from: 'JPN', to: 'ACGU'}) "
        "SET s.validFrom = s.validFrom - duration('P1D')"
    )
    jpn = await _all(api, "JPN", before["JPN"])
    assert [c["type"] for c in jpn] == ["MEMBER_OF"]
    feed = api.runtime.services.changes
    assert feed is not None
    assert await feed.mark_membership_dates(today) == 1
    assert await feed.mark_membership_dates(today) == 0
    marked = await _all(api, "JPN", jpn[-1]["cursor"])
    acgu = [_sid(f"acgu{i:04d}") for i in range(RECORDS)]
    assert _brief(marked) == [
        *[("CREATED", "SUPPLIER", sid, None) for sid in acgu],
        ("CREATED", "PROVIDES", None, acgu[0]),
    ]
    assert [c["type"] for c in await _all(api, "KOR", before["KOR"])] == ["MEMBER_OF"]
