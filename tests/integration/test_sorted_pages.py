"""Pages sorted by a marked field, walked end to end, against the reference order.

Sorting reads the field as the caller sees it (withheld sorts as null) and ascending order
puts nulls last, so the order is: records whose name is released and non-null, by
(name, key), then the records whose name is null or withheld, by key. Every page of every
size must follow it, with nothing repeated and nothing missing.
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NOFORN = "CUI//NOFORN"
REL_GBR = "CUI//REL TO USA, GBR"
MARKINGS = (b.PUBLIC, NOFORN, REL_GBR)
NAMES = ("Alpha", "alpha", "Bravo", "Bravo", "Charlie", "Zulu", None)

QUERY = """
query ($first: Int!, $after: String) {
  suppliers(first: $first, after: $after, sort: [{field: NAME}]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { key name }
  }
}
"""


def released(marking: str, nation: str) -> bool:
    return nation == "USA" or marking != NOFORN


def suppliers(seed: int) -> list[tuple[str, str | None, str, str]]:
    """(key, name, name marking, record marking) for a random graph."""
    rng = random.Random(seed)
    rows = []
    for i in rng.sample(range(100), rng.randint(0, 14)):
        rows.append(
            (
                f"s{i:02d}",
                rng.choice(NAMES),
                rng.choice(MARKINGS),
                rng.choice((b.PUBLIC, b.PUBLIC, b.PUBLIC, NOFORN)),
            )
        )
    return rows


def expected(rows: list[tuple[str, str | None, str, str]], nation: str) -> list[str]:
    visible = [r for r in rows if released(r[3], nation)]
    head = sorted(
        (
            (name, key)
            for key, name, mark, _ in visible
            if name is not None and released(mark, nation)
        )
    )
    tail = sorted(
        key for key, name, mark, _ in visible if name is None or not released(mark, nation)
    )
    return [key for _, key in head] + tail


def dataset(rows: list[tuple[str, str | None, str, str]]) -> b.Dataset:
    records = []
    for key, name, mark, record in rows:
        rec = b.supplier(key, "USA", record=record, name=name or "x", fields={"name": mark})
        records.append(dataclasses.replace(rec, name=name) if name is None else rec)
    return b.dataset(suppliers=records)


async def walk(api: Api, nation: str, first: int) -> tuple[list[str], list[int]]:
    keys: list[str] = []
    totals: list[int] = []
    after = None
    for _ in range(100):
        reply = await api.query(QUERY, {"first": first, "after": after}, nation=nation)
        assert not reply.errors, reply.errors
        conn = reply.data["suppliers"]
        totals.append(conn["totalCount"])
        nodes = conn["nodes"]
        keys += [n["key"] for n in nodes]
        if not conn["pageInfo"]["hasNextPage"]:
            assert len(nodes) <= first
            return keys, totals
        assert len(nodes) == first
        after = conn["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")


@pytest.mark.parametrize("seed", range(8))
async def test_pages_sorted_by_marked_name_follow_the_reference_order(api: Api, seed: int) -> None:
    rows = suppliers(seed)
    await api.load(dataset(rows))
    for nation in ("USA", "GBR"):
        want = expected(rows, nation)
        for first in (1, 2, 3):
            keys, totals = await walk(api, nation, first)
            assert keys == want, (nation, first)
            assert len(set(keys)) == len(keys)
            assert set(totals) == {len(want)}


async def test_withheld_names_read_as_null_in_the_tail(api: Api) -> None:
    """Ties, nulls and a withheld name straddling a page boundary, walked by GBR."""
    rows = [
        ("a", "Bravo", b.PUBLIC, b.PUBLIC),
        ("b", "Alpha", NOFORN, b.PUBLIC),
        ("c", None, b.PUBLIC, b.PUBLIC),
        ("d", "Bravo", REL_GBR, b.PUBLIC),
        ("e", "Alpha", b.PUBLIC, NOFORN),
        ("f", "Alpha", b.PUBLIC, b.PUBLIC),
    ]
    await api.load(dataset(rows))
    assert expected(rows, "GBR") == ["f", "a", "d", "b", "c"]
    assert expected(rows, "USA") == ["b", "e", "f", "a", "d", "c"]
    for nation in ("USA", "GBR"):
        for first in (1, 2, 3):
            keys, _ = await walk(api, nation, first)
            assert keys == expected(rows, nation)
    reply = await api.query(QUERY, {"first": 10}, nation="GBR")
    names = {n["key"]: n["name"] for n in reply.data["suppliers"]["nodes"]}
    assert names["b"] is None
    assert names["c"] is None
