"""Bulk writes against a real Neo4j: counts, markings and release lists, idempotence, clearing."""

from __future__ import annotations

import dataclasses
from typing import Any, LiteralString

import neo4j
import pytest

from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, Field
from dibx.graph.records import Dataset, EdgeRecord, Markings, NodeRecord
from dibx.graph.writes import (
    FEED_EDGES,
    MissingEndpointError,
    WriteError,
    clear_database,
    write_dataset,
)
from dibx.ingest.demo import load_demo
from dibx.ingest.reference import default_data_dir, load_reference
from dibx.ingest.synthetic import generate
from tests.support import builders as b

pytestmark = pytest.mark.neo4j
DB = "neo4j"


async def rows(driver: neo4j.AsyncDriver, query: LiteralString, **params: Any) -> list[Any]:
    records, _, _ = await driver.execute_query(query, params, database_=DB)
    return [r.data() for r in records]


async def count(driver: neo4j.AsyncDriver, query: LiteralString) -> int:
    (row,) = await rows(driver, query)
    return int(row["n"])


def reference_and_demo() -> Dataset:
    ref, demo = load_reference(default_data_dir()), load_demo(default_data_dir())
    assert ref.ok
    assert demo.ok
    return ref.dataset.merged(demo.dataset)


async def graph_counts(driver: neo4j.AsyncDriver) -> dict[str, int]:
    """Records and edges by type; membership history and the change feed's counter are
    counted apart (`history_counts`)."""
    nodes = await rows(
        driver,
        "MATCH (n) WHERE NOT n:Migration AND NOT n:MemberOfState AND NOT n:ChangeSequence "
        "RETURN labels(n)[0] AS k, count(*) AS n",
    )
    rels = await rows(
        driver,
        "MATCH ()-[r]->() WHERE NOT type(r) IN ['STATE_FROM', 'STATE_TO', 'PREVIOUS'] "
        "RETURN type(r) AS k, count(*) AS n",
    )
    return {r["k"]: r["n"] for r in nodes + rels}


async def history_counts(driver: neo4j.AsyncDriver) -> tuple[int, int]:
    """(membership states, of which events in the change feed)."""
    (row,) = await rows(
        driver, "MATCH (s:MemberOfState) RETURN count(s) AS n, count(s.seq) AS events"
    )
    return int(row["n"]), int(row["events"])


async def test_reference_and_demo_written_as_counted(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    dataset = reference_and_demo()
    seen: list[tuple[str, int]] = []
    written = await write_dataset(
        Graph(neo4j_driver, DB),
        dataset,
        batch_size=50,
        progress=lambda k, n: seen.append((k, n)),
    )
    expected = {k: v for k, v in dataset.counts().items() if v}
    assert {k: v for k, v in written.items() if v} == expected
    assert await graph_counts(neo4j_driver) == expected
    # Each membership written is a change: its first state, numbered in the feed.
    memberships = expected["MEMBER_OF"]
    assert await history_counts(neo4j_driver) == (memberships, memberships)
    assert ("Nation", 50) in seen
    assert ("Nation", 249) in seen


async def test_markings_and_release_lists_are_stored(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    await write_dataset(Graph(neo4j_driver, DB), reference_and_demo())
    (nation,) = await rows(neo4j_driver, "MATCH (n:Nation {code: 'USA'}) RETURN properties(n) AS p")
    assert nation["p"] == {
        "code": "USA",
        "name": "United States",
        "marking": "PUBLIC",
        "release": [],
        "marking_name": "PUBLIC",
        "release_name": [],
    }
    (bpmi,) = await rows(
        neo4j_driver, "MATCH (s:Supplier {id: 'sup.bpmi'}) RETURN properties(s) AS p"
    )
    assert bpmi["p"]["marking"] == "CUI//NOFORN"
    assert bpmi["p"]["release"] == ["USA"]
    assert "cage" not in bpmi["p"]
    # No value, but marked all the same: a withheld null must read like a withheld value.
    assert (bpmi["p"]["marking_cage"], bpmi["p"]["release_cage"]) == ("PUBLIC", [])
    (edge,) = await rows(
        neo4j_driver,
        "MATCH (:Supplier {id: 'sup.lm-aeronautics'})-[r:SOURCES_FROM]->"
        "(:Supplier {id: 'sup.pratt-whitney'}) RETURN properties(r) AS p",
    )
    p = edge["p"]
    assert (p["item"], p["share"], p["sole"]) == ("F135 engines", 1.0, True)
    assert (p["marking"], p["release"]) == ("CUI//REL TO USA, FVEY", ["FVEY|USA"])
    assert p["marking_share"] == "CUI//PROPIN//REL TO USA, FVEY"
    assert p["release_sole"] == ["USA"]
    (member,) = await rows(
        neo4j_driver,
        "MATCH (:Nation {code: 'SWE'})-[m:MEMBER_OF]->(:Agreement {code: 'NATO'}) "
        "RETURN m.since AS since, m.until AS until, m.precision AS precision",
    )
    assert str(member["since"]) == "2024-03-07"
    assert member["until"] is None
    (based,) = await rows(
        neo4j_driver,
        "MATCH (:Supplier {id: 'sup.rr-submarines'})-[b:BASED_IN]->(n:Nation) "
        "RETURN n.code AS nation, b.marking AS marking",
    )
    assert based == {"nation": "GBR", "marking": "PUBLIC"}


async def test_rewrite_is_idempotent_and_replaces_markings(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    dataset = reference_and_demo()
    await write_dataset(Graph(neo4j_driver, DB), dataset)
    before = await graph_counts(neo4j_driver)
    history = await history_counts(neo4j_driver)
    first, *rest = dataset.nodes_of("Supplier")
    moved = dataclasses.replace(
        first.with_values(employees=None),
        markings=dataclasses.replace(first.markings, record="CUI//NOFORN"),
        links=(dataclasses.replace(first.link("BASED_IN"), end="CAN"),),
    )
    again = dataset.replaced(nodes={"Supplier": [moved, *rest]})
    await write_dataset(Graph(neo4j_driver, DB), again, batch_size=7)
    assert await graph_counts(neo4j_driver) == before
    # Memberships written again unchanged are no change: no state, no event.
    assert await history_counts(neo4j_driver) == history
    (row,) = await rows(
        neo4j_driver,
        "MATCH (s:Supplier {id: $id})-[:BASED_IN]->(n) "
        "RETURN s.marking AS m, s.release AS r, s.employees AS e, collect(n.code) AS nations",
        id=first.key,
    )
    assert row == {"m": "CUI//NOFORN", "r": ["USA"], "e": None, "nations": ["CAN"]}


async def test_missing_endpoint_writes_nothing(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    demo = load_demo(default_data_dir()).dataset  # without the reference: no nations
    with pytest.raises(MissingEndpointError, match=r"19 Nation key\(s\) not found: AUS, BEL"):
        await write_dataset(Graph(neo4j_driver, DB), demo)
    assert await graph_counts(neo4j_driver) == {}


async def test_demo_after_reference_uses_nations_in_the_database(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    await write_dataset(Graph(neo4j_driver, DB), load_reference(default_data_dir()).dataset)
    written = await write_dataset(Graph(neo4j_driver, DB), load_demo(default_data_dir()).dataset)
    assert written["BASED_IN"] == written["Supplier"] >= 60


async def test_synthetic_graph_writes_and_clears(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    dataset = generate(2000)
    written = await write_dataset(Graph(neo4j_driver, DB), dataset, batch_size=1000)
    sources_from = dataset.edges_of("SOURCES_FROM")
    assert written["SOURCES_FROM"] == len(sources_from)
    assert await count(neo4j_driver, "MATCH ()-[r:SOURCES_FROM]->() RETURN count(r) AS n") == len(
        sources_from
    )
    deleted = await clear_database(Graph(neo4j_driver, DB), batch_size=700)
    written_nodes = sum(len(dataset.nodes_of(n)) for n in ("Supplier", "Capability", "Nation"))
    assert deleted == written_nodes + 1  # and the counter the load moved (dibx.graph.generation)
    assert await graph_counts(neo4j_driver) == {}
    # The schema bookkeeping survives a clear.
    assert await count(neo4j_driver, "MATCH (m:Migration) RETURN count(m) AS n") > 0


async def test_every_batch_and_clear_goes_through_the_counted_graph(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    graph = Graph(neo4j_driver, DB)
    dataset = load_reference(default_data_dir()).dataset
    written = await write_dataset(graph, dataset, batch_size=100)
    # Each batch moves the data generation (dibx.graph.generation) in a second statement; a
    # membership batch has a third: it numbers its changes for the feed.
    batches = sum(
        -(-n // 100) * (3 if kind in FEED_EDGES else 2)
        for kind, n in written.items()
        if kind != "BASED_IN"
    )
    assert graph.stats.writes == batches
    assert graph.stats.reads == 0  # every endpoint is in the dataset: nothing to look up
    before = graph.stats.writes
    assert await clear_database(graph, batch_size=1000) > 0
    # relationships (one batch, then an empty one), nodes (batches, then an empty one)
    assert graph.stats.writes - before >= 4


async def test_a_field_added_to_the_model_is_written_from_the_model_passed(
    neo4j_driver: neo4j.AsyncDriver, clean_db: None
) -> None:
    extended = MODEL.with_field("Supplier", Field("website", str, "The supplier's web site."))
    supplier = extended.nodes["Supplier"]
    marks = Markings.build("PUBLIC", dict.fromkeys(supplier.names, "PUBLIC") | {"website": "CUI"})
    based_in = EdgeRecord.of(extended.edges["BASED_IN"], "s1", "USA", Markings("PUBLIC"))
    record = NodeRecord.of(supplier, "s1", marks, {"name": "S", "website": "x.test"}, (based_in,))
    graph = Graph(neo4j_driver, DB)
    await write_dataset(graph, b.reference())
    with pytest.raises(WriteError, match=r"the model has no field\(s\) website"):
        await write_dataset(graph, Dataset.of([record]))  # the model of record: no such field
    written = await write_dataset(graph, Dataset.of([record]), model=extended)
    assert (written["Supplier"], written["BASED_IN"]) == (1, 1)
    (row,) = await rows(neo4j_driver, "MATCH (s:Supplier {id: 's1'}) RETURN properties(s) AS p")
    assert row["p"]["website"] == "x.test"
    assert (row["p"]["marking_website"], row["p"]["release_website"]) == ("CUI", ["@CUI_REL|USA"])
