"""Substitutes: allied suppliers that provide a capability (or, for a supplier, each
capability it provides) and could take on more of it, ranked.

Spare capacity is a documented planning assumption, not data: the graph holds nominal
capacity but no utilisation, so spare = released capacity x (1 - assumed utilisation)
(default 0.8 in use, i.e. 20 % surge headroom). Ranking: spare capacity (highest first),
then TRL (highest first), then key. A candidate whose capacity or TRL is withheld is ranked
as unknown (after every known value), never by the withheld value. Allied means based in a
member nation (as of today) of one of the allied groups, excluding nations of concern.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dibx.graph.supply import CapabilityNode, Offer, Withheld
from dibx.services.analytics.common import (
    CapabilityRef,
    SupplierRef,
    Tetragraphs,
    capability_ref,
    nation_of,
    shown,
    supplier_ref,
)
from dibx.services.analytics.provenance import Provenance

# Spare capacity is computed from capacity: a withheld capacity leaves both null.
_OFFER_FIELDS = {"capacity": ("capacity", "spare_capacity"), "trl": ("trl",)}


@dataclass(frozen=True, slots=True)
class Substitute:
    rank: int
    supplier: SupplierRef
    capacity: float | None
    spare_capacity: float | None
    trl: int | None
    marking: str
    withheld: Withheld = ()


@dataclass(frozen=True, slots=True)
class SubstituteGroup:
    capability: CapabilityRef
    candidates: tuple[Substitute, ...]
    marking: str


@dataclass(frozen=True, slots=True)
class SubstitutesReport:
    root_kind: str
    root_key: str
    assumption: str
    groups: tuple[SubstituteGroup, ...]
    marking: str


def spare(offer: Offer, utilisation: float) -> float | None:
    if offer.capacity is None:
        return None
    return round(max(0.0, offer.capacity.value * (1.0 - utilisation)), 6)


def _rank_key(offer: Offer, utilisation: float) -> tuple[bool, float, bool, int, str]:
    free = spare(offer, utilisation)
    trl = offer.trl.value if offer.trl else None
    return (free is None, -(free or 0.0), trl is None, -(trl or 0), offer.supplier.key)


def candidates(
    cap: CapabilityNode,
    *,
    allied: frozenset[str],
    exclude: Iterable[str],
    utilisation: float,
    first: int,
    tetragraphs: Tetragraphs,
) -> SubstituteGroup:
    """Rank `cap.offers`; from a "candidates" read they arrive filtered and ranked by Cypher
    (this applies the same rule again, so it also stands alone), with `cap.groups` holding
    the markings of every offer the choice and order rest on."""
    excluded = set(exclude)
    pool = [
        o
        for o in cap.offers
        if o.supplier.key not in excluded
        and nation_of(o.supplier) in allied
        and (o.capacity is None or o.capacity.value > 0)
    ]
    pool.sort(key=lambda o: _rank_key(o, utilisation))
    group_prov = Provenance([cap.marking]).value(cap.name)
    for g in cap.groups:
        group_prov.add(*g.markings)
    chosen = []
    for rank, offer in enumerate(pool[:first], start=1):
        prov = Provenance().offer(offer, trl=True)
        group_prov.merge(prov)
        chosen.append(
            Substitute(
                rank=rank,
                supplier=supplier_ref(offer.supplier, tetragraphs),
                capacity=offer.capacity.value if offer.capacity else None,
                spare_capacity=spare(offer, utilisation),
                trl=offer.trl.value if offer.trl else None,
                marking=prov.marking(tetragraphs),
                withheld=shown(offer.withheld, _OFFER_FIELDS),
            )
        )
    return SubstituteGroup(
        capability=capability_ref(cap, tetragraphs),
        candidates=tuple(chosen),
        marking=group_prov.marking(tetragraphs),
    )


def assumption_text(utilisation: float) -> str:
    return (
        f"Spare capacity = released capacity x (1 - {utilisation:g}): an assumed utilisation "
        "of nominal capacity, since dibx holds no utilisation data. Ranked by spare capacity, "
        "then TRL; withheld values rank as unknown, last."
    )
