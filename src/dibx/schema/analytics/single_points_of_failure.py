"""The `singlePointsOfFailure` analysis: its result types and its root field."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.auth.principal import SUPPLY_CHAIN_READ
from dibx.schema.analytics.common import (
    MARKING,
    RootArg,
    SupplierSummary,
    released,
    root_of,
    service,
    supplier_summary,
)
from dibx.schema.context import Context
from dibx.schema.ids import decode_id
from dibx.schema.scopes import root_field
from dibx.services.analytics import dominators


@strawberry.type(description="A supplier whose loss cuts supply paths.")
class PointOfFailure:
    supplier: SupplierSummary = strawberry.field(description="The supplier.")
    tier: int = strawberry.field(description="Supply links from the root.")
    dominates: int = strawberry.field(
        description="Suppliers all of whose supply paths from the root pass through this one."
    )


@strawberry.type(description="Dominators of the visible supply graph under a root.")
class SinglePointsOfFailureReport:
    root: strawberry.ID = strawberry.field(description="The supplier or capability asked about.")
    target: strawberry.ID | None = strawberry.field(description="The supplier asked about, if any.")
    target_reachable: bool = strawberry.field(
        description="False when the target is not upstream of the root as far as you can see."
    )
    suppliers: list[PointOfFailure] = strawberry.field(
        description=(
            "Suppliers on every supply path from the root to the target (or to every input: "
            "a supplier with no visible supplier within the depth), nearest first."
        )
    )
    nations: list[str] = strawberry.field(
        description="Nations whose suppliers, removed together, cut every such path."
    )
    critical: list[PointOfFailure] = strawberry.field(
        description="Suppliers that dominate others, most dominated first (top 25)."
    )
    inputs: int = strawberry.field(
        description="Inputs (suppliers with no visible supplier) within the depth."
    )
    node_count: int = strawberry.field(description="Suppliers in the visible supply graph.")
    depth: int = strawberry.field(description="The depth used.")
    method: str = strawberry.field(description="How the answer was computed.")
    marking: str = strawberry.field(description=MARKING)


METHOD = (
    "Immediate dominators (networkx) of the visible supply graph from a virtual root, to the "
    "target or to a virtual sink joined to every input; nations by removal and reachability."
)


def _point(p: dominators.PointOfFailure) -> PointOfFailure:
    return PointOfFailure(supplier=supplier_summary(p.supplier), tier=p.tier, dominates=p.dominates)


@strawberry.type
class Query:
    @root_field(
        scope=SUPPLY_CHAIN_READ,
        description=(
            "Suppliers and nations on every supply path from a supplier or capability to its "
            "inputs (or to `target`): dominators of the visible supply graph."
        ),
    )
    async def single_points_of_failure(
        self,
        info: Info[Context, None],
        start: RootArg,
        target: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Global id of a supplier upstream to cut off."),
        ] = None,
        depth: Annotated[
            int | None,
            strawberry.argument(
                description="Supply links to follow (default: the server's maximum)."
            ),
        ] = None,
    ) -> SinglePointsOfFailureReport | None:
        type_name, key = root_of(start, "root")
        goal = decode_id(target, expected="Supplier", field="target")[1] if target else None
        levels = info.context.analytics.max_depth if depth is None else depth
        r = await service(info).single_points_of_failure(
            info.context.scope, type_name, key, goal, levels
        )
        if r is None:
            return None
        return released(
            info,
            SinglePointsOfFailureReport(
                root=start,
                target=target,
                target_reachable=r.target_reachable,
                suppliers=[_point(p) for p in r.suppliers],
                nations=list(r.nations),
                critical=[_point(p) for p in r.critical],
                inputs=r.inputs,
                node_count=r.node_count,
                depth=r.depth,
                method=METHOD,
                marking=r.marking,
            ),
        )
