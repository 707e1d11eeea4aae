"""What every analysis shares: summaries of suppliers and capabilities, saying withheld,
the root argument and the banner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Annotated, Any, Protocol, TypeVar

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from dibx.errors import Invalid
from dibx.schema.context import Context
from dibx.schema.fields import withhold
from dibx.schema.ids import decode_id, encode_id
from dibx.services.analytics import Analytics
from dibx.services.analytics.common import CapabilityRef, SupplierRef

MARKING = "Combined marking of every record, edge and field this figure was derived from."
NAME = "Null when withheld from you."


class _SaysWithheld(FieldExtension):
    """A null result field whose input was withheld joins the response's withheld list, under
    the caller's path and aliases and the policy's disclosure rule, as a directory field does.
    The object carries `withheld_`: result field (Python name) -> marking of what was withheld.
    """

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, Any], **kwargs: Any
    ) -> Any:
        value = next_(source, info, **kwargs)
        if value is None:
            marking = source.withheld_.get(info.python_name)
            if marking is not None:
                withhold(info, marking)
        return value


def said(description: str | None = None) -> Any:
    """A nullable result field that says when it is null because withheld."""
    return strawberry.field(description=description, extensions=[_SaysWithheld()])


def withheld_map() -> Any:
    return field(default_factory=dict)


@strawberry.type(description="A supplier as an analysis used it.")
class SupplierSummary:
    withheld_: strawberry.Private[dict[str, str]] = withheld_map()
    id: strawberry.ID = strawberry.field(description="Global id of the supplier.")
    key: str = strawberry.field(description="The supplier's key in dibx data.")
    name: str | None = said(NAME)
    nation: str | None = strawberry.field(
        description="Where it is based; null when that is withheld from you."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A capability as an analysis used it.")
class CapabilitySummary:
    withheld_: strawberry.Private[dict[str, str]] = withheld_map()
    id: strawberry.ID = strawberry.field(description="Global id of the capability.")
    key: str = strawberry.field(description="The capability's key in dibx data.")
    name: str | None = said(NAME)
    marking: str = strawberry.field(description=MARKING)


def supplier_summary(ref: SupplierRef) -> SupplierSummary:
    return SupplierSummary(
        id=strawberry.ID(encode_id("Supplier", ref.key)),
        key=ref.key,
        name=ref.name,
        nation=ref.nation,
        marking=ref.marking,
        withheld_=dict(ref.withheld),
    )


def capability_summary(ref: CapabilityRef) -> CapabilitySummary:
    return CapabilitySummary(
        id=strawberry.ID(encode_id("Capability", ref.key)),
        key=ref.key,
        name=ref.name,
        marking=ref.marking,
        withheld_=dict(ref.withheld),
    )


def service(info: Info[Context, None]) -> Analytics:
    ctx = info.context
    return ctx.services.analytics.with_limits(ctx.analytics)


def root_of(value: strawberry.ID, field: str) -> tuple[str, str]:
    type_name, key = decode_id(value, field=field)
    if type_name not in ("Supplier", "Capability"):
        raise Invalid(f"is a {type_name} id, expected a Supplier or Capability id", field=field)
    return type_name, key


class _Marked(Protocol):
    marking: str


R = TypeVar("R", bound=_Marked)


def released(info: Info[Context, None], result: R) -> R:
    # The derived result is a released portion: its marking joins the response banner.
    info.context.disclosure.release(result.marking)
    return result


# `root` is reserved in strawberry resolvers (the parent object): the Python name differs.
RootArg = Annotated[
    strawberry.ID,
    strawberry.argument(name="root", description="Global id of a Supplier or a Capability."),
]
