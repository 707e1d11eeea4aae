"""Concentration of a capability's capacity: Herfindahl-Hirschman index by nation and by
supplier, and the share of capacity held in allied groups.

Sums are computed in Cypher (per nation: providers, released capacity, sum of squares); only
released capacities count. HHI is on the usual 0-10,000 scale (shares in percent, squared),
read with the 2023 US merger-guideline bands: above 1,800 highly concentrated, 1,000-1,800
moderately, below 1,000 unconcentrated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from dibx.graph.supply import CapabilityNode
from dibx.services.analytics.common import CapabilityRef, Tetragraphs, capability_ref
from dibx.services.analytics.provenance import Provenance

HIGH = 1800.0
MODERATE = 1000.0


@dataclass(frozen=True, slots=True)
class NationCapacityShare:
    nation: str | None
    providers: int
    capacity: float | None  # None when no provider's capacity there is released
    capacity_unknown: int
    share: float | None  # of the capacity whose nation is visible


@dataclass(frozen=True, slots=True)
class GroupShare:
    group: str
    capacity: float
    share: float | None  # of all released capacity (a lower bound if some nations are withheld)


@dataclass(frozen=True, slots=True)
class ConcentrationReport:
    capability: CapabilityRef
    providers: int
    providers_counted: int
    capacity_unknown: int
    total_capacity: float
    capacity_unknown_nation: float
    hhi_by_nation: float | None
    hhi_by_supplier: float | None
    level_by_nation: str | None
    level_by_supplier: str | None
    by_nation: tuple[NationCapacityShare, ...]
    allied: tuple[GroupShare, ...]
    marking: str


def hhi(values: Iterable[float]) -> float | None:
    """HHI (0-10,000) of the given amounts; None when there is nothing to share."""
    amounts = [v for v in values if v > 0]
    total = sum(amounts)
    if total <= 0:
        return None
    return hhi_from_sums(total, sum(v * v for v in amounts))


def hhi_from_sums(total: float, squares: float) -> float | None:
    """HHI from the sum and sum of squares of the amounts: 10,000 * sum(x^2) / (sum x)^2."""
    if total <= 0:
        return None
    return round(10_000.0 * squares / (total * total), 6)


def level(index: float | None) -> str | None:
    if index is None:
        return None
    if index > HIGH:
        return "HIGHLY_CONCENTRATED"
    if index >= MODERATE:
        return "MODERATELY_CONCENTRATED"
    return "UNCONCENTRATED"


def report(
    node: CapabilityNode, *, groups: Mapping[str, frozenset[str]], tetragraphs: Tetragraphs
) -> ConcentrationReport:
    """`node` comes from a "summary" read: its offers aggregated per nation in Cypher."""
    nations = node.groups
    prov = Provenance([node.marking]).value(node.name)
    for n in nations:
        prov.add(*n.markings)
    known = [n for n in nations if n.nation is not None and n.capacity > 0]
    total = sum(n.capacity for n in nations)
    with_nation = sum(n.capacity for n in known)
    by_supplier = hhi_from_sums(total, sum(n.squares for n in nations))
    by_nation = hhi(n.capacity for n in known)
    allied = []
    for group, members in groups.items():
        amount = sum(n.capacity for n in known if n.nation in members)
        allied.append(GroupShare(group, amount, amount / total if total > 0 else None))
    return ConcentrationReport(
        capability=capability_ref(node, tetragraphs),
        providers=sum(n.providers for n in nations),
        providers_counted=sum(n.known for n in nations),
        capacity_unknown=sum(n.providers - n.known for n in nations),
        total_capacity=total,
        capacity_unknown_nation=total - sum(n.capacity for n in nations if n.nation),
        hhi_by_nation=by_nation,
        hhi_by_supplier=by_supplier,
        level_by_nation=level(by_nation),
        level_by_supplier=level(by_supplier),
        by_nation=tuple(
            NationCapacityShare(
                nation=n.nation,
                providers=n.providers,
                capacity=n.capacity if n.known else None,
                capacity_unknown=n.providers - n.known,
                share=(
                    n.capacity / with_nation
                    if with_nation and n.known and n.nation is not None
                    else None
                ),
            )
            for n in sorted(nations, key=lambda n: (n.nation is None, n.nation or ""))
        ),
        allied=tuple(allied),
        marking=prov.marking(tetragraphs),
    )
