"""Hand-built inputs for the pure analytics functions: suppliers, offers, capabilities."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from dibx.graph.supply import CapabilityNode, Control, NationCapacity, Offer, SupplierNode, Val

PUBLIC = "PUBLIC"
TETRAS: dict[str, frozenset[str]] = {
    "FVEY": frozenset({"USA", "GBR", "AUS", "CAN", "NZL"}),
    "NTIB": frozenset({"USA", "CAN", "GBR", "AUS", "NZL"}),
    "AUKUS": frozenset({"USA", "GBR", "AUS"}),
    "NATO": frozenset({"USA", "GBR", "CAN", "POL", "DEU", "FRA"}),
    "RDP_MOU": frozenset({"GBR", "AUS", "CAN", "JPN", "POL", "DEU", "FRA"}),
}
GROUPS = {g: TETRAS.get(g, frozenset()) for g in ("NTIB", "AUKUS", "RDP_MOU", "NATO", "SOSA")}


def sup(
    key: str,
    nation: str | None = "USA",
    *,
    marking: str = PUBLIC,
    control: Sequence[Control] = (),
) -> SupplierNode:
    return SupplierNode(
        key=key,
        marking=marking,
        name=Val(f"Supplier {key}", (PUBLIC,)),
        nation=None if nation is None else Val(nation, (PUBLIC, PUBLIC)),
        control=tuple(control),
    )


def offer(
    supplier: SupplierNode,
    capacity: float | None = 10.0,
    *,
    trl: int | None = 7,
    capacity_marking: str = PUBLIC,
) -> Offer:
    return Offer(
        supplier=supplier,
        marking=PUBLIC,
        capacity=None if capacity is None else Val(capacity, (capacity_marking,)),
        trl=None if trl is None else Val(trl, (PUBLIC,)),
    )


def cap(
    key: str, *offers: Offer, links: Sequence[str] = (), marking: str = PUBLIC
) -> CapabilityNode:
    return CapabilityNode(
        key=key,
        marking=marking,
        name=Val(f"Capability {key}", (PUBLIC,)),
        links=tuple((k, PUBLIC) for k in links),
        offers=tuple(offers),
    )


def owned_by(owner: str, nation: str, share: float = 0.6) -> Control:
    return Control(owner=owner, nation=nation, chain=(owner,), shares=(share,), markings=(PUBLIC,))


def summary(
    key: str,
    *offers: Offer,
    removed: Callable[[Offer], bool] = lambda _: False,
    first: Sequence[Offer] | None = None,
    links: Sequence[str] = (),
) -> CapabilityNode:
    """A capability as a "summary"/"impact" read returns it: offers grouped per (nation,
    removed) with counts and released capacity; `first` (default: the first two by key)
    stands for the offers the read lists."""
    buckets: dict[tuple[str | None, bool], list[Offer]] = defaultdict(list)
    for o in offers:
        buckets[o.supplier.nation.value if o.supplier.nation else None, removed(o)].append(o)
    groups = tuple(
        NationCapacity(
            nation=nation,
            providers=len(os),
            known=sum(o.capacity is not None for o in os),
            capacity=sum(o.capacity.value for o in os if o.capacity),
            squares=sum(o.capacity.value**2 for o in os if o.capacity),
            markings=(PUBLIC,),
            removed=gone,
        )
        for (nation, gone), os in sorted(
            buckets.items(), key=lambda kv: (kv[0][0] or "~", kv[0][1])
        )
    )
    listed = sorted(offers, key=lambda o: o.supplier.key)[:2] if first is None else first
    return CapabilityNode(
        key=key,
        marking=PUBLIC,
        name=Val(f"Capability {key}", (PUBLIC,)),
        links=tuple((k, PUBLIC) for k in links),
        offers=tuple(listed),
        groups=groups,
    )
