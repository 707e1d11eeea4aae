"""The `concentration` analysis: its result types and its root field."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from dibx.schema.analytics.common import (
    MARKING,
    CapabilityArg,
    CapabilitySummary,
    analyse,
    analysis,
    capability_key,
)
from dibx.schema.context import Context
from dibx.services.analytics import concentration as concentration_service


@strawberry.enum(description="Concentration bands of the HHI (US merger guidelines).")
class ConcentrationLevel(Enum):
    UNCONCENTRATED = strawberry.enum_value("UNCONCENTRATED", description="HHI below 1,500.")
    MODERATELY_CONCENTRATED = strawberry.enum_value(
        "MODERATELY_CONCENTRATED", description="HHI from 1,500 to 2,500."
    )
    HIGHLY_CONCENTRATED = strawberry.enum_value(
        "HIGHLY_CONCENTRATED", description="HHI above 2,500."
    )


@strawberry.type(description="Released capacity of a capability's providers in one nation.")
class NationCapacityShare:
    nation: str | None = strawberry.field(description="Null: providers whose nation is withheld.")
    providers: int = strawberry.field(description="Providers based in the nation.")
    capacity: float | None = strawberry.field(description="Null when none is released to you.")
    capacity_unknown: int = strawberry.field(description="Providers whose capacity is withheld.")
    share: float | None = strawberry.field(description="Of the capacity whose nation you see.")


@strawberry.type(description="Released capacity in the member nations of an agreement.")
class GroupCapacityShare:
    group: str = strawberry.field(description="The agreement code.")
    capacity: float = strawberry.field(description="Released capacity in its member nations.")
    share: float | None = strawberry.field(
        description="Of all released capacity; a lower bound when some nations are withheld."
    )


@strawberry.type(description="Herfindahl-Hirschman index (0-10,000) of released capacity.")
class ConcentrationReport:
    capability: CapabilitySummary = strawberry.field(description="The capability.")
    providers: int = strawberry.field(description="Providers visible to you.")
    providers_counted: int = strawberry.field(description="Providers whose capacity you see.")
    capacity_unknown: int = strawberry.field(description="Providers whose capacity is withheld.")
    total_capacity: float = strawberry.field(description="Released capacity in all.")
    capacity_unknown_nation: float = strawberry.field(
        description="Released capacity whose provider's nation is withheld."
    )
    hhi_by_nation: float | None = strawberry.field(
        description="HHI of capacity by nation; null without released capacity."
    )
    hhi_by_supplier: float | None = strawberry.field(
        description="HHI of capacity by supplier; null without released capacity."
    )
    level_by_nation: ConcentrationLevel | None = strawberry.field(
        description="The concentration level of `hhiByNation`."
    )
    level_by_supplier: ConcentrationLevel | None = strawberry.field(
        description="The concentration level of `hhiBySupplier`."
    )
    by_nation: list[NationCapacityShare] = strawberry.field(
        description="Capacity and share per nation."
    )
    allied: list[GroupCapacityShare] = strawberry.field(
        description="Share held in member nations of NTIB, AUKUS, RDP_MOU, NATO, SOSA today."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        ConcentrationReport | None,
        "Herfindahl-Hirschman index of a capability's released capacity by nation and by "
        "supplier, and the share held in allied groups today.",
    )
    async def concentration(
        self, info: Info[Context, None], capability: CapabilityArg
    ) -> concentration_service.ConcentrationReport | None:
        key = capability_key(capability)
        return await analyse(info, lambda a, scope: a.concentration(scope, key))
