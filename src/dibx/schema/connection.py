"""One connection for every list: `Connection[E, N]` with edges `E` and nodes `N`.

Root lists page with cursors (`Edge[N]`: a cursor and a node); a relation's list hands out
its edge type (`Offer`, `SupplyLink`, ...: the relationship's fields and the node at its
other end). Both, and the challenge list, are this one generic type; `Names` gives each
specialization the name clients have always seen (`SupplierConnection`, `OfferConnection`).

Records are wrapped (and their markings released into the banner) only when the caller
selects them: `Rows` holds the functions that build edges and nodes, not the objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryObjectDefinition, StrawberryType
from strawberry.types.info import Info

from dibx.schema.scopes import resolver

E = TypeVar("E")
N = TypeVar("N")

TOTAL = "How many you may see in all (never counts hidden records)."
PAGE_INFO = (
    "Where this page ends. hasNextPage: a record you may see follows it (also for `first: 0`). "
    "endCursor: the cursor of the last edge; on an empty page, the `after` it was asked "
    "with (null at the start)."
)


@strawberry.type(description="Where a page ends, and whether more follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="A record you may see follows this page.")
    end_cursor: str | None = strawberry.field(
        default=None, description="The cursor of the last edge (pass it as `after`)."
    )


@dataclass(frozen=True, slots=True)
class Rows:
    """A page as fetched: how to build its edges and nodes when selected, and its ends."""

    edges: Callable[[Info[Any, Any]], list[Any]]
    nodes: Callable[[Info[Any, Any]], list[Any]]
    has_next: bool
    end_cursor: str | None = None
    total: int | None = None  # None: totalCount was not selected, so not counted


@strawberry.type(description="A page of a list: the records you may see, the total and the end.")
class Connection(Generic[E, N]):
    rows: strawberry.Private[Rows]

    @resolver(TOTAL)
    def total_count(self) -> int:
        if self.rows.total is None:  # the compiler counts only when totalCount is selected
            raise RuntimeError("totalCount was not fetched")
        return self.rows.total

    @resolver("The records of this page, each with how it is reached.")
    def edges(self, info: Info[Any, Any]) -> list[E]:
        return self.rows.edges(info)

    @resolver("The records of this page.")
    def nodes(self, info: Info[Any, Any]) -> list[N]:
        return self.rows.nodes(info)

    @resolver(PAGE_INFO)
    def page_info(self) -> PageInfo:
        return PageInfo(has_next_page=self.rows.has_next, end_cursor=self.rows.end_cursor)


@strawberry.type(description="One record of a page and its cursor.")
class Edge(Generic[N]):
    cursor: str = strawberry.field(description="This record's place in the list (for `after`).")
    build: strawberry.Private[Callable[[Info[Any, Any]], N]]

    @resolver("The record.")
    def node(self, info: Info[Any, Any]) -> N:
        return self.build(info)


# Connection names clients know that are not `<edge type>Connection`.
_CONNECTION_NAMES = {"ProviderOffer": "ProviderConnection", "SupplyLink": "SupplyConnection"}


class Names(NameConverter):
    """`Connection[SupplierEdge, Supplier]` is `SupplierConnection`, `Connection[Offer,
    Capability]` is `OfferConnection`: named for its edges, as before the generic."""

    def from_generic(
        self, generic_type: StrawberryObjectDefinition, types: list[StrawberryType | type]
    ) -> str:
        generic = generic_type.concrete_of or generic_type
        if generic.origin is Connection:
            edge = self.get_name_from_type(types[0])
            if edge in _CONNECTION_NAMES:
                return _CONNECTION_NAMES[edge]
            return edge.removesuffix("Edge") + "Connection"
        return super().from_generic(generic_type, types)
