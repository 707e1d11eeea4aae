"""Exposure paths: tiers, share products and foreign ownership, on hand-built graphs."""

from __future__ import annotations

import networkx as nx
import pytest

from dibx.errors import LimitExceeded
from dibx.graph.supply import SupplyLink, SupplyTree, Val
from dibx.services.analytics import exposure, network
from tests.support.analytics import TETRAS, owned_by, sup

CONCERN = frozenset({"CHN", "RUS"})


def _graph(edges: list[tuple[str, str, float | None]]) -> nx.DiGraph:
    g = nx.DiGraph()
    for a, b, share in edges:
        g.add_edge(a, b, share=None if share is None else Val(share, ("PUBLIC",)), markings=())
    return g


def test_share_is_the_product_along_the_path() -> None:
    g = _graph([("r", "a", 0.5), ("a", "b", 0.4), ("b", "c", 0.5)])
    nodes = {"r": sup("r"), "a": sup("a"), "b": sup("b", "GBR"), "c": sup("c", "CHN")}
    (hit,) = exposure.paths(g, "r", CONCERN, depth=8, max_steps=1000, node_of=nodes)
    assert hit.path == ("r", "a", "b", "c")
    assert hit.tier == 3
    assert hit.share == pytest.approx(0.1)
    assert hit.nation == "CHN"
    assert hit.via == exposure.BASED_IN


def test_withheld_share_makes_the_product_unknown() -> None:
    g = _graph([("r", "a", 0.5), ("a", "c", None)])
    nodes = {"r": sup("r"), "a": sup("a"), "c": sup("c", "RUS")}
    (hit,) = exposure.paths(g, "r", CONCERN, depth=8, max_steps=1000, node_of=nodes)
    assert hit.share is None


def test_each_path_counts_and_a_path_ends_at_its_first_supplier_of_concern() -> None:
    # Two ways into c (China); d, behind c, is never reached through it.
    g = _graph(
        [("r", "a", 0.5), ("r", "b", 0.5), ("a", "c", 1.0), ("b", "c", 0.2), ("c", "d", 1.0)]
    )
    nodes = {k: sup(k) for k in "rabd"} | {"c": sup("c", "CHN")}
    nodes["d"] = sup("d", "RUS")
    hits = exposure.paths(g, "r", CONCERN, depth=8, max_steps=1000, node_of=nodes)
    assert sorted((h.path, h.share) for h in hits) == [
        (("r", "a", "c"), 0.5),
        (("r", "b", "c"), pytest.approx(0.1)),
    ]


def test_depth_bounds_the_walk() -> None:
    g = _graph([("r", "a", 1.0), ("a", "b", 1.0), ("b", "c", 1.0)])
    nodes = {"r": sup("r"), "a": sup("a"), "b": sup("b"), "c": sup("c", "CHN")}
    assert exposure.paths(g, "r", CONCERN, depth=2, max_steps=1000, node_of=nodes) == []
    assert len(exposure.paths(g, "r", CONCERN, depth=3, max_steps=1000, node_of=nodes)) == 1


def test_majority_foreign_owner_counts_as_exposure() -> None:
    g = _graph([("r", "a", 0.3), ("a", "b", 1.0)])
    nodes = {
        "r": sup("r"),
        "a": sup("a", "GBR", control=[owned_by("parent", "RUS", 0.7)]),
        "b": sup("b", "CHN"),
    }
    (hit,) = exposure.paths(g, "r", CONCERN, depth=8, max_steps=1000, node_of=nodes)
    assert hit.via == exposure.OWNERSHIP
    assert hit.nation == "RUS"
    assert hit.tier == 1
    assert hit.owner is not None
    assert hit.owner.owner == "parent"


def test_root_itself_of_concern_is_tier_zero() -> None:
    g = _graph([("r", "a", 1.0)])
    nodes = {"r": sup("r", "CHN"), "a": sup("a")}
    (hit,) = exposure.paths(g, "r", CONCERN, depth=8, max_steps=1000, node_of=nodes)
    assert hit.tier == 0


def test_too_many_paths_is_a_limit_error() -> None:
    # A ladder of diamonds doubles the number of paths at every rung.
    edges = []
    for i in range(10):
        edges += [(f"n{i}", f"a{i}", 0.5), (f"n{i}", f"b{i}", 0.5)]
        edges += [(f"a{i}", f"n{i + 1}", 1.0), (f"b{i}", f"n{i + 1}", 1.0)]
    g = _graph(edges)
    nodes = {n: sup(n) for n in g.nodes}
    with pytest.raises(LimitExceeded, match="supply paths"):
        exposure.paths(g, "n0", CONCERN, depth=30, max_steps=500, node_of=nodes)


def test_report_over_a_network() -> None:
    tree = SupplyTree(
        suppliers={"r": sup("r"), "a": sup("a", "GBR"), "c": sup("c", "CHN")},
        tiers={"r": 0, "a": 1, "c": 2},
        links=[
            SupplyLink("r", "a", "PUBLIC", None, Val(0.5, ("PUBLIC",)), None),
            SupplyLink("a", "c", "CUI//REL TO USA, GBR", None, Val(0.5, ("PUBLIC",)), None),
        ],
    )
    net = network.build(tree, root=(network.SUPPLIER, "r"), depth=3)
    r = exposure.report(net, CONCERN, first=10, max_steps=1000, tetragraphs=TETRAS, owners={})
    assert r.reached
    assert r.nearest_tier == 2
    assert r.max_share == pytest.approx(0.25)
    assert [s.key for s in r.paths[0].suppliers] == ["r", "a", "c"]
    assert r.paths[0].marking == "CUI//REL TO USA, GBR"
    assert r.marking == "CUI//REL TO USA, GBR"
    assert [(n.nation, n.paths) for n in r.nations] == [("CHN", 1)]
