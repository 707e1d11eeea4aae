"""The `supplyChain` analysis: its result types and its root field."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.schema.analytics.common import (
    MARKING,
    NAME,
    RootArg,
    analyse,
    analysis,
    node_id,
    root_of,
    said,
)
from dibx.schema.context import Context
from dibx.services.analytics import chain


def _node_id(root: chain.ChainNode) -> strawberry.ID:
    return node_id(root.kind, root.key)


def _source_id(root: chain.ChainEdge) -> strawberry.ID:
    return _node_id(root.source)


def _target_id(root: chain.ChainEdge) -> strawberry.ID:
    return _node_id(root.target)


def _node_count(root: chain.ChainReport) -> int:
    return len(root.nodes)


def _edge_count(root: chain.ChainReport) -> int:
    return len(root.edges)


@strawberry.enum(description="What a supply-tree node is.")
class SupplyNodeKind(Enum):
    SUPPLIER = strawberry.enum_value("SUPPLIER", description="A supplier.")
    CAPABILITY = strawberry.enum_value("CAPABILITY", description="A capability.")


@strawberry.enum(description="What a supply-tree link is.")
class SupplyEdgeKind(Enum):
    SOURCES_FROM = strawberry.enum_value(
        "SOURCES_FROM", description="The buyer sources from the supplier."
    )
    PROVIDES = strawberry.enum_value(
        "PROVIDES", description="The supplier provides the capability."
    )


@strawberry.type(description="A node of the drawn supply tree.")
class SupplyNode:
    id: strawberry.ID = strawberry.field(
        resolver=_node_id, description="Global id of the supplier or capability."
    )
    key: str = strawberry.field(description="Its key in dibx data.")
    kind: SupplyNodeKind = strawberry.field(description="Supplier or capability.")
    name: str | None = said(NAME)
    nation: str | None = strawberry.field(
        description="Where a supplier is based; null if withheld or a capability."
    )
    tier: int = strawberry.field(description="Links from the root (the root is tier 0).")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A supply link: `from` depends on `to` (edges point upstream).")
class SupplyEdge:
    from_: strawberry.ID = strawberry.field(
        name="from", resolver=_source_id, description="Global id of the buyer (or the capability)."
    )
    to: strawberry.ID = strawberry.field(
        resolver=_target_id, description="Global id of the supplier."
    )
    kind: SupplyEdgeKind = strawberry.field(description="The kind of link.")
    tier: int = strawberry.field(description="The buyer's tier + 1.")
    item: str | None = said("What is bought; null when withheld.")
    share: float | None = said(
        "Share of the buyer's need (SOURCES_FROM), or the provider's share of the "
        "capability's released capacity (PROVIDES); null when withheld."
    )
    sole: bool | None = said("Whether this is the buyer's sole source; null when withheld.")
    capacity: float | None = said("PROVIDES only.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="The visible upstream supply tree, as nodes and edges.")
class SupplyChainGraph:
    root: SupplyNode = strawberry.field(
        description="The supplier or capability the tree starts from."
    )
    depth: int = strawberry.field(description="The depth used.")
    node_count: int = strawberry.field(resolver=_node_count, description="Nodes in the tree.")
    edge_count: int = strawberry.field(resolver=_edge_count, description="Edges in the tree.")
    nodes: list[SupplyNode] = strawberry.field(description="Every node, the root first.")
    edges: list[SupplyEdge] = strawberry.field(description="Every supply link.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        SupplyChainGraph | None,
        "The upstream supply tree of a supplier or capability as nodes and edges with "
        "tiers, for drawing. LIMIT_EXCEEDED past `maxNodes` visible nodes.",
    )
    async def supply_chain(
        self,
        info: Info[Context, None],
        start: RootArg,
        depth: Annotated[int, strawberry.argument(description="Supply links to follow.")] = 3,
        max_nodes: Annotated[
            int | None,
            strawberry.argument(
                description="Refuse past this many visible nodes (default: the server's)."
            ),
        ] = None,
    ) -> chain.ChainReport | None:
        type_name, key = root_of(start)
        return await analyse(
            info, lambda a, scope: a.supply_chain(scope, type_name, key, depth, max_nodes)
        )
