"""Herfindahl-Hirschman index and allied shares, computed by hand."""

from __future__ import annotations

import pytest

from dibx.graph.supply import CapabilityNode, NationCapacity, Val
from dibx.services.analytics.concentration import hhi, hhi_from_sums, level, report
from tests.support.analytics import GROUPS, PUBLIC, TETRAS


def test_hhi_by_hand() -> None:
    # Shares 50 %, 30 %, 20 %: 2500 + 900 + 400.
    assert hhi([50.0, 30.0, 20.0]) == pytest.approx(3800.0)
    assert hhi([5.0, 3.0, 2.0]) == pytest.approx(3800.0)  # scale free


def test_hhi_monopoly_and_even_split() -> None:
    assert hhi([7.0]) == pytest.approx(10_000.0)
    assert hhi([1.0] * 4) == pytest.approx(2500.0)
    assert hhi([]) is None
    assert hhi([0.0]) is None


def test_hhi_from_sums_matches_the_direct_formula() -> None:
    values = [40.0, 20.0, 25.0, 15.0]
    assert hhi_from_sums(sum(values), sum(v * v for v in values)) == pytest.approx(hhi(values))


def test_levels_follow_the_2023_guideline_bands() -> None:
    assert level(900.0) == "UNCONCENTRATED"
    assert level(1000.0) == "MODERATELY_CONCENTRATED"
    assert level(1800.0) == "MODERATELY_CONCENTRATED"
    assert level(1800.1) == "HIGHLY_CONCENTRATED"
    assert level(None) is None


def _agg(*groups: NationCapacity, marking: str = PUBLIC) -> CapabilityNode:
    return CapabilityNode("c1", marking, Val("Capability c1", (PUBLIC,)), (), (), groups)


def _nation(code: str | None, caps: list[float], unknown: int = 0) -> NationCapacity:
    return NationCapacity(
        nation=code,
        providers=len(caps) + unknown,
        known=len(caps),
        capacity=sum(caps),
        squares=sum(c * c for c in caps),
        markings=("PUBLIC",),
    )


def test_report_by_nation_supplier_and_group() -> None:
    # USA: 40 + 20, GBR: 30, POL: 10, and one US provider whose capacity is withheld.
    agg = _agg(
        _nation("GBR", [30.0]), _nation("POL", [10.0]), _nation("USA", [40.0, 20.0], unknown=1)
    )
    r = report(agg, groups=GROUPS, tetragraphs=TETRAS)
    assert r.total_capacity == 100.0
    assert r.providers == 5
    assert r.providers_counted == 4
    assert r.capacity_unknown == 1
    # By supplier: 40, 30, 20, 10 -> 1600 + 900 + 400 + 100.
    assert r.hhi_by_supplier == pytest.approx(3000.0)
    # By nation: 60, 30, 10 -> 3600 + 900 + 100.
    assert r.hhi_by_nation == pytest.approx(4600.0)
    assert r.level_by_nation == "HIGHLY_CONCENTRATED"
    shares = {g.group: g.share for g in r.allied}
    assert shares["AUKUS"] == pytest.approx(0.9)  # USA + GBR
    assert shares["RDP_MOU"] == pytest.approx(0.4)  # GBR + POL
    assert shares["NATO"] == pytest.approx(1.0)
    assert shares["SOSA"] == pytest.approx(0.0)  # no members on record
    assert r.marking == "PUBLIC"


def test_capacity_of_unknown_nation_counts_by_supplier_but_not_by_nation() -> None:
    agg = _agg(_nation("USA", [50.0]), _nation(None, [50.0]))
    r = report(agg, groups=GROUPS, tetragraphs=TETRAS)
    assert r.hhi_by_supplier == pytest.approx(5000.0)
    assert r.hhi_by_nation == pytest.approx(10_000.0)
    assert r.capacity_unknown_nation == 50.0
    assert {g.group: g.share for g in r.allied}["NTIB"] == pytest.approx(0.5)  # a lower bound


def test_marking_combines_inputs() -> None:
    agg = _agg(
        NationCapacity("USA", 1, 1, 5.0, 25.0, ("CUI//REL TO USA, GBR", "PUBLIC")),
        marking="CUI//REL TO USA, GBR, AUS",
    )
    assert report(agg, groups=GROUPS, tetragraphs=TETRAS).marking == "CUI//REL TO USA, GBR"


def test_nation_whose_capacity_is_all_withheld_has_unknown_capacity_not_zero() -> None:
    agg = _agg(_nation("GBR", [30.0]), _nation("USA", [], unknown=2))
    r = report(agg, groups=GROUPS, tetragraphs=TETRAS)
    usa = next(n for n in r.by_nation if n.nation == "USA")
    assert (usa.capacity, usa.capacity_unknown, usa.share) == (None, 2, None)
    assert r.hhi_by_nation == pytest.approx(10_000.0)  # over released capacity only
