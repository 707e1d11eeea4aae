"""The `substitutes` analysis: its result types and its root field."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.schema.analytics.common import (
    MARKING,
    CapabilitySummary,
    RootArg,
    SupplierSummary,
    analyse,
    analysis,
    root_id_field,
    root_of,
    said,
)
from dibx.schema.context import Context
from dibx.services.analytics import substitutes as substitutes_service


@strawberry.type(description="A supplier that could substitute.")
class Substitute:
    rank: int = strawberry.field(description="1 for the best.")
    supplier: SupplierSummary = strawberry.field(description="The supplier.")
    capacity: float | None = said("Its capacity; null when withheld.")
    spare_capacity: float | None = said("Capacity x (1 - assumed utilisation); see `assumption`.")
    trl: int | None = said("Its technology readiness level; null when withheld.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="Substitutes for one capability.")
class SubstituteGroup:
    capability: CapabilitySummary = strawberry.field(description="The capability.")
    candidates: list[Substitute] = strawberry.field(description="Substitutes, best first.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="Allied suppliers that could substitute, ranked.")
class SubstitutesReport:
    root: strawberry.ID = root_id_field()
    assumption: str = strawberry.field(description="The utilisation assumed for spare capacity.")
    groups: list[SubstituteGroup] = strawberry.field(
        description="One per capability: the one asked about, or each the supplier provides."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        SubstitutesReport | None,
        "Allied suppliers with spare capacity that provide a capability (or each "
        "capability a supplier provides), ranked.",
    )
    async def substitutes(
        self,
        info: Info[Context, None],
        start: RootArg,
        first: Annotated[int, strawberry.argument(description="Candidates per capability.")] = 10,
    ) -> substitutes_service.SubstitutesReport | None:
        type_name, key = root_of(start)
        return await analyse(info, lambda a, scope: a.substitutes(scope, type_name, key, first))
