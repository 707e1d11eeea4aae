"""Pages sorted by a marked field, walked end to end, against the reference order.

Sorting reads the field as the caller sees it (withheld sorts as null) and nulls sort last
in both directions, so the order is: records whose name is released and non-null, by name
(ascending or descending) then key, then the records whose name is null or withheld, by key.
Every page of every size must follow it, with nothing repeated and nothing missing, with
and without a filter (a filter anchors the query on a nation or capability pattern).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NOFORN = "CUI//NOFORN"
REL_GBR = "CUI//REL TO USA, GBR"
MARKINGS = (b.PUBLIC, NOFORN, REL_GBR)
NAMES = ("Alpha", "alpha", "Bravo", "Bravo", "Charlie", "Zulu", None)

QUERY = """
query ($first: Int!, $after: String, $filter: SupplierFilterInput,
       $direction: SortDirection! = ASC) {
  suppliers(first: $first, after: $after, filter: $filter,
            sort: [{field: NAME, direction: $direction}]) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { key name }
  }
}
"""
Row = tuple[str, str | None, str, str]


def released(marking: str, nation: str) -> bool:
    return nation == "USA" or marking != NOFORN


def suppliers(seed: int) -> list[Row]:
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


def expected(rows: list[Row], nation: str, *, descending: bool = False) -> list[str]:
    visible = [r for r in rows if released(r[3], nation)]
    head = sorted(
        (key, name) for key, name, mark, _ in visible if name is not None and released(mark, nation)
    )
    head.sort(key=lambda r: r[1] or "", reverse=descending)  # stable: ties stay by key
    tail = sorted(
        key for key, name, mark, _ in visible if name is None or not released(mark, nation)
    )
    return [key for key, _ in head] + tail


def based_in(key: str) -> str:
    return "USA" if sum(map(ord, key)) % 3 else "GBR"


def provides_c1(key: str) -> bool:
    return sum(map(ord, key)) % 2 == 0


def dataset(rows: list[Row]) -> b.Dataset:
    """Suppliers based in USA or GBR (by key); some provide capability c1 (by key)."""
    records = []
    for key, name, mark, record in rows:
        rec = b.supplier(key, based_in(key), record=record, name=name or "x", fields={"name": mark})
        records.append(rec.with_values(name=name) if name is None else rec)
    provides = [b.provides(key, "c1") for key, *_ in rows if provides_c1(key)]
    return b.dataset(suppliers=records, capabilities=[b.capability("c1")], provides=provides)


async def walk(api: Api, nation: str, first: int, **variables: Any) -> tuple[list[str], list[int]]:
    keys: list[str] = []
    totals: list[int] = []
    after = None
    for _ in range(100):
        reply = await api.query(QUERY, {"first": first, "after": after, **variables}, nation=nation)
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


FILTERS: dict[str, tuple[dict[str, Any], Callable[[str], bool]]] = {
    "nation": ({"nations": ["USA"]}, lambda key: based_in(key) == "USA"),
    "capability": ({"capability": encode_id("Capability", "c1")}, provides_c1),
    "nation and capability": (
        {"nations": ["USA"], "capability": encode_id("Capability", "c1")},
        lambda key: based_in(key) == "USA" and provides_c1(key),
    ),
}


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", FILTERS)
async def test_filtered_sorted_pages_follow_the_reference_order(
    api: Api, seed: int, name: str
) -> None:
    """A nation or capability filter with a sort (the review's `Variable x0 not defined`)."""
    rows = suppliers(seed)
    await api.load(dataset(rows))
    filter_, keep = FILTERS[name]
    kept = [r for r in rows if keep(r[0])]
    for nation in ("USA", "GBR"):
        for direction in ("ASC", "DESC"):
            want = expected(kept, nation, descending=direction == "DESC")
            for first in (1, 3):
                keys, totals = await walk(api, nation, first, filter=filter_, direction=direction)
                assert keys == want, (nation, direction, first)
                assert set(totals) == {len(want)}


@pytest.mark.parametrize("seed", range(4))
async def test_descending_pages_put_null_and_withheld_names_last(api: Api, seed: int) -> None:
    rows = suppliers(seed)
    await api.load(dataset(rows))
    for nation in ("USA", "GBR"):
        want = expected(rows, nation, descending=True)
        for first in (1, 2):
            keys, _ = await walk(api, nation, first, direction="DESC")
            assert keys == want, (nation, first)


EMPLOYEES = """
query ($direction: SortDirection!) {
  suppliers(sort: [{field: EMPLOYEES, direction: $direction}]) { nodes { key employees } }
}
"""


async def test_employees_sort_puts_null_and_withheld_last_in_both_directions(api: Api) -> None:
    await api.load(
        b.dataset(
            suppliers=[
                b.supplier("a", employees=50),
                b.supplier("b"),  # no headcount
                b.supplier("c", employees=900, fields={"employees": NOFORN}),
                b.supplier("d", employees=7),
                b.supplier("e", employees=50),
            ]
        )
    )
    order = {
        ("USA", "ASC"): ["d", "a", "e", "c", "b"],
        ("USA", "DESC"): ["c", "a", "e", "d", "b"],
        ("GBR", "ASC"): ["d", "a", "e", "b", "c"],
        ("GBR", "DESC"): ["a", "e", "d", "b", "c"],
    }
    for (nation, direction), want in order.items():
        reply = await api.query(EMPLOYEES, {"direction": direction}, nation=nation)
        assert not reply.errors, reply.errors
        assert [n["key"] for n in reply.data["suppliers"]["nodes"]] == want, (nation, direction)


FIRST = """
query ($first: Int!, $after: String, $sort: [SupplierSort!]) {
  suppliers(first: $first, after: $after, sort: $sort) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { key }
  }
}
"""


@pytest.mark.parametrize("sort", [None, [{"field": "NAME"}]])
async def test_first_zero_says_whether_a_record_follows(
    api: Api, sort: list[dict[str, str]] | None
) -> None:
    """`first: 0` returns no items; hasNextPage is true only if a visible record follows,
    and endCursor is the cursor it was asked after (null at the start), so paging on from
    it neither restarts nor skips."""
    empty = await api.query(FIRST, {"first": 0, "sort": sort})
    assert empty.data["suppliers"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "nodes": [],
    }
    await api.load(
        b.dataset(suppliers=[b.supplier("a"), b.supplier("b"), b.supplier("h", record=NOFORN)])
    )
    start = await api.query(FIRST, {"first": 0, "sort": sort}, nation="GBR")
    assert start.data["suppliers"] == {
        "totalCount": 2,
        "pageInfo": {"hasNextPage": True, "endCursor": None},
        "nodes": [],
    }
    one = await api.query(FIRST, {"first": 1, "sort": sort}, nation="GBR")
    cursor = one.data["suppliers"]["pageInfo"]["endCursor"]
    zero = await api.query(FIRST, {"first": 0, "after": cursor, "sort": sort}, nation="GBR")
    assert zero.data["suppliers"]["nodes"] == []
    assert zero.data["suppliers"]["pageInfo"] == {"hasNextPage": True, "endCursor": cursor}
    last = await api.query(FIRST, {"first": 1, "after": cursor, "sort": sort}, nation="GBR")
    end = last.data["suppliers"]["pageInfo"]["endCursor"]
    assert [n["key"] for n in last.data["suppliers"]["nodes"]] == ["b"]
    # Past the last visible record (the hidden `h` does not count): nothing follows.
    past = await api.query(FIRST, {"first": 0, "after": end, "sort": sort}, nation="GBR")
    assert past.data["suppliers"]["pageInfo"] == {"hasNextPage": False, "endCursor": end}
