"""How the bulk writer batches: acyclic edges checked for a cycle once per batch, and the
next batch checked while one is written, without changing what an import stores or rejects."""

from __future__ import annotations

import json

import pytest

from dibx.exchange.importer import Source
from dibx.exchange.validate import DEPENDS_ON_REJECTED
from tests.integration.test_import import imported
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

CAPS = "key,marking,name,area,jurisdiction,eccn,sme,etl,classified,cdnExcluded\n" + "".join(
    f"cap.batch-{n},CUI,Batch {n},Materials,EAR,EAR99,false,false,false,false\n" for n in "abcd"
)


def requires(*pairs: str) -> Source:
    rows = "".join(f"cap.batch-{p[0]},cap.batch-{p[1]},CUI\n" for p in pairs)
    return Source("requires.csv", ["capability,requires,marking\n" + rows])


async def stored_requires(api: Api) -> set[tuple[str, str]]:
    rows = await api.graph.read(
        "MATCH (a:Capability)-[:REQUIRES]->(b:Capability) "
        "WHERE a.id STARTS WITH 'USA:cap.batch-' RETURN a.id AS a, b.id AS b"
    )
    return {(r["a"][-1], r["b"][-1]) for r in rows}


async def test_only_the_row_closing_a_cycle_is_refused_within_a_batch_or_against_stored(
    api: Api,
) -> None:
    await api.load(b.dataset())
    assert (await imported(api, "USA", [Source("capabilities.csv", [CAPS])])).rejected == 0

    # One batch: c -> a closes a -> b -> c; the rows before and after it are written.
    report = await imported(api, "USA", [requires("ab", "bc", "ca", "ad")])
    assert (report.created, [(r.line, r.code) for r in report.rejects]) == (3, [(4, "INVALID")])
    assert await stored_requires(api) == {("a", "b"), ("b", "c"), ("a", "d")}

    # Against what is stored: d -> a closes a -> d; d -> b does not (b reaches c only).
    report = await imported(api, "USA", [requires("ab", "da", "db")])
    assert (report.created, report.unchanged) == (1, 1)
    assert [(r.line, r.code) for r in report.rejects] == [(3, "INVALID")]
    assert await stored_requires(api) == {("a", "b"), ("b", "c"), ("a", "d"), ("d", "b")}


@pytest.mark.parametrize("batch_size", [1, 2000])
async def test_a_record_the_database_refuses_is_known_to_the_next_entity_rows(
    api: Api, batch_size: int
) -> None:
    await api.load(b.dataset())
    assert (await imported(api, "USA", [Source("capabilities.csv", [CAPS])])).rejected == 0

    def supplier(key: str, nation: str) -> str:
        row = {"type": "suppliers", "key": key, "marking": "CUI", "name": key, "nation": nation}
        return json.dumps(row) + "\n"

    def offer(key: str) -> str:
        row = {"type": "provides", "supplier": key, "capability": "USA:cap.batch-a"}
        return json.dumps(row | {"marking": "CUI"}) + "\n"

    # One stream: the last batch of suppliers (one refused: no such nation) is written, or
    # still in flight, when the first offer, the refused one's, is checked; it must know.
    stream = [
        supplier("batch-one", "GBR"),
        supplier("batch-two", "GBR"),
        supplier("batch-nowhere", "ZZZ"),
        offer("batch-nowhere"),
        offer("batch-one"),
        offer("batch-two"),
    ]
    report = await imported(api, "GBR", [Source("gbr.jsonl", stream)], batch_size=batch_size)
    assert (report.read, report.created) == (6, 4)
    assert [(r.line, r.code) for r in report.rejects] == [
        (3, "NOT_FOUND"),
        (4, DEPENDS_ON_REJECTED),
    ]
