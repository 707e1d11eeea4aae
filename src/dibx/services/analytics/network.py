"""The visible supply network under a root, as a networkx DiGraph shared by the analyses.

Edges point upstream: from a buyer to its supplier (SOURCES_FROM), and from a capability
at the root to each of its providers (PROVIDES). Node ids are ("S", key) / ("C", key).
Node attribute `supplier` holds the SupplierNode; edge attributes `kind`, `record` (the
SupplyLink or Offer), `share` (Val or None) and `markings` (of the edge record itself).
A PROVIDES edge's share is the provider's part of the capability's released capacity,
so it rests on every released capacity of that capability.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

from dibx.auth.release import ReleaseScope
from dibx.graph import supply
from dibx.graph.driver import Reads
from dibx.graph.supply import CapabilityNode, SupplierNode, SupplyTree, Val
from dibx.services.analytics.limits import AnalyticsLimits, too_many
from dibx.services.analytics.provenance import Provenance

Node = tuple[str, str]
SUPPLIER = "S"
CAPABILITY = "C"


@dataclass
class Network:
    graph: Any  # nx.DiGraph (networkx ships no type hints)
    root: Node
    tiers: dict[Node, int]
    depth: int
    capability: CapabilityNode | None = None
    suppliers: dict[str, SupplierNode] = field(default_factory=dict)

    def provenance(
        self, *, names: bool = True, nations: bool = True, shares: bool = False
    ) -> Provenance:
        """Markings of everything in the network an analysis over all of it rests on."""
        prov = Provenance()
        if self.capability is not None:
            prov.add(self.capability.marking)
            if names:
                prov.value(self.capability.name)
        for node in self.suppliers.values():
            prov.supplier(node, name=names, nation=nations)
        for _, _, data in self.graph.edges(data=True):
            prov.add(*data["markings"])
            if shares:
                prov.value(data["share"])
        return prov


def provides_shares(cap: CapabilityNode) -> dict[str, Val[float] | None]:
    """Each provider's share of the released capacity (None when its own is withheld)."""
    known = [o.capacity for o in cap.offers if o.capacity is not None]
    total = sum(v.value for v in known)
    markings = tuple(m for v in known for m in v.markings)
    shares: dict[str, Val[float] | None] = {}
    for offer in cap.offers:
        if offer.capacity is None or total <= 0:
            shares[offer.supplier.key] = None
        else:
            shares[offer.supplier.key] = Val(offer.capacity.value / total, markings)
    return shares


def build(
    tree: SupplyTree, *, root: Node, depth: int, capability: CapabilityNode | None = None
) -> Network:
    g = nx.DiGraph()
    g.add_node(root)
    tiers: dict[Node, int] = {root: 0}
    if capability is not None:
        shares = provides_shares(capability)
        for offer in capability.offers:
            node = (SUPPLIER, offer.supplier.key)
            g.add_edge(
                root,
                node,
                kind="PROVIDES",
                record=offer,
                share=shares[offer.supplier.key],
                markings=(offer.marking,),
            )
    for key, sup in tree.suppliers.items():
        node = (SUPPLIER, key)
        g.add_node(node, supplier=sup)
        tiers[node] = tree.tiers[key]
    for link in tree.links:
        g.add_edge(
            (SUPPLIER, link.buyer),
            (SUPPLIER, link.seller),
            kind="SOURCES_FROM",
            record=link,
            share=link.share,
            markings=(link.marking,),
        )
    return Network(
        graph=g,
        root=root,
        tiers=tiers,
        depth=depth,
        capability=capability,
        suppliers=dict(tree.suppliers),
    )


async def fetch(
    graph: Reads,
    scope: ReleaseScope,
    limits: AnalyticsLimits,
    *,
    root_type: str,
    key: str,
    depth: int,
    max_nodes: int,
    control: bool = False,
) -> Network | None:
    """The network to `depth` tiers under a supplier or capability; None if the root is not
    visible. At most depth + 1 queries; LimitExceeded past the node or edge budget."""
    capability: CapabilityNode | None = None
    if root_type == "Capability":
        caps = await supply.capability_tree(
            graph, scope, [key], depth=0, mode="offers", control=control, max_nodes=max_nodes
        )
        if caps.overflow:
            raise too_many("nodes", max_nodes)
        capability = caps.nodes.get(key)
        if capability is None:
            return None
        roots = [o.supplier for o in capability.offers] if depth >= 1 else []
        root: Node = (CAPABILITY, key)
        tree = await supply.supply_tree(
            graph,
            scope,
            roots,
            root_tier=1,
            depth=depth,
            max_nodes=max_nodes,
            max_edges=limits.max_edges,
            control=control,
            reserved=1,
        )
    else:
        found = await supply.suppliers_by_key(graph, scope, [key], control=control)
        if key not in found:
            return None
        root = (SUPPLIER, key)
        tree = await supply.supply_tree(
            graph,
            scope,
            [found[key]],
            root_tier=0,
            depth=depth,
            max_nodes=max_nodes,
            max_edges=limits.max_edges,
            control=control,
        )
    if tree.overflow == "nodes":
        raise too_many("nodes", max_nodes)
    if tree.overflow == "edges":
        raise too_many("edges", limits.max_edges)
    if capability is not None and depth < 1:
        capability = replace(capability, links=(), offers=())
    return build(tree, root=root, depth=depth, capability=capability)
