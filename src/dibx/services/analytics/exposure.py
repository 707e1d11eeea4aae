"""Exposure: how many tiers down, along which paths and for what share a supply chain
reaches a nation of concern, by where a supplier is based or by who controls it.

A path ends at its first supplier of concern: based in a nation of concern, or controlled
by an owner there (a chain of SUBSIDIARY_OF links each above 50 %). Its share is the product
of the shares along it (unknown if any share on it is withheld). Paths are simple and at
most `depth` links long; the walk gives up with LimitExceeded after `max_paths` steps, since
the number of paths grows exponentially with depth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dibx.errors import LimitExceeded
from dibx.graph.supply import Control, SupplierNode, Val
from dibx.services.analytics.common import SupplierRef, Tetragraphs, supplier_ref
from dibx.services.analytics.network import SUPPLIER, Network, Node
from dibx.services.analytics.provenance import Provenance

BASED_IN = "BASED_IN"
OWNERSHIP = "OWNERSHIP"


@dataclass(frozen=True, slots=True)
class Hit:
    """A path from the root to a supplier of concern (pure result, any hashable nodes)."""

    path: tuple[Any, ...]
    nation: str
    via: str  # BASED_IN | OWNERSHIP
    share: float | None
    owner: Control | None = None
    markings: frozenset[str] = field(default_factory=frozenset)

    @property
    def tier(self) -> int:
        return len(self.path) - 1


def concern_of(
    node: SupplierNode | None, concern: frozenset[str]
) -> tuple[str, str, Control | None] | None:
    """(nation, via, control chain) when the supplier is of concern, else None."""
    if node is None:
        return None
    if node.nation is not None and node.nation.value in concern:
        return node.nation.value, BASED_IN, None
    for chain in node.control:
        if chain.nation in concern:
            return chain.nation, OWNERSHIP, chain
    return None


def paths(
    g: Any,
    root: Any,
    concern: frozenset[str],
    *,
    depth: int,
    max_steps: int,
    node_of: Mapping[Any, SupplierNode],
) -> list[Hit]:
    """Every simple path (at most `depth` edges) from `root` to its first supplier of concern.

    Edge attribute `share` (Val or None) and `markings` (of the edge record) are read;
    `node_of` gives the SupplierNode of each supplier node (the root may be a capability).
    """
    hits: list[Hit] = []
    steps = 0
    # Depth-first over (node, path, share product, markings so far); an explicit stack keeps
    # deep chains off the Python call stack.
    stack: list[tuple[Any, tuple[Any, ...], float | None, frozenset[str]]] = [
        (root, (root,), 1.0, frozenset())
    ]
    while stack:
        node, path, share, marks = stack.pop()
        steps += 1
        if steps > max_steps:
            raise LimitExceeded(
                f"more than {max_steps} supply paths to follow; lower depth or narrow the root",
                limit="analyticsPaths",
                maximum=max_steps,
            )
        found = concern_of(node_of.get(node), concern)
        if found is not None:
            nation, via, control = found
            extra = set(control.markings) if control else set(_nation_markings(node_of[node]))
            hits.append(Hit(path, nation, via, share, control, marks | extra))
            continue
        if len(path) - 1 >= depth:
            continue
        for nxt in sorted(g.successors(node), reverse=True):
            if nxt in path:
                continue
            data = g.edges[node, nxt]
            edge_share: Val[float] | None = data["share"]
            step_marks = set(data["markings"])
            if edge_share is not None:
                step_marks.update(edge_share.markings)
            product = None if share is None or edge_share is None else share * edge_share.value
            stack.append((nxt, (*path, nxt), product, marks | step_marks))
    return hits


def _nation_markings(node: SupplierNode) -> Sequence[str]:
    return node.nation.markings if node.nation else ()


@dataclass(frozen=True, slots=True)
class ExposurePath:
    suppliers: tuple[SupplierRef, ...]
    tier: int
    nation: str
    via: str
    share: float | None
    owner: SupplierRef | None
    owner_chain: tuple[str, ...]
    marking: str


@dataclass(frozen=True, slots=True)
class NationExposure:
    nation: str
    paths: int
    nearest_tier: int
    max_share: float | None


@dataclass(frozen=True, slots=True)
class ExposureReport:
    root_kind: str
    root_key: str
    nations_of_concern: tuple[str, ...]
    depth: int
    reached: bool
    nearest_tier: int | None
    max_share: float | None
    path_count: int
    nations: tuple[NationExposure, ...]
    paths: tuple[ExposurePath, ...]
    marking: str


def _order(hit: Hit) -> tuple[bool, float, int, tuple[str, ...]]:
    return (hit.share is None, -(hit.share or 0.0), hit.tier, tuple(str(n) for n in hit.path))


def report(
    net: Network,
    concern: frozenset[str],
    *,
    first: int,
    max_steps: int,
    tetragraphs: Tetragraphs,
    owners: Mapping[str, SupplierNode],
) -> ExposureReport:
    node_of: dict[Node, SupplierNode] = {(SUPPLIER, k): s for k, s in net.suppliers.items()}
    hits = sorted(
        paths(net.graph, net.root, concern, depth=net.depth, max_steps=max_steps, node_of=node_of),
        key=_order,
    )
    by_nation: dict[str, list[Hit]] = {}
    for hit in hits:
        by_nation.setdefault(hit.nation, []).append(hit)
    shown = []
    for hit in hits[:first]:
        prov = Provenance(hit.markings)
        refs = []
        for node in hit.path:
            if node[0] == SUPPLIER:
                sup = net.suppliers[node[1]]
                prov.supplier(sup)
                refs.append(supplier_ref(sup, tetragraphs))
        owner = None
        if hit.owner is not None and hit.owner.owner in owners:
            owner = supplier_ref(owners[hit.owner.owner], tetragraphs)
            prov.add(owner.marking)
        shown.append(
            ExposurePath(
                suppliers=tuple(refs),
                tier=hit.tier,
                nation=hit.nation,
                via=hit.via,
                share=hit.share,
                owner=owner,
                owner_chain=hit.owner.chain if hit.owner else (),
                marking=prov.marking(tetragraphs),
            )
        )
    # Whether and where the chain is exposed rests on every node, edge, share, nation and
    # ownership chain walked: the report carries all of them.
    total = net.provenance(shares=True)
    for sup in net.suppliers.values():
        for chain in sup.control:
            total.add(*chain.markings)
    total.add(*(p.marking for p in shown))
    known = [h.share for h in hits if h.share is not None]
    return ExposureReport(
        root_kind="CAPABILITY" if net.capability is not None else "SUPPLIER",
        root_key=net.root[1],
        nations_of_concern=tuple(sorted(concern)),
        depth=net.depth,
        reached=bool(hits),
        nearest_tier=min((h.tier for h in hits), default=None),
        max_share=max(known) if known else None,
        path_count=len(hits),
        nations=tuple(
            NationExposure(
                nation=n,
                paths=len(hs),
                nearest_tier=min(h.tier for h in hs),
                max_share=max((h.share for h in hs if h.share is not None), default=None),
            )
            for n, hs in sorted(by_nation.items())
        ),
        paths=tuple(shown),
        marking=total.marking(tetragraphs),
    )
