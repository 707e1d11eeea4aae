"""Capability gaps and substitutes from hand-built offers."""

from __future__ import annotations

from dibx.graph.supply import CapabilityTree
from dibx.services.analytics import gap, substitutes
from dibx.services.analytics.common import allied_nations
from tests.support.analytics import GROUPS, TETRAS, cap, offer, summary, sup

ALLIED = allied_nations(TETRAS, GROUPS) - {"CHN", "RUS"}


def test_coverage_by_nation_and_agreement() -> None:
    node = summary(
        "c",
        offer(sup("a", "USA"), 10.0),
        offer(sup("b", "JPN"), 5.0),
        offer(sup("x", None), None),
    )
    g = gap.summarize(
        node,
        tier=0,
        required_by=[],
        requires=[],
        caller_nation="GBR",
        groups=GROUPS,
        tetragraphs=TETRAS,
    )
    assert g.providers == 3
    assert g.total_capacity == 15.0
    assert g.capacity_unknown == 1
    assert [(n.nation, n.providers, n.capacity) for n in g.by_nation] == [
        ("JPN", 1, 5.0),
        ("USA", 1, 10.0),
        (None, 1, None),
    ]
    coverage = {c.group: (c.providers, c.capacity) for c in g.by_group}
    assert coverage["NTIB"] == (1, 10.0)
    assert coverage["RDP_MOU"] == (1, 5.0)
    assert g.groups_without_provider == ("SOSA",)
    assert not g.domestic_provider  # nothing in GBR
    assert g.sole_source is None


def test_tree_report_lists_sole_sources_and_gaps() -> None:
    tree = CapabilityTree()
    for node, tier in (
        (summary("motor", offer(sup("a")), offer(sup("b", "GBR")), links=["ap", "case"]), 0),
        (summary("ap", offer(sup("c")), links=["chem"]), 1),
        (summary("case"), 1),
        (summary("chem", offer(sup("d", "CHN"))), 2),
    ):
        tree.nodes[node.key] = node
        tree.tiers[node.key] = tier
    r = gap.report(tree, "motor", depth=2, caller_nation="USA", groups=GROUPS, tetragraphs=TETRAS)
    assert r.capability.capability.key == "motor"
    assert [i.capability.key for i in r.inputs] == ["ap", "case", "chem"]
    assert [c.key for c in r.sole_sourced] == ["ap", "chem"]
    assert [c.key for c in r.without_provider] == ["case"]
    ap = r.inputs[0]
    assert ap.required_by == ("motor",)
    assert ap.sole_source is not None
    assert ap.sole_source.key == "c"
    assert r.inputs[2].groups_without_provider == ("NTIB", "AUKUS", "RDP_MOU", "NATO", "SOSA")


def test_substitutes_rank_by_spare_capacity_then_trl_and_keep_unknown_last() -> None:
    node = cap(
        "c",
        offer(sup("root", "USA"), 100.0),
        offer(sup("big", "GBR"), 50.0, trl=6),
        offer(sup("tie_hi", "AUS"), 20.0, trl=9),
        offer(sup("tie_lo", "CAN"), 20.0, trl=5),
        offer(sup("unknown", "GBR"), None),
        offer(sup("foe", "CHN"), 500.0),
        offer(sup("nowhere", None), 500.0),
        offer(sup("empty", "USA"), 0.0),
    )
    group = substitutes.candidates(
        node, allied=ALLIED, exclude=["root"], utilisation=0.8, first=10, tetragraphs=TETRAS
    )
    assert [c.supplier.key for c in group.candidates] == ["big", "tie_hi", "tie_lo", "unknown"]
    assert group.candidates[0].spare_capacity == 10.0
    assert group.candidates[-1].spare_capacity is None
    assert [c.rank for c in group.candidates] == [1, 2, 3, 4]
