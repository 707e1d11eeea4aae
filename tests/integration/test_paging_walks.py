"""Walks of random lists, forwards and backwards, with random changes between pages.

Each example builds a random graph of suppliers (names with ties, nulls and withheld names;
some records hidden from GBR), picks a caller, an order (key, name ascending or descending)
and a direction, then walks the whole list a page at a time (`first`/`after` or
`last`/`before`) while, between pages, records are added, hidden by a marking change, or
removed. Against a Python reference of the order as the caller sees it:

- no record is returned twice, and the walk comes out in the reference order;
- every record visible when the walk began that stayed visible throughout is returned
  (none is skipped);
- every record returned was visible when its page was read.

DIBX_HYPOTHESIS_EXAMPLES scales the number of walks (default 20).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

EXAMPLES = int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20"))
NOFORN = "CUI//NOFORN"
NAMES = ("Alpha", "Bravo", "Bravo", "Charlie", None)
ORDERS: dict[str, str] = {
    "key": "",
    "name": "sort: [{field: NAME, direction: ASC}]",
    "name desc": "sort: [{field: NAME, direction: DESC}]",
}


@dataclass(frozen=True)
class Row:
    key: str
    name: str | None
    name_marking: str
    record: str

    def record_for(self) -> Any:
        rec = b.supplier(
            self.key, record=self.record, name=self.name or "x", fields={"name": self.name_marking}
        )
        return rec.with_values(name=None) if self.name is None else rec


def seen(marking: str, nation: str) -> bool:
    return nation == "USA" or marking != NOFORN


def rank_key(row: Row, nation: str, order: str) -> tuple[Any, ...]:
    """The place in the order as the caller sees it: withheld names sort as null, last."""
    if order == "key":
        return (row.key,)
    name = row.name if seen(row.name_marking, nation) else None
    return (name is None, name or "", row.key)


def compare(a: Row, b_: Row, nation: str, order: str) -> int:
    ka, kb = rank_key(a, nation, order), rank_key(b_, nation, order)
    if order == "name desc" and ka[0] == kb[0] and not ka[0] and ka[1] != kb[1]:
        return -1 if ka[1] > kb[1] else 1  # names descending; nulls still last, ties by key
    return -1 if ka < kb else (1 if ka > kb else 0)


row_st = st.builds(
    Row,
    key=st.just(""),
    name=st.sampled_from(NAMES),
    name_marking=st.sampled_from(("PUBLIC", "PUBLIC", NOFORN)),
    record=st.sampled_from(("PUBLIC", "PUBLIC", "PUBLIC", NOFORN)),
)
change_st = st.tuples(st.sampled_from(("add", "hide", "remove", "none")), st.integers(0, 10**6))


@dataclass
class World:
    rows: dict[str, Row]
    nation: str
    next_key: int = 0
    log: list[str] = field(default_factory=list)
    removed: dict[str, Row] = field(default_factory=dict)  # walked maybe, then deleted

    def visible(self) -> set[str]:
        return {k for k, r in self.rows.items() if seen(r.record, self.nation)}


async def apply(api: Api, world: World, change: tuple[str, int], new: Row) -> set[str]:
    """Apply one change; returns the keys whose visibility it ended (hidden or removed)."""
    kind, pick = change
    visible = sorted(world.visible())
    if kind == "add":
        world.next_key += 1
        row = Row(f"n{world.next_key:03d}", new.name, new.name_marking, new.record)
        world.rows[row.key] = row
        await api.load(Dataset.of([row.record_for()]))
        world.log.append(f"add {row}")
        return set()
    if kind == "none" or not visible:
        return set()
    key = visible[pick % len(visible)]
    if kind == "hide":
        row = world.rows[key] = Row(key, world.rows[key].name, world.rows[key].name_marking, NOFORN)
        await api.load(Dataset.of([row.record_for()]))
        world.log.append(f"hide {key}")
        # USA still sees a NOFORN record: only GBR loses it.
        return set() if world.nation == "USA" else {key}
    world.removed[key] = world.rows.pop(key)
    await api.graph.write("MATCH (s:Supplier {id: $key}) DETACH DELETE s", {"key": key})
    world.log.append(f"remove {key}")
    return {key}


def document(order: str, forward: bool) -> str:
    args = "first: $size, after: $cursor" if forward else "last: $size, before: $cursor"
    sort = ORDERS[order]
    return f"""
    query ($size: Int!, $cursor: String) {{
      suppliers({args}{", " + sort if sort else ""}) {{
        pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
        edges {{ cursor node {{ key }} }}
      }}
    }}"""


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    initial=st.lists(row_st, max_size=12),
    nation=st.sampled_from(("USA", "GBR")),
    order=st.sampled_from(tuple(ORDERS)),
    forward=st.booleans(),
    size=st.integers(1, 3),
    changes=st.lists(st.tuples(change_st, row_st), max_size=12),
)
async def test_walks_skip_and_repeat_no_record_that_stayed_visible(
    api: Api,
    initial: list[Row],
    nation: str,
    order: str,
    forward: bool,
    size: int,
    changes: list[tuple[tuple[str, int], Row]],
) -> None:
    await clear_database(api.graph)
    rows = {
        f"s{i:03d}": Row(f"s{i:03d}", r.name, r.name_marking, r.record)
        for i, r in enumerate(initial)
    }
    await api.load(b.dataset(suppliers=[r.record_for() for r in rows.values()]))
    world = World(dict(rows), nation)
    stayed = world.visible()
    walked: list[str] = []
    cursor = None
    doc = document(order, forward)
    for step in range(60):
        reply = await api.query(doc, {"size": size, "cursor": cursor}, nation=nation)
        assert not reply.errors, (reply.errors, world.log)
        conn = reply.data["suppliers"]
        page = [e["node"]["key"] for e in conn["edges"]]
        assert len(page) <= size
        assert set(page) <= world.visible(), (page, world.log)
        walked = walked + page if forward else page + walked
        info = conn["pageInfo"]
        if not (info["hasNextPage"] if forward else info["hasPreviousPage"]):
            break
        assert page, "a page that promises more must not be empty"
        cursor = info["endCursor"] if forward else info["startCursor"]
        if step < len(changes):
            change, new = changes[step]
            stayed -= await apply(api, world, change, new)
    else:
        raise AssertionError("the walk did not end")
    assert len(walked) == len(set(walked)), (walked, world.log)
    missing = stayed - set(walked)
    assert not missing, (missing, walked, world.log)
    # A record walked, then removed, still had its place in the order when it was walked.
    everyone = {**rows, **world.removed, **world.rows}
    ordered = sorted(
        walked,
        key=functools.cmp_to_key(lambda a, c: compare(everyone[a], everyone[c], nation, order)),
    )
    assert walked == ordered, (walked, world.log)
