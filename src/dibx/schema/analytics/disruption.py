"""The `disruption` analysis: its result types and its root field."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.schema.analytics.common import (
    MARKING,
    CapabilitySummary,
    SupplierSummary,
    analyse,
    analysis,
    said,
)
from dibx.schema.context import Context
from dibx.schema.ids import decode_id
from dibx.services.analytics import disruption as disruption_service


@strawberry.type(description="A remaining provider in an allied nation.")
class AlternativeProvider:
    supplier: SupplierSummary = strawberry.field(description="The provider.")
    capacity: float | None = said("Its capacity; null when withheld.")


@strawberry.type(description="What one capability loses.")
class CapabilityImpact:
    capability: CapabilitySummary = strawberry.field(description="The capability.")
    providers_before: int = strawberry.field(description="Providers before the knock-out.")
    providers_after: int = strawberry.field(description="Providers after it.")
    capacity_before: float = strawberry.field(description="Released capacity before.")
    capacity_after: float = strawberry.field(description="Released capacity after.")
    capacity_lost: float = strawberry.field(description="Released capacity lost.")
    capacity_lost_share: float | None = strawberry.field(
        description="Share of released capacity lost; null without capacity before."
    )
    capacity_unknown_removed: int = strawberry.field(
        description="Removed providers whose capacity is withheld from you."
    )
    lost_every_provider: bool = strawberry.field(description="Whether every provider is lost.")
    allied_alternatives: list[AlternativeProvider] = strawberry.field(
        description="Remaining providers in allied nations, by capacity."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A capability that requires, at some depth, a lost one.")
class ImpairedCapability:
    capability: CapabilitySummary = strawberry.field(description="The capability.")
    lost_inputs: list[str] = strawberry.field(
        description="Keys of the lost capabilities it requires."
    )
    tier: int = strawberry.field(description="REQUIRES links to the nearest lost input.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="Knock-out of nations and suppliers, then what remains reachable.")
class DisruptionReport:
    removed_nations: list[str] = strawberry.field(description="The nations knocked out.")
    removed_suppliers: list[SupplierSummary] = strawberry.field(
        description="The named suppliers you may see (others are ignored, as if absent)."
    )
    capabilities: list[CapabilityImpact] = strawberry.field(
        description="Capabilities that lose providers or capacity."
    )
    lost: list[CapabilitySummary] = strawberry.field(
        description="Capabilities left with no provider."
    )
    impaired: list[ImpairedCapability] = strawberry.field(
        description="Capabilities requiring a lost one."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        DisruptionReport,
        "What is lost if nations or suppliers drop out: capabilities that lose every "
        "provider or some capacity, remaining allied providers, and capabilities that "
        "require a lost one (to `depth` REQUIRES links).",
    )
    async def disruption(
        self,
        info: Info[Context, None],
        remove_nations: Annotated[
            list[str] | None,
            strawberry.argument(description="ISO 3166-1 alpha-3 codes of nations to knock out."),
        ] = None,
        remove_suppliers: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Global ids of suppliers to knock out."),
        ] = None,
        depth: Annotated[
            int,
            strawberry.argument(description="REQUIRES links to follow to impaired capabilities."),
        ] = 3,
        first: Annotated[
            int, strawberry.argument(description="Allied alternatives listed per capability.")
        ] = 10,
    ) -> disruption_service.DisruptionReport:
        keys = [
            decode_id(s, expected="Supplier", field="removeSuppliers")[1]
            for s in remove_suppliers or []
        ]
        nations = remove_nations or []
        return await analyse(
            info,
            lambda a, scope: a.disruption(
                scope, nations=nations, suppliers=keys, depth=depth, first=first
            ),
        )
