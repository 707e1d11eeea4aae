"""Disruption: what is lost if nations or suppliers drop out.

Knock-out first (remove every provider that is one of the named suppliers or is based in a
named nation, as far as the caller can see where it is based), then reachability: a
capability that loses every provider is lost, and every capability that requires a lost one,
directly or through others, is impaired. Capacity counts only where it is released.

Counting is done in Cypher (offers aggregated per nation and knocked-out flag), so a
capability with thousands of providers costs one row, not thousands.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dibx.graph.supply import CapabilityNode, CapabilityTree, Withheld
from dibx.services.analytics.common import (
    CapabilityRef,
    SupplierRef,
    Tetragraphs,
    capability_ref,
    shown,
    supplier_ref,
)
from dibx.services.analytics.provenance import Provenance


@dataclass(frozen=True, slots=True)
class Alternative:
    supplier: SupplierRef
    capacity: float | None
    withheld: Withheld = ()


@dataclass(frozen=True, slots=True)
class CapabilityImpact:
    capability: CapabilityRef
    providers_before: int
    providers_after: int
    capacity_before: float
    capacity_after: float
    capacity_lost: float
    capacity_lost_share: float | None
    capacity_unknown_removed: int  # removed providers whose capacity is withheld
    lost_every_provider: bool
    allied_alternatives: tuple[Alternative, ...]
    marking: str


@dataclass(frozen=True, slots=True)
class Impaired:
    capability: CapabilityRef
    lost_inputs: tuple[str, ...]  # keys of lost capabilities it requires, at any depth
    tier: int  # REQUIRES links between it and the nearest lost input
    marking: str


@dataclass(frozen=True, slots=True)
class DisruptionReport:
    removed_nations: tuple[str, ...]
    removed_suppliers: tuple[SupplierRef, ...]
    capabilities: tuple[CapabilityImpact, ...]
    lost: tuple[CapabilityRef, ...]
    impaired: tuple[Impaired, ...]
    marking: str


def impact(cap: CapabilityNode, tetragraphs: Tetragraphs) -> CapabilityImpact:
    """One capability's loss, from an "impact" read: `cap.groups` split by knocked out or
    not (aggregated in Cypher), `cap.offers` the first remaining allied offers by capacity."""
    prov = Provenance([cap.marking]).value(cap.name)
    before = after = lost = 0.0
    providers_before = providers_after = unknown_removed = 0
    for g in cap.groups:
        prov.add(*g.markings)
        providers_before += g.providers
        before += g.capacity
        if g.removed:
            lost += g.capacity
            unknown_removed += g.providers - g.known
        else:
            after += g.capacity
            providers_after += g.providers
    for offer in cap.offers:
        prov.offer(offer)
    return CapabilityImpact(
        capability=capability_ref(cap, tetragraphs),
        providers_before=providers_before,
        providers_after=providers_after,
        capacity_before=before,
        capacity_after=after,
        capacity_lost=lost,
        capacity_lost_share=lost / before if before > 0 else None,
        capacity_unknown_removed=unknown_removed,
        lost_every_provider=providers_before > 0 and providers_after == 0,
        allied_alternatives=tuple(
            Alternative(
                supplier_ref(o.supplier, tetragraphs),
                o.capacity.value if o.capacity else None,
                shown(o.withheld, {"capacity": ("capacity",)}),
            )
            for o in cap.offers
        ),
        marking=prov.marking(tetragraphs),
    )


def impaired(
    lost: Mapping[str, str], required_by: CapabilityTree, tetragraphs: Tetragraphs
) -> tuple[Impaired, ...]:
    """Capabilities that require a lost one at any depth (walked in `required_by`, whose
    links point from a capability to those that require it). `lost` maps each lost
    capability to the marking of the finding that it is lost."""
    lost_set = set(lost)
    inputs: dict[str, set[str]] = {}
    tiers: dict[str, int] = {}
    marks: dict[str, Provenance] = {}
    for start in sorted(lost_set):
        queue = deque([(start, 0, Provenance())])
        seen = {start}
        while queue:
            key, tier, prov = queue.popleft()
            node = required_by.nodes.get(key)
            if node is None:
                continue
            for parent, marking in node.links:
                if parent in seen or parent not in required_by.nodes:
                    continue
                seen.add(parent)
                step = Provenance(prov.texts).add(marking)
                queue.append((parent, tier + 1, step))
                if parent in lost_set:
                    continue
                inputs.setdefault(parent, set()).add(start)
                tiers[parent] = min(tiers.get(parent, tier + 1), tier + 1)
                marks.setdefault(parent, Provenance()).merge(step).add(lost[start])
    result = []
    for key in sorted(inputs, key=lambda k: (tiers[k], k)):
        node = required_by.nodes[key]
        prov = marks[key].add(node.marking).value(node.name)
        result.append(
            Impaired(
                capability=capability_ref(node, tetragraphs),
                lost_inputs=tuple(sorted(inputs[key])),
                tier=tiers[key],
                marking=prov.marking(tetragraphs),
            )
        )
    return tuple(result)


def report(
    affected: Sequence[CapabilityNode],
    required_by: CapabilityTree,
    *,
    nations: frozenset[str],
    suppliers: Mapping[str, SupplierRef],
    tetragraphs: Tetragraphs,
) -> DisruptionReport:
    impacts = tuple(impact(c, tetragraphs) for c in sorted(affected, key=lambda c: c.key))
    lost = {i.capability.key: i.marking for i in impacts if i.lost_every_provider}
    knock_on = impaired(lost, required_by, tetragraphs)
    total = Provenance(i.marking for i in impacts).add(*(i.marking for i in knock_on))
    total.add(*(s.marking for s in suppliers.values()))
    return DisruptionReport(
        removed_nations=tuple(sorted(nations)),
        removed_suppliers=tuple(suppliers[k] for k in sorted(suppliers)),
        capabilities=impacts,
        lost=tuple(i.capability for i in impacts if i.lost_every_provider),
        impaired=knock_on,
        marking=total.marking(tetragraphs),
    )
