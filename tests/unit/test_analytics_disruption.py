"""Disruption: knock-out of nations and suppliers, then what is lost, reduced and impaired."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dibx.graph.supply import CapabilityNode, CapabilityTree, Offer
from dibx.services.analytics import disruption
from dibx.services.analytics.common import SupplierRef
from tests.support.analytics import TETRAS, cap, offer, summary, sup


def _out(nations: set[str], suppliers: frozenset[str] = frozenset()) -> Callable[[Offer], bool]:
    def removed(o: Offer) -> bool:
        nation = o.supplier.nation.value if o.supplier.nation else None
        return o.supplier.key in suppliers or nation in nations

    return removed


def _tree(*nodes: CapabilityNode) -> CapabilityTree:
    t = CapabilityTree()
    for n in nodes:
        t.nodes[n.key] = n
        t.tiers[n.key] = 0
    return t


def test_removing_a_nation_reduces_capacity_and_keeps_allied_alternatives() -> None:
    us1, gb1, cn1 = (
        offer(sup("us1", "USA"), 50.0),
        offer(sup("gb1", "GBR"), 30.0),
        offer(sup("cn1", "CHN"), 20.0),
    )
    motor = summary("motor", us1, gb1, cn1, removed=_out({"CHN"}), first=[us1, gb1])
    r = disruption.impact(motor, TETRAS)
    assert (r.providers_before, r.providers_after) == (3, 2)
    assert (r.capacity_before, r.capacity_after, r.capacity_lost) == (100.0, 80.0, 20.0)
    assert r.capacity_lost_share == pytest.approx(0.2)
    assert not r.lost_every_provider
    assert [a.supplier.key for a in r.allied_alternatives] == ["us1", "gb1"]


def test_losing_every_provider_and_the_knock_on() -> None:
    ap = summary(
        "ap",
        offer(sup("cn1", "CHN"), 5.0),
        offer(sup("us9", "USA"), None),  # capacity withheld from the caller
        removed=_out({"CHN"}, frozenset({"us9"})),
        first=[],
    )
    # required_by walks upward: ap is required by motor, motor by missile.
    required_by = _tree(cap("ap", links=["motor"]), cap("motor", links=["missile"]), cap("missile"))
    r = disruption.report(
        [ap],
        required_by,
        nations=frozenset({"CHN"}),
        suppliers={"us9": SupplierRef("us9", None, "USA", "PUBLIC")},
        tetragraphs=TETRAS,
    )
    (impact,) = r.capabilities
    assert impact.lost_every_provider
    assert impact.capacity_unknown_removed == 1  # us9's capacity is withheld: not counted
    assert impact.capacity_lost == 5.0
    assert [c.key for c in r.lost] == ["ap"]
    assert [(i.capability.key, i.tier, i.lost_inputs) for i in r.impaired] == [
        ("motor", 1, ("ap",)),
        ("missile", 2, ("ap",)),
    ]


def test_a_capability_with_a_surviving_provider_is_not_lost() -> None:
    c = summary("c", offer(sup("x", None), 10.0), removed=_out({"CHN"}), first=[])
    r = disruption.impact(c, TETRAS)
    assert r.providers_after == 1  # its nation is withheld: never assumed to be CHN
    assert not r.lost_every_provider


def test_removing_a_named_supplier() -> None:
    a, b = offer(sup("a", "USA"), 10.0), offer(sup("b", "GBR"), 30.0)
    r = disruption.impact(
        summary("c", a, b, removed=_out(set(), frozenset({"b"})), first=[a]), TETRAS
    )
    assert r.capacity_lost_share == pytest.approx(0.75)
    assert [x.supplier.key for x in r.allied_alternatives] == ["a"]


def test_impaired_through_a_diamond_is_listed_once_at_the_nearest_tier() -> None:
    required_by = _tree(
        cap("lost", links=["m1", "m2"]),
        cap("m1", links=["top"]),
        cap("m2", links=["top"]),
        cap("top"),
    )
    impaired = disruption.impaired({"lost": "PUBLIC"}, required_by, TETRAS)
    assert [(i.capability.key, i.tier) for i in impaired] == [("m1", 1), ("m2", 1), ("top", 2)]
