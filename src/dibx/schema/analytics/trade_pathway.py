"""The `tradePathway` analysis: its result types and its root field."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

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
from dibx.services.analytics import trade


@strawberry.enum(description="What an advisory trade check concluded.")
class TradeOutcome(Enum):
    EXEMPTION_MAY_APPLY = strawberry.enum_value(
        "EXEMPTION_MAY_APPLY", description="An exemption may cover the transfer."
    )
    LICENCE_REQUIRED = strawberry.enum_value(
        "LICENCE_REQUIRED", description="A licence is required."
    )
    UNDETERMINED = strawberry.enum_value(
        "UNDETERMINED", description="Withheld or missing attributes leave it open."
    )
    NOT_AN_EXPORT = strawberry.enum_value(
        "NOT_AN_EXPORT", description="The destination is the United States."
    )


@strawberry.type(description="A released attribute a trade outcome rests on.")
class TradeAttribute:
    name: str = strawberry.field(description="The attribute.")
    value: str = strawberry.field(description="Its value.")
    marking: str = strawberry.field(description="Its marking.")


@strawberry.type(description="Advisory only: whether an ITAR exemption could cover a transfer.")
class TradePathway:
    capability: CapabilitySummary = strawberry.field(description="The capability.")
    destination: str = strawberry.field(description="The destination nation.")
    outcome: TradeOutcome = strawberry.field(description="The advisory outcome.")
    exemption: str | None = strawberry.field(description="The exemption considered, if any.")
    reasons: list[str] = strawberry.field(description="Why, step by step.")
    relied_on: list[TradeAttribute] = strawberry.field(
        description="The released attributes the outcome rests on."
    )
    undetermined: list[str] = strawberry.field(
        description="Attributes the outcome needs that are withheld from you or not recorded."
    )
    advisory: bool = strawberry.field(
        description="Always true: this is not a licensing determination."
    )
    notice: str = strawberry.field(description="What this answer is and is not.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class Query:
    @analysis(
        TradePathway | None,
        "Advisory only: whether ITAR 126.7 (AUKUS) or 126.5 (Canada) could cover a "
        "transfer to `destination`, from the attributes released to you.",
    )
    async def trade_pathway(
        self,
        info: Info[Context, None],
        capability: CapabilityArg,
        destination: Annotated[
            str, strawberry.argument(description="ISO 3166-1 alpha-3 code of the receiving nation.")
        ],
    ) -> trade.TradePathway | None:
        key = capability_key(capability)
        discloses = info.context.policy.discloses
        return await analyse(
            info, lambda a, scope: a.trade_pathway(scope, key, destination, discloses)
        )
