"""The `exposure` analysis: its result types and its root field."""

from __future__ import annotations

from enum import Enum
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
    root_id_field,
    root_of,
)
from dibx.schema.context import Context
from dibx.services.analytics import exposure as exposure_service


@strawberry.enum(description="How a path reaches a nation of concern.")
class ExposureVia(Enum):
    BASED_IN = strawberry.enum_value(
        "BASED_IN", description="A supplier of concern is based in the nation."
    )
    OWNERSHIP = strawberry.enum_value(
        "OWNERSHIP", description="A supplier's controlling owner is based in the nation."
    )


@strawberry.type(description="A supply path from the root to a supplier of concern.")
class ExposurePath:
    suppliers: list[SupplierSummary] = strawberry.field(
        description="From the root's first supplier down to the supplier of concern."
    )
    tier: int = strawberry.field(description="Tiers from the root.")
    nation: str = strawberry.field(description="The nation of concern reached.")
    via: ExposureVia = strawberry.field(description="How the nation is reached.")
    share: float | None = strawberry.field(
        description="Product of the shares along the path; null if any is withheld."
    )
    owner: SupplierSummary | None = strawberry.field(
        description="For OWNERSHIP: the controlling owner (majority chain)."
    )
    owner_chain: list[str] = strawberry.field(
        description="Keys of the owners from the supplier to the controlling owner."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="How a supply chain reaches one nation of concern.")
class NationExposure:
    nation: str = strawberry.field(description="The nation of concern.")
    paths: int = strawberry.field(description="Paths reaching it.")
    nearest_tier: int = strawberry.field(description="The fewest tiers to it.")
    max_share: float | None = strawberry.field(
        description="The highest path share to it; null if none is known."
    )


@strawberry.type(description="Where a supply chain reaches nations of concern.")
class ExposureReport:
    root: strawberry.ID = root_id_field()
    nations_of_concern: list[str] = strawberry.field(description="The nations of concern used.")
    depth: int = strawberry.field(description="The depth used.")
    reached: bool = strawberry.field(description="Whether any path reaches a nation of concern.")
    nearest_tier: int | None = strawberry.field(
        description="The fewest tiers to a nation of concern; null if none is reached."
    )
    max_share: float | None = strawberry.field(
        description="The highest path share; null if none is known."
    )
    path_count: int = strawberry.field(description="Paths found in all.")
    nations: list[NationExposure] = strawberry.field(description="Exposure per nation of concern.")
    paths: list[ExposurePath] = strawberry.field(
        description="The first paths by share (highest first), then tier."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        ExposureReport | None,
        "How many tiers down, along which paths and for what share a supply chain reaches "
        "nations of concern, by location or by majority ownership.",
    )
    async def exposure(
        self,
        info: Info[Context, None],
        start: RootArg,
        depth: MaxDepthArg = None,
        nations_of_concern: Annotated[
            list[str] | None,
            strawberry.argument(description="Default: the server's list (CHN, IRN, PRK, RUS)."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="Paths to list.")] = 50,
    ) -> exposure_service.ExposureReport | None:
        type_name, key = root_of(start)
        return await analyse(
            info,
            lambda a, scope: a.exposure(
                scope, type_name, key, depth_or_max(a, depth), nations_of_concern, first
            ),
        )
