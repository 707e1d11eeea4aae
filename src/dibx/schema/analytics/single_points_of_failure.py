"""The `singlePointsOfFailure` analysis: its result types and its root field."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.schema.analytics.common import (
    MARKING,
    MaxDepthArg,
    RootArg,
    SupplierSummary,
    analyse,
    analysis,
    depth_or_max,
    node_id,
    root_id_field,
    root_of,
)
from dibx.schema.context import Context
from dibx.schema.ids import decode_id
from dibx.services.analytics import dominators

METHOD = (
    "Immediate dominators (networkx) of the visible supply graph from a virtual root, to the "
    "target or to a virtual sink joined to every input; nations by removal and reachability."
)


def _target_id(root: dominators.FailureReport) -> strawberry.ID | None:
    return None if root.target is None else node_id("Supplier", root.target)


def _method() -> str:
    return METHOD


@strawberry.type(description="A supplier whose loss cuts supply paths.")
class PointOfFailure:
    supplier: SupplierSummary = strawberry.field(description="The supplier.")
    tier: int = strawberry.field(description="Supply links from the root.")
    dominates: int = strawberry.field(
        description="Suppliers all of whose supply paths from the root pass through this one."
    )


@strawberry.type(description="Dominators of the visible supply graph under a root.")
class SinglePointsOfFailureReport:
    root: strawberry.ID = root_id_field()
    target: strawberry.ID | None = strawberry.field(
        resolver=_target_id, description="The supplier asked about, if any."
    )
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
    method: str = strawberry.field(resolver=_method, description="How the answer was computed.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        SinglePointsOfFailureReport | None,
        "Suppliers and nations on every supply path from a supplier or capability to its "
        "inputs (or to `target`): dominators of the visible supply graph.",
    )
    async def single_points_of_failure(
        self,
        info: Info[Context, None],
        start: RootArg,
        target: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Global id of a supplier upstream to cut off."),
        ] = None,
        depth: MaxDepthArg = None,
    ) -> dominators.FailureReport | None:
        type_name, key = root_of(start)
        goal = decode_id(target, expected="Supplier", field="target")[1] if target else None
        return await analyse(
            info,
            lambda a, scope: a.single_points_of_failure(
                scope, type_name, key, goal, depth_or_max(a, depth)
            ),
        )
