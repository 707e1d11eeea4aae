"""The synthetic graph: deterministic, to scale, skewed, a little cyclic, validly marked."""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx
import pytest

from dibx.auth.markings import canonicalize, parse, release_clauses
from dibx.graph.records import Dataset
from dibx.ingest.reference import NATION_CODES
from dibx.ingest.synthetic import generate


@pytest.fixture(scope="module")
def small() -> Dataset:
    return generate(2000)


@pytest.fixture(scope="module")
def medium() -> Dataset:
    return generate(20_000, seed=11)


def edges(d: Dataset) -> int:
    return sum(
        len(d.edges_of(rel)) for rel in ("BASED_IN", "PROVIDES", "SOURCES_FROM", "SUBSIDIARY_OF")
    )


def test_same_seed_same_graph_other_seed_other_graph(small: Dataset) -> None:
    assert generate(2000) == small
    other = generate(2000, seed=8)
    assert other.edges_of("SOURCES_FROM") != small.edges_of("SOURCES_FROM")


@pytest.mark.parametrize("n", [5, 100, 2000])
def test_sizes(n: int) -> None:
    d = generate(n, capabilities=40)
    assert len(d.nodes_of("Supplier")) == n
    assert len(d.nodes_of("Capability")) == 40
    assert len(d.nodes_of("Nation")) == 249


def test_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5 suppliers"):
        generate(4)


def test_about_five_edges_per_supplier(small: Dataset, medium: Dataset) -> None:
    for d in (small, medium):
        assert 4.0 <= edges(d) / len(d.nodes_of("Supplier")) <= 6.0
    assert len(medium.nodes_of("Capability")) == 200  # suppliers // 100


def test_about_five_edges_per_supplier_at_scale() -> None:
    # 200k suppliers give ~1M edges by the same ratio; its generation time is measured in bench/.
    d = generate(20_000)
    assert 90_000 <= edges(d) <= 120_000


def test_keys_unique_and_edges_resolve(medium: Dataset) -> None:
    suppliers = {s.key for s in medium.nodes_of("Supplier")}
    caps = {c.key for c in medium.nodes_of("Capability")}
    assert len(suppliers) == len(medium.nodes_of("Supplier"))
    assert len(caps) == len(medium.nodes_of("Capability"))
    assert {e.end for e in medium.edges_of("BASED_IN")} <= NATION_CODES
    sources_from = medium.edges_of("SOURCES_FROM")
    for e in sources_from:
        assert e.start in suppliers
        assert e.end in suppliers
        assert e.start != e.end
    assert len({(e.start, e.end) for e in sources_from}) == len(sources_from)
    provides = medium.edges_of("PROVIDES")
    assert {p.start for p in provides} <= suppliers
    assert {p.end for p in provides} <= caps
    assert len({(p.start, p.end) for p in provides}) == len(provides)
    requires = medium.edges_of("REQUIRES")
    assert {r.start for r in requires} | {r.end for r in requires} <= caps
    owned = medium.edges_of("SUBSIDIARY_OF")
    assert {o.start for o in owned} | {o.end for o in owned} <= suppliers


def test_values_in_range(medium: Dataset) -> None:
    sources_from = medium.edges_of("SOURCES_FROM")
    assert all(0 <= e["share"] <= 1 for e in sources_from if e["share"] is not None)
    assert all(e["share"] == 1.0 for e in sources_from if e["sole"])
    assert all(p["trl"] is not None and 1 <= p["trl"] <= 9 for p in medium.edges_of("PROVIDES"))
    owned: dict[str, float] = {}
    for o in medium.edges_of("SUBSIDIARY_OF"):
        owned[o.start] = owned.get(o.start, 0.0) + o["share"]
    assert max(owned.values()) <= 1.0
    for c in medium.nodes_of("Capability"):
        assert (c["usml"] is not None) == (c["jurisdiction"] == "ITAR")
        assert (c["eccn"] is not None) == (c["jurisdiction"] == "EAR")


def test_in_degree_is_heavy_tailed(medium: Dataset) -> None:
    sources_from = medium.edges_of("SOURCES_FROM")
    indegree = sorted(Counter(e.end for e in sources_from).values(), reverse=True)
    mean = len(sources_from) / len(medium.nodes_of("Supplier"))
    assert indegree[0] >= 50 * mean
    top = len(medium.nodes_of("Supplier")) // 100
    assert sum(indegree[:top]) >= 0.2 * len(sources_from)


def test_some_capabilities_single_sourced_some_crowded(medium: Dataset) -> None:
    providers = Counter(p.end for p in medium.edges_of("PROVIDES"))
    assert sum(1 for n in providers.values() if n == 1) >= 5
    assert max(providers.values()) >= 100
    assert sum(1 for e in medium.edges_of("SOURCES_FROM") if e["sole"]) > 0


def cyclic_nodes(pairs: list[tuple[str, str]]) -> set[str]:
    """Nodes on some cycle: members of strongly connected components larger than one."""
    graph = nx.DiGraph(pairs)
    return {n for scc in nx.strongly_connected_components(graph) if len(scc) > 1 for n in scc}


def test_sourcing_has_a_few_cycles_and_requires_has_none(small: Dataset, medium: Dataset) -> None:
    for d in (small, medium):
        on_cycles = cyclic_nodes([(e.start, e.end) for e in d.edges_of("SOURCES_FROM")])
        assert 2 <= len(on_cycles) <= 3 * max(3, len(d.nodes_of("Supplier")) // 20_000)
        assert cyclic_nodes([(r.start, r.end) for r in d.edges_of("REQUIRES")]) == set()


def test_nations_weighted_to_allies_with_some_of_concern(medium: Dataset) -> None:
    nations = Counter(e.end for e in medium.edges_of("BASED_IN"))
    assert nations.most_common(1)[0][0] == "USA"
    assert nations["CHN"] > 0
    assert nations["RUS"] > 0
    concern = nations["CHN"] + nations["RUS"] + nations["IRN"]
    assert concern < 0.15 * len(medium.nodes_of("Supplier"))


def test_markings_are_valid_canonical_and_mixed(medium: Dataset) -> None:
    records: list[Any] = [
        *medium.nodes_of("Supplier"),
        *medium.nodes_of("Capability"),
        *(e for rel in ("BASED_IN", "PROVIDES", "SOURCES_FROM", "SUBSIDIARY_OF", "REQUIRES")
          for e in medium.edges_of(rel)),
    ]  # fmt: skip
    texts = Counter(r.markings.record for r in records)
    texts.update(t for r in records for _, t in r.markings.fields)
    for text in texts:
        assert canonicalize(text) == text
        release_clauses(parse(text))  # what the writer derives must exist for every marking
    assert len(texts) >= 8
    assert texts["PUBLIC"] > 0
    assert texts["CUI//NOFORN"] > 0
    assert texts["CUI//REL TO USA, FVEY"] > 0
    # Every record's markings cover exactly its type's marked fields.
    for r in records:
        assert [name for name, _ in r.markings.fields] == sorted(r.type.names)
