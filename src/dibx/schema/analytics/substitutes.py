"""The `substitutes` analysis: its result types and its root field."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.auth.principal import SUPPLY_CHAIN_READ
from dibx.schema.analytics.common import (
    MARKING,
    CapabilitySummary,
    RootArg,
    SupplierSummary,
    capability_summary,
    released,
    root_of,
    said,
    service,
    supplier_summary,
    withheld_map,
)
from dibx.schema.context import Context
from dibx.schema.scopes import root_field
from dibx.services.analytics import substitutes


@strawberry.type(description="A supplier that could substitute.")
class Substitute:
    withheld_: strawberry.Private[dict[str, str]] = withheld_map()
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
    root: strawberry.ID = strawberry.field(description="The supplier or capability asked about.")
    assumption: str = strawberry.field(description="The utilisation assumed for spare capacity.")
    groups: list[SubstituteGroup] = strawberry.field(
        description="One per capability: the one asked about, or each the supplier provides."
    )
    marking: str = strawberry.field(description=MARKING)


def _substitutes(r: substitutes.SubstitutesReport, root: strawberry.ID) -> SubstitutesReport:
    return SubstitutesReport(
        root=root,
        assumption=r.assumption,
        groups=[
            SubstituteGroup(
                capability=capability_summary(g.capability),
                candidates=[
                    Substitute(
                        rank=c.rank,
                        supplier=supplier_summary(c.supplier),
                        capacity=c.capacity,
                        spare_capacity=c.spare_capacity,
                        trl=c.trl,
                        marking=c.marking,
                        withheld_=dict(c.withheld),
                    )
                    for c in g.candidates
                ],
                marking=g.marking,
            )
            for g in r.groups
        ],
        marking=r.marking,
    )


@strawberry.type
class Query:
    @root_field(
        scope=SUPPLY_CHAIN_READ,
        description=(
            "Allied suppliers with spare capacity that provide a capability (or each "
            "capability a supplier provides), ranked."
        ),
    )
    async def substitutes(
        self,
        info: Info[Context, None],
        start: RootArg,
        first: Annotated[int, strawberry.argument(description="Candidates per capability.")] = 10,
    ) -> SubstitutesReport | None:
        type_name, key = root_of(start, "root")
        r = await service(info).substitutes(info.context.scope, type_name, key, first)
        return None if r is None else released(info, _substitutes(r, start))
