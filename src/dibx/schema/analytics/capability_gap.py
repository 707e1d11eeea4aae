"""The `capabilityGap` analysis: its result types and its root field."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.schema.analytics.common import (
    MARKING,
    CapabilityArg,
    CapabilitySummary,
    SupplierSummary,
    analyse,
    analysis,
    capability_key,
)
from dibx.schema.context import Context
from dibx.services.analytics import gap


@strawberry.type(description="Providers of a capability based in one nation.")
class NationCoverage:
    nation: str | None = strawberry.field(description="Null: providers whose nation is withheld.")
    providers: int = strawberry.field(description="Providers based in the nation.")
    capacity: float | None = strawberry.field(
        description="Sum of the capacities released to you; null if none is."
    )
    capacity_unknown: int = strawberry.field(description="Providers whose capacity is withheld.")


@strawberry.type(description="Providers of a capability in the member nations of an agreement.")
class GroupCoverage:
    group: str = strawberry.field(description="The agreement code.")
    providers: int = strawberry.field(description="Providers based in its member nations.")
    capacity: float | None = strawberry.field(
        description="Their released capacity; null if none is released."
    )
    has_provider: bool = strawberry.field(description="Whether any member nation has a provider.")


@strawberry.type(description="Who provides one capability, and where the gaps are.")
class CapabilityCoverage:
    capability: CapabilitySummary = strawberry.field(description="The capability.")
    tier: int = strawberry.field(description="REQUIRES links from the capability asked about.")
    required_by: list[str] = strawberry.field(description="Keys of capabilities requiring it.")
    requires: list[str] = strawberry.field(description="Keys of the capabilities it requires.")
    providers: int = strawberry.field(description="Providers visible to you.")
    total_capacity: float | None = strawberry.field(
        description="Sum of the capacities released to you; null if none is."
    )
    capacity_unknown: int = strawberry.field(description="Providers whose capacity is withheld.")
    by_nation: list[NationCoverage] = strawberry.field(
        description="Providers and capacity per nation."
    )
    by_group: list[GroupCoverage] = strawberry.field(
        name="byAgreement", description="Providers and capacity per agreement group."
    )
    groups_without_provider: list[str] = strawberry.field(
        description="Agreements (NTIB, AUKUS, RDP_MOU, NATO, SOSA) with no member provider."
    )
    domestic_provider: bool = strawberry.field(description="A provider is based in your nation.")
    sole_source: SupplierSummary | None = strawberry.field(
        description="The only provider, when exactly one is visible to you."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A capability and everything it requires, to a depth.")
class CapabilityGapReport:
    capability: CapabilityCoverage = strawberry.field(description="The capability asked about.")
    inputs: list[CapabilityCoverage] = strawberry.field(
        description="Every capability it requires, to `depth`, nearest first."
    )
    sole_sourced: list[CapabilitySummary] = strawberry.field(
        description="Capabilities with exactly one provider visible to you."
    )
    without_provider: list[CapabilitySummary] = strawberry.field(
        description="Capabilities with no provider visible to you."
    )
    depth: int = strawberry.field(description="The REQUIRES depth used.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        CapabilityGapReport | None,
        "Providers of a capability and of everything it requires (REQUIRES, to `depth`), "
        "by nation and agreement; gaps and sole sources. Null if not visible to you.",
    )
    async def capability_gap(
        self,
        info: Info[Context, None],
        capability: CapabilityArg,
        depth: Annotated[int, strawberry.argument(description="REQUIRES links to follow.")] = 3,
    ) -> gap.GapReport | None:
        key = capability_key(capability)
        return await analyse(info, lambda a, scope: a.capability_gap(scope, key, depth))
