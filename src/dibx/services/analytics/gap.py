"""Capability gaps: who provides a capability and everything it requires, by nation and
agreement, where no member or domestic provider exists, and what is single-sourced."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dibx.graph.supply import CapabilityNode, CapabilityTree
from dibx.services.analytics.common import (
    CapabilityRef,
    SupplierRef,
    Tetragraphs,
    capability_ref,
    supplier_ref,
)
from dibx.services.analytics.provenance import Provenance


@dataclass(frozen=True, slots=True)
class NationShare:
    nation: str | None  # None: the providers' BASED_IN is withheld from the caller
    providers: int
    capacity: float | None  # sum of released capacities; None when none is released
    capacity_unknown: int


@dataclass(frozen=True, slots=True)
class GroupCoverage:
    group: str
    providers: int
    capacity: float | None
    has_provider: bool


@dataclass(frozen=True, slots=True)
class CapabilityGap:
    capability: CapabilityRef
    tier: int
    required_by: tuple[str, ...]
    requires: tuple[str, ...]
    providers: int
    total_capacity: float | None
    capacity_unknown: int
    by_nation: tuple[NationShare, ...]
    by_group: tuple[GroupCoverage, ...]
    groups_without_provider: tuple[str, ...]
    domestic_provider: bool
    sole_source: SupplierRef | None
    marking: str


@dataclass(frozen=True, slots=True)
class GapReport:
    capability: CapabilityGap
    inputs: tuple[CapabilityGap, ...]
    sole_sourced: tuple[CapabilityRef, ...]
    without_provider: tuple[CapabilityRef, ...]
    depth: int
    marking: str


def summarize(
    node: CapabilityNode,
    *,
    tier: int,
    required_by: Sequence[tuple[str, str]],
    requires: Sequence[tuple[str, str]],
    caller_nation: str,
    groups: Mapping[str, frozenset[str]],
    tetragraphs: Tetragraphs,
) -> CapabilityGap:
    """One capability's coverage from its visible offers (`groups`: code -> member nations).

    `node` comes from a "summary" read: offers aggregated per nation, and its first offers.

    `required_by`/`requires` are the (capability, REQUIRES marking) links inside the tree:
    they place the capability in it, so their markings are part of its figure.
    """
    prov = Provenance([node.marking]).value(node.name)
    prov.add(*(m for _, m in required_by), *(m for _, m in requires))
    # Per-nation counts and capacity come aggregated from Cypher (node.groups).
    providers: dict[str | None, int] = defaultdict(int)
    known: dict[str | None, int] = defaultdict(int)
    capacity: dict[str | None, float] = defaultdict(float)
    for g in node.groups:
        prov.add(*g.markings)
        providers[g.nation] += g.providers
        known[g.nation] += g.known
        capacity[g.nation] += g.capacity
    nations = sorted(providers, key=lambda n: (n is None, n or ""))

    def amount(keys: Sequence[str | None]) -> float | None:
        return sum(capacity[k] for k in keys) if any(known[k] for k in keys) else None

    coverage = []
    for group, members in groups.items():
        inside = [n for n in nations if n is not None and n in members]
        count = sum(providers[n] for n in inside)
        coverage.append(GroupCoverage(group, count, amount(inside), count > 0))
    total = sum(providers.values())
    # node.offers holds the first two offers by key: with one provider in all, it is the one.
    sole = node.offers[0].supplier if total == 1 and len(node.offers) == 1 else None
    if sole is not None:
        prov.supplier(sole)
    return CapabilityGap(
        capability=capability_ref(node, tetragraphs),
        tier=tier,
        required_by=tuple(sorted(k for k, _ in required_by)),
        requires=tuple(sorted(k for k, _ in requires)),
        providers=total,
        total_capacity=amount(nations),
        capacity_unknown=total - sum(known.values()),
        by_nation=tuple(
            NationShare(n, providers[n], amount([n]), providers[n] - known[n]) for n in nations
        ),
        by_group=tuple(coverage),
        groups_without_provider=tuple(c.group for c in coverage if not c.has_provider),
        domestic_provider=providers.get(caller_nation, 0) > 0,
        sole_source=None if sole is None else supplier_ref(sole, tetragraphs),
        marking=prov.marking(tetragraphs),
    )


def report(
    tree: CapabilityTree,
    root: str,
    *,
    depth: int,
    caller_nation: str,
    groups: Mapping[str, frozenset[str]],
    tetragraphs: Tetragraphs,
) -> GapReport:
    inside = tree.nodes.keys()
    parents: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, node in tree.nodes.items():
        for child, marking in node.links:
            if child in inside:
                parents[child].append((key, marking))
    gaps = {}
    for key in sorted(inside, key=lambda k: (tree.tiers[k], k)):
        node = tree.nodes[key]
        gaps[key] = summarize(
            node,
            tier=tree.tiers[key],
            required_by=parents[key],
            requires=[(k, m) for k, m in node.links if k in inside],
            caller_nation=caller_nation,
            groups=groups,
            tetragraphs=tetragraphs,
        )
    prov = Provenance(g.marking for g in gaps.values())
    return GapReport(
        capability=gaps[root],
        inputs=tuple(g for k, g in gaps.items() if k != root),
        sole_sourced=tuple(g.capability for g in gaps.values() if g.providers == 1),
        without_provider=tuple(g.capability for g in gaps.values() if g.providers == 0),
        depth=depth,
        marking=prov.marking(tetragraphs),
    )
