"""The `exposure` analysis: its result types and its root field."""

from __future__ import annotations

from enum import Enum
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
from dibx.schema.scopes import root_field
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
    root: strawberry.ID = strawberry.field(description="The supplier or capability asked about.")
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


def _exposure(r: exposure_service.ExposureReport, root: strawberry.ID) -> ExposureReport:
    return ExposureReport(
        root=root,
        nations_of_concern=list(r.nations_of_concern),
        depth=r.depth,
        reached=r.reached,
        nearest_tier=r.nearest_tier,
        max_share=r.max_share,
        path_count=r.path_count,
        nations=[
            NationExposure(
                nation=n.nation, paths=n.paths, nearest_tier=n.nearest_tier, max_share=n.max_share
            )
            for n in r.nations
        ],
        paths=[
            ExposurePath(
                suppliers=[supplier_summary(s) for s in p.suppliers],
                tier=p.tier,
                nation=p.nation,
                via=ExposureVia(p.via),
                share=p.share,
                owner=supplier_summary(p.owner) if p.owner else None,
                owner_chain=list(p.owner_chain),
                marking=p.marking,
            )
            for p in r.paths
        ],
        marking=r.marking,
    )


@strawberry.type
class Query:
    @root_field(
        scope=SUPPLY_CHAIN_READ,
        description=(
            "How many tiers down, along which paths and for what share a supply chain reaches "
            "nations of concern, by location or by majority ownership."
        ),
    )
    async def exposure(
        self,
        info: Info[Context, None],
        start: RootArg,
        depth: Annotated[
            int | None,
            strawberry.argument(
                description="Supply links to follow (default: the server's maximum)."
            ),
        ] = None,
        nations_of_concern: Annotated[
            list[str] | None,
            strawberry.argument(description="Default: the server's list (CHN, IRN, PRK, RUS)."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="Paths to list.")] = 50,
    ) -> ExposureReport | None:
        type_name, key = root_of(start, "root")
        levels = info.context.analytics.max_depth if depth is None else depth
        r = await service(info).exposure(
            info.context.scope, type_name, key, levels, nations_of_concern, first
        )
        return None if r is None else released(info, _exposure(r, start))
