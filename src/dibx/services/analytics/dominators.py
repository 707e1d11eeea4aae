"""Single points of failure: suppliers (and nations) on every supply path from a root to its
inputs, found as dominators of the visible supply graph.

A virtual root points at the real root; without a target, every input (a supplier with no
visible supplier of its own within the depth) points at a virtual sink, so the dominators of
the sink are exactly the suppliers every path to any input passes through. A nation is a
single point of failure when removing all of its suppliers (other than the root and the
target) cuts the root off from the sink. Suppliers whose nation is withheld are never
removed: what the caller cannot see is not assumed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import networkx as nx

from dibx.services.analytics.common import SupplierRef, Tetragraphs, supplier_ref
from dibx.services.analytics.network import SUPPLIER, Network, Node

N = TypeVar("N", bound=Hashable)

# Distinct objects, so they can never collide with a real node of any graph.
VIRTUAL_ROOT: Any = object()
VIRTUAL_SINK: Any = object()


@dataclass(frozen=True, slots=True)
class Dominance(Generic[N]):
    """Result of the pure algorithm on any DiGraph."""

    reachable: bool
    # Nodes on every path from the root to the sink, nearest the root first.
    on_every_path: tuple[N, ...]
    # Per node: how many other nodes it dominates (all their paths from the root pass it).
    dominates: Mapping[N, int]
    nations: tuple[str, ...]
    inputs: int


def dominance(
    g: Any, root: N, target: N | None = None, nations: Mapping[N, str] | None = None
) -> Dominance[N]:
    """Dominators of `target` (or of all inputs) from `root` in the DiGraph `g`."""
    work = nx.DiGraph(g)
    work.add_edge(VIRTUAL_ROOT, root)
    reach = nx.descendants(work, root) | {root}
    if target is None:
        sink: Any = VIRTUAL_SINK
        leaves = sorted((n for n in reach if work.out_degree(n) == 0), key=repr)
        work.add_edges_from((leaf, VIRTUAL_SINK) for leaf in leaves)
        inputs = len(leaves)
    else:
        sink = target
        inputs = 1 if target in reach else 0
    if sink not in work or (target is not None and target not in reach):
        # No input at all (a closed loop), or the target is not upstream of the root.
        return Dominance(target is None, (), {}, (), 0)
    idom = nx.immediate_dominators(work, VIRTUAL_ROOT)
    excluded = {VIRTUAL_ROOT, VIRTUAL_SINK, root, sink}
    chain: list[N] = []
    node = idom.get(sink)
    while node is not None and node is not VIRTUAL_ROOT:
        if node not in excluded:
            chain.append(node)
        node = idom.get(node)
    chain.reverse()
    # The dominator tree is no deeper than the shortest path (at most depth + 1), so walking
    # each node's chain of dominators is cheap.
    counts: Counter[N] = Counter()
    for n in idom:
        if n is VIRTUAL_SINK or n == root:
            continue
        up = idom[n]
        while up is not None and up is not VIRTUAL_ROOT and up != root:
            counts[up] += 1
            up = idom.get(up)
    failing = []
    by_nation = nations or {}
    for nation in sorted(set(by_nation.values())):
        removed = [n for n, c in by_nation.items() if c == nation and n not in excluded]
        if removed and not nx.has_path(nx.restricted_view(work, removed, []), VIRTUAL_ROOT, sink):
            failing.append(nation)
    return Dominance(True, tuple(chain), dict(counts), tuple(failing), inputs)


@dataclass(frozen=True, slots=True)
class PointOfFailure:
    supplier: SupplierRef
    tier: int
    dominates: int


@dataclass(frozen=True, slots=True)
class FailureReport:
    root_kind: str
    root_key: str
    target: str | None
    target_reachable: bool
    suppliers: tuple[PointOfFailure, ...]
    nations: tuple[str, ...]
    critical: tuple[PointOfFailure, ...]
    inputs: int
    node_count: int
    depth: int
    marking: str


CRITICAL_TOP = 25


def report(net: Network, target: str | None, tetragraphs: Tetragraphs) -> FailureReport:
    nations: dict[Node, str] = {
        (SUPPLIER, k): s.nation.value for k, s in net.suppliers.items() if s.nation is not None
    }
    goal: Node | None = (SUPPLIER, target) if target is not None else None
    result = dominance(net.graph, net.root, goal, nations)

    def point(node: Node) -> PointOfFailure:
        return PointOfFailure(
            supplier_ref(net.suppliers[node[1]], tetragraphs),
            tier=net.tiers[node],
            dominates=result.dominates.get(node, 0),
        )

    critical = sorted(
        (n for n, c in result.dominates.items() if c > 0 and n != goal and n[0] == SUPPLIER),
        key=lambda n: (-result.dominates[n], net.tiers[n], n),
    )[:CRITICAL_TOP]
    return FailureReport(
        root_kind="CAPABILITY" if net.capability is not None else "SUPPLIER",
        root_key=net.root[1],
        target=target,
        target_reachable=result.reachable,
        suppliers=tuple(point(n) for n in result.on_every_path),
        nations=result.nations,
        critical=tuple(point(n) for n in critical),
        inputs=result.inputs,
        node_count=sum(1 for n in net.graph.nodes if n[0] == SUPPLIER),
        depth=net.depth,
        marking=net.provenance().marking(tetragraphs),
    )
