"""The upstream supply tree as nodes and edges with tiers: a bounded structure to draw."""

from __future__ import annotations

from dataclasses import dataclass

from dibx.graph.supply import Offer, SupplyLink, Withheld
from dibx.services.analytics.common import NAME, Tetragraphs, shown
from dibx.services.analytics.network import CAPABILITY, Network, Node
from dibx.services.analytics.provenance import Provenance


@dataclass(frozen=True, slots=True)
class ChainNode:
    key: str
    kind: str  # "SUPPLIER" | "CAPABILITY"
    name: str | None
    nation: str | None
    tier: int
    marking: str
    withheld: Withheld = ()


@dataclass(frozen=True, slots=True)
class ChainEdge:
    source: ChainNode
    target: ChainNode
    kind: str  # "SOURCES_FROM" | "PROVIDES"
    tier: int  # the buyer's tier + 1: how far below the root this link sits
    item: str | None
    share: float | None
    sole: bool | None
    capacity: float | None
    marking: str
    withheld: Withheld = ()


# A PROVIDES edge's share is computed from its capacity: a withheld capacity leaves both null.
_LINK_FIELDS = {"item": ("item",), "share": ("share",), "sole": ("sole",)}
_OFFER_FIELDS = {"capacity": ("capacity", "share")}


@dataclass(frozen=True, slots=True)
class ChainReport:
    root: ChainNode
    depth: int
    nodes: tuple[ChainNode, ...]
    edges: tuple[ChainEdge, ...]
    marking: str


def _node(net: Network, node: Node, tetragraphs: Tetragraphs) -> ChainNode:
    kind, key = node
    if kind == CAPABILITY:
        cap = net.capability
        assert cap is not None
        prov = Provenance([cap.marking]).value(cap.name)
        name = cap.name.value if cap.name else None
        return ChainNode(
            key, "CAPABILITY", name, None, 0, prov.marking(tetragraphs), shown(cap.withheld, NAME)
        )
    sup = net.suppliers[key]
    return ChainNode(
        key=key,
        kind="SUPPLIER",
        name=sup.name.value if sup.name else None,
        nation=sup.nation.value if sup.nation else None,
        tier=net.tiers[node],
        marking=Provenance().supplier(sup).marking(tetragraphs),
        withheld=shown(sup.withheld, NAME),
    )


def report(net: Network, tetragraphs: Tetragraphs) -> ChainReport:
    nodes = {n: _node(net, n, tetragraphs) for n in net.graph.nodes}
    edges = []
    for u, v, data in net.graph.edges(data=True):
        record = data["record"]
        prov = Provenance(data["markings"]).value(data["share"])
        item = sole = capacity = None
        withheld: Withheld = ()
        if isinstance(record, SupplyLink):
            prov.value(record.item).value(record.sole)
            item = record.item.value if record.item else None
            sole = record.sole.value if record.sole else None
            withheld = shown(record.withheld, _LINK_FIELDS)
        elif isinstance(record, Offer):
            prov.value(record.capacity)
            capacity = record.capacity.value if record.capacity else None
            withheld = shown(record.withheld, _OFFER_FIELDS)
        share = data["share"]
        edges.append(
            ChainEdge(
                source=nodes[u],
                target=nodes[v],
                kind=data["kind"],
                tier=nodes[u].tier + 1,
                item=item,
                share=share.value if share else None,
                sole=sole,
                capacity=capacity,
                marking=prov.marking(tetragraphs),
                withheld=withheld,
            )
        )
    ordered = sorted(nodes.values(), key=lambda n: (n.tier, n.kind, n.key))
    edges.sort(key=lambda e: (e.tier, e.source.key, e.target.key))
    total = Provenance(n.marking for n in ordered).add(*(e.marking for e in edges))
    return ChainReport(
        root=nodes[net.root],
        depth=net.depth,
        nodes=tuple(ordered),
        edges=tuple(edges),
        marking=total.marking(tetragraphs),
    )
