"""The synthetic graph: deterministic, to scale, skewed, a little cyclic, validly marked."""

from __future__ import annotations

from collections import Counter
from typing import Any

import networkx as nx
import pytest

from dibx.auth.markings import canonicalize, parse, release_clauses
from dibx.graph.records import Dataset
from dibx.services.datasets import NATION_CODES
from dibx.services.synthetic import generate


@pytest.fixture(scope="module")
def small() -> Dataset:
    return generate(2000)


@pytest.fixture(scope="module")
def medium() -> Dataset:
    return generate(20_000, seed=11)


def edges(d: Dataset) -> int:
    return len(d.suppliers) + len(d.provides) + len(d.sources_from) + len(d.subsidiaries)


def test_same_seed_same_graph_other_seed_other_graph(small: Dataset) -> None:
    assert generate(2000) == small
    other = generate(2000, seed=8)
    assert other.sources_from != small.sources_from


@pytest.mark.parametrize("n", [5, 100, 2000])
def test_sizes(n: int) -> None:
    d = generate(n, capabilities=40)
    assert len(d.suppliers) == n
    assert len(d.capabilities) == 40
    assert len(d.nations) == 249


def test_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5 suppliers"):
        generate(4)


def test_about_five_edges_per_supplier(small: Dataset, medium: Dataset) -> None:
    for d in (small, medium):
        assert 4.0 <= edges(d) / len(d.suppliers) <= 6.0
    assert len(medium.capabilities) == 200  # suppliers // 100


def test_about_five_edges_per_supplier_at_scale() -> None:
    # 200k suppliers give ~1M edges by the same ratio; its generation time is measured in bench/.
    d = generate(20_000)
    assert 90_000 <= edges(d) <= 120_000


def test_keys_unique_and_edges_resolve(medium: Dataset) -> None:
    suppliers = {s.id for s in medium.suppliers}
    caps = {c.id for c in medium.capabilities}
    assert len(suppliers) == len(medium.suppliers)
    assert len(caps) == len(medium.capabilities)
    assert {s.nation for s in medium.suppliers} <= NATION_CODES
    for e in medium.sources_from:
        assert e.buyer in suppliers
        assert e.supplier in suppliers
        assert e.buyer != e.supplier
    assert len({(e.buyer, e.supplier) for e in medium.sources_from}) == len(medium.sources_from)
    assert {p.supplier for p in medium.provides} <= suppliers
    assert {p.capability for p in medium.provides} <= caps
    assert len({(p.supplier, p.capability) for p in medium.provides}) == len(medium.provides)
    assert {r.capability for r in medium.requires} | {r.requires for r in medium.requires} <= caps
    assert {o.child for o in medium.subsidiaries} | {o.parent for o in medium.subsidiaries} <= (
        suppliers
    )


def test_values_in_range(medium: Dataset) -> None:
    assert all(0 <= e.share <= 1 for e in medium.sources_from if e.share is not None)
    assert all(e.share == 1.0 for e in medium.sources_from if e.sole)
    assert all(p.trl is not None and 1 <= p.trl <= 9 for p in medium.provides)
    owned: dict[str, float] = {}
    for o in medium.subsidiaries:
        owned[o.child] = owned.get(o.child, 0.0) + o.share
    assert max(owned.values()) <= 1.0
    for c in medium.capabilities:
        assert (c.usml is not None) == (c.jurisdiction == "ITAR")
        assert (c.eccn is not None) == (c.jurisdiction == "EAR")


def test_in_degree_is_heavy_tailed(medium: Dataset) -> None:
    indegree = sorted(Counter(e.supplier for e in medium.sources_from).values(), reverse=True)
    mean = len(medium.sources_from) / len(medium.suppliers)
    assert indegree[0] >= 50 * mean
    top = len(medium.suppliers) // 100
    assert sum(indegree[:top]) >= 0.2 * len(medium.sources_from)


def test_some_capabilities_single_sourced_some_crowded(medium: Dataset) -> None:
    providers = Counter(p.capability for p in medium.provides)
    assert sum(1 for n in providers.values() if n == 1) >= 5
    assert max(providers.values()) >= 100
    assert sum(1 for e in medium.sources_from if e.sole) > 0


def cyclic_nodes(pairs: list[tuple[str, str]]) -> set[str]:
    """Nodes on some cycle: members of strongly connected components larger than one."""
    graph = nx.DiGraph(pairs)
    return {n for scc in nx.strongly_connected_components(graph) if len(scc) > 1 for n in scc}


def test_sourcing_has_a_few_cycles_and_requires_has_none(small: Dataset, medium: Dataset) -> None:
    for d in (small, medium):
        on_cycles = cyclic_nodes([(e.buyer, e.supplier) for e in d.sources_from])
        assert 2 <= len(on_cycles) <= 3 * max(3, len(d.suppliers) // 20_000)
        assert cyclic_nodes([(r.capability, r.requires) for r in d.requires]) == set()


def test_nations_weighted_to_allies_with_some_of_concern(medium: Dataset) -> None:
    nations = Counter(s.nation for s in medium.suppliers)
    assert nations.most_common(1)[0][0] == "USA"
    assert nations["CHN"] > 0
    assert nations["RUS"] > 0
    concern = nations["CHN"] + nations["RUS"] + nations["IRN"]
    assert concern < 0.15 * len(medium.suppliers)


def test_markings_are_valid_canonical_and_mixed(medium: Dataset) -> None:
    records: list[Any] = [
        *medium.suppliers,
        *medium.capabilities,
        *medium.provides,
        *medium.sources_from,
        *medium.subsidiaries,
        *medium.requires,
    ]
    texts = Counter(r.markings.record for r in records)
    texts.update(t for r in records for _, t in r.markings.fields)
    texts.update(s.based_in_marking for s in medium.suppliers)
    for text in texts:
        assert canonicalize(text) == text
        release_clauses(parse(text))  # what the writer derives must exist for every marking
    assert len(texts) >= 8
    assert texts["PUBLIC"] > 0
    assert texts["CUI//NOFORN"] > 0
    assert texts["CUI//REL TO USA, FVEY"] > 0
    # Every record's markings cover exactly its type's marked fields.
    for r in records:
        assert [name for name, _ in r.markings.fields] == sorted(p for p, _ in r.PROPERTIES)
