"""The `tradePathway` analysis: its result types and its root field."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry.types import Info

from dibx.auth.principal import SUPPLY_CHAIN_READ
from dibx.schema.analytics.common import (
    MARKING,
    CapabilitySummary,
    capability_summary,
    released,
    service,
)
from dibx.schema.context import Context
from dibx.schema.ids import decode_id
from dibx.schema.scopes import root_field
from dibx.services.analytics import trade


@strawberry.enum
class TradeOutcome(Enum):
    EXEMPTION_MAY_APPLY = "EXEMPTION_MAY_APPLY"
    LICENCE_REQUIRED = "LICENCE_REQUIRED"
    UNDETERMINED = "UNDETERMINED"
    NOT_AN_EXPORT = "NOT_AN_EXPORT"


@strawberry.type
class TradeAttribute:
    name: str
    value: str
    marking: str


@strawberry.type(description="Advisory only: whether an ITAR exemption could cover a transfer.")
class TradePathway:
    capability: CapabilitySummary
    destination: str
    outcome: TradeOutcome
    exemption: str | None = strawberry.field(description="The exemption considered, if any.")
    reasons: list[str]
    relied_on: list[TradeAttribute] = strawberry.field(
        description="The released attributes the outcome rests on."
    )
    undetermined: list[str] = strawberry.field(
        description="Attributes the outcome needs that are withheld from you or not recorded."
    )
    advisory: bool
    notice: str
    marking: str = strawberry.field(description=MARKING)


def _trade(r: trade.TradePathway) -> TradePathway:
    return TradePathway(
        capability=capability_summary(r.capability),
        destination=r.destination,
        outcome=TradeOutcome(r.outcome),
        exemption=r.exemption,
        reasons=list(r.reasons),
        relied_on=[
            TradeAttribute(name=a.name, value=a.value, marking=a.marking) for a in r.relied_on
        ],
        undetermined=list(r.undetermined),
        advisory=r.advisory,
        notice=r.notice,
        marking=r.marking,
    )


@strawberry.type
class Query:
    @root_field(
        scope=SUPPLY_CHAIN_READ,
        description=(
            "Advisory only: whether ITAR 126.7 (AUKUS) or 126.5 (Canada) could cover a "
            "transfer to `destination`, from the attributes released to you."
        ),
    )
    async def trade_pathway(
        self, info: Info[Context, None], capability: strawberry.ID, destination: str
    ) -> TradePathway | None:
        _, key = decode_id(capability, expected="Capability", field="capability")
        ctx = info.context
        r = await service(info).trade_pathway(ctx.scope, key, destination, ctx.policy.discloses)
        return None if r is None else released(info, _trade(r))
