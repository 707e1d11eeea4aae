"""What every analysis shares: summaries of suppliers and capabilities, saying withheld,
global ids, the root-field arguments and the run of an analysis.

The resolvers return the service's result dataclasses as they are: strawberry reads an
object type's fields by attribute (no interface, no `is_type_of`), and enum fields accept
the service's strings because each enum value is its name. Fields the service shape lacks
(global ids, counts) are resolvers on the strawberry type reading the dataclass.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, TypeVar

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from dibx.auth.principal import SUPPLY_CHAIN_READ
from dibx.auth.release import ReleaseScope
from dibx.errors import Invalid
from dibx.schema.context import Context
from dibx.schema.fields import withhold
from dibx.schema.ids import decode_id, encode_id
from dibx.schema.scopes import F, root_field
from dibx.services.analytics import Analytics
from dibx.services.analytics.common import CapabilityRef, SupplierRef

MARKING = "Combined marking of every record, edge and field this figure was derived from."
NAME = "Null when withheld from you."
ROOT = "The supplier or capability asked about."

# The service names a node's kind in upper case (SUPPLIER, CAPABILITY), the id its type.
_TYPE_NAME = {"SUPPLIER": "Supplier", "CAPABILITY": "Capability"}


def node_id(kind: str, key: str) -> strawberry.ID:
    """Global id of a supplier or capability; `kind` is its type name in any case."""
    return strawberry.ID(encode_id(_TYPE_NAME[kind.upper()], key))


class _SaysWithheld(FieldExtension):
    """A null result field whose input was withheld joins the response's withheld list, under
    the caller's path and aliases and the policy's disclosure rule, as a directory field does.
    The service result carries `withheld`: (result field's Python name, marking) pairs.
    """

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, Any], **kwargs: Any
    ) -> Any:
        value = next_(source, info, **kwargs)
        if value is None:
            withheld: dict[str, str] = dict(source.withheld)
            marking = withheld.get(info.python_name)
            if marking is not None:
                withhold(info, marking)
        return value


def said(description: str | None = None) -> Any:
    """A nullable result field that says when it is null because withheld."""
    return strawberry.field(description=description, extensions=[_SaysWithheld()])


def _supplier_id(root: SupplierRef) -> strawberry.ID:
    return node_id("Supplier", root.key)


def _capability_id(root: CapabilityRef) -> strawberry.ID:
    return node_id("Capability", root.key)


@strawberry.type(description="A supplier as an analysis used it.")
class SupplierSummary:
    id: strawberry.ID = strawberry.field(
        resolver=_supplier_id, description="Global id of the supplier."
    )
    key: str = strawberry.field(description="The supplier's key in dibx data.")
    name: str | None = said(NAME)
    nation: str | None = strawberry.field(
        description="Where it is based; null when that is withheld from you."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A capability as an analysis used it.")
class CapabilitySummary:
    id: strawberry.ID = strawberry.field(
        resolver=_capability_id, description="Global id of the capability."
    )
    key: str = strawberry.field(description="The capability's key in dibx data.")
    name: str | None = said(NAME)
    marking: str = strawberry.field(description=MARKING)


class _Rooted(Protocol):
    @property
    def root_kind(self) -> str: ...
    @property
    def root_key(self) -> str: ...


def _root_id(root: _Rooted) -> strawberry.ID:
    return node_id(root.root_kind, root.root_key)


def root_id_field() -> Any:
    """The `root` field of a report: the global id of the supplier or capability asked about."""
    return strawberry.field(resolver=_root_id, description=ROOT)


def analysis(result: Any, description: str) -> Callable[[F], F]:
    """An analysis root field: it needs `supply_chain:read`; its resolver returns the service's
    result, which the strawberry type `result` describes in the schema."""
    return root_field(scope=SUPPLY_CHAIN_READ, graphql_type=result, description=description)


class _Marked(Protocol):
    @property
    def marking(self) -> str: ...


R = TypeVar("R", bound=_Marked | None)


async def analyse(
    info: Info[Context, None], run: Callable[[Analytics, ReleaseScope], Awaitable[R]]
) -> R:
    """Runs an analysis under the request's limits and release scope. A result is a released
    portion: its marking joins the response banner."""
    ctx = info.context
    result = await run(ctx.services.analytics.with_limits(ctx.analytics), ctx.scope)
    if result is not None:
        ctx.disclosure.release(result.marking)
    return result


def root_of(value: strawberry.ID) -> tuple[str, str]:
    type_name, key = decode_id(value, field="root")
    if type_name not in ("Supplier", "Capability"):
        raise Invalid(f"is a {type_name} id, expected a Supplier or Capability id", field="root")
    return type_name, key


def capability_key(value: strawberry.ID) -> str:
    return decode_id(value, expected="Capability", field="capability")[1]


def depth_or_max(analytics: Analytics, depth: int | None) -> int:
    return analytics.limits.max_depth if depth is None else depth


# `root` is reserved in strawberry resolvers (the parent object): the Python name differs.
RootArg = Annotated[
    strawberry.ID,
    strawberry.argument(name="root", description="Global id of a Supplier or a Capability."),
]
CapabilityArg = Annotated[
    strawberry.ID, strawberry.argument(description="Global id of the capability.")
]
MaxDepthArg = Annotated[
    int | None,
    strawberry.argument(description="Supply links to follow (default: the server's maximum)."),
]
