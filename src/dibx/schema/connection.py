"""One connection for every list: `Connection[E, N]` with edges `E` and nodes `N`.

Root lists page with cursors (`Edge[N]`: a cursor and a node); a relation's list hands out
its edge type (`Offer`, `SupplyLink`, ...: the relationship's fields and the node at its
other end). Both, and the challenge list, are this one generic type; `Names` gives each
specialization the name clients have always seen (`SupplierConnection`, `OfferConnection`).

Records are wrapped (and their markings released into the banner) only when the caller
selects them: `Rows` holds the functions that build edges and nodes from the request's
context, not the objects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from strawberry.schema.name_converter import NameConverter
from strawberry.types.base import StrawberryObjectDefinition, StrawberryType
from strawberry.types.info import Info

from dibx.schema.direct import direct
from dibx.schema.scopes import resolver
from dibx.schema.written import Writes, writes

E = TypeVar("E")
N = TypeVar("N")

TOTAL = "How many you may see in all (never counts hidden records)."
PAGE_INFO = (
    "Where this page starts and ends, and whether records you may see lie beyond either end "
    "(also for `first: 0` or `last: 0`)."
)
FIRST = "How many to return from the start, or after `after` (at most the server's page size)."
AFTER = "Read on after this cursor (an `endCursor` or an edge's `cursor` of this list)."
LAST = "How many to return from the end, or before `before` (at most the server's page size)."
BEFORE = "Read back before this cursor (a `startCursor` or an edge's `cursor` of this list)."


@strawberry.type(description="Where a page starts and ends, and whether more lies beyond.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description=(
            "A record you may see follows this page. Paging back (`last`/`before`): whether "
            "one lies at or after `before`."
        )
    )
    has_previous_page: bool = strawberry.field(
        description=(
            "A record you may see precedes this page. Paging forward (`first`/`after`): "
            "whether one lies at or before `after`."
        )
    )
    start_cursor: str | None = strawberry.field(
        default=None,
        description=(
            "The cursor of the first edge (pass it as `before`); on an empty page, the "
            "`before` it was asked with."
        ),
    )
    end_cursor: str | None = strawberry.field(
        default=None,
        description=(
            "The cursor of the last edge (pass it as `after`); on an empty page, the `after` "
            "it was asked with (so paging on never starts over)."
        ),
    )


@dataclass(frozen=True, slots=True)
class Rows:
    """A page as fetched: how to build its edges and nodes when selected, and its ends."""

    edges: Callable[[Any], list[Any]]  # given the request's context
    nodes: Callable[[Any], list[Any]]
    has_next: bool
    has_previous: bool = False
    # The first and last edge's cursors, sealed only when pageInfo asks for them.
    cursors: Callable[[], tuple[str | None, str | None]] = lambda: (None, None)
    total: int | None = None  # None: totalCount was not selected, so not counted


@strawberry.type(description="A page of a list: the records you may see, the total and the end.")
class Connection(Generic[E, N]):
    rows: strawberry.Private[Rows]

    @resolver(TOTAL, metadata=writes(Writes.TOTAL))
    def total_count(self) -> int:
        if self.rows.total is None:  # the compiler counts only when totalCount is selected
            raise RuntimeError("totalCount was not fetched")
        return self.rows.total

    @resolver(
        "The records of this page, each with how it is reached.",
        metadata={
            **direct(lambda root, context, *_: root.rows.edges(context)),
            **writes(Writes.EDGES),
        },
    )
    def edges(self, info: Info[Any, Any]) -> list[E]:
        return self.rows.edges(info.context)

    @resolver(
        "The records of this page.",
        metadata={
            **direct(lambda root, context, *_: root.rows.nodes(context)),
            **writes(Writes.NODES),
        },
    )
    def nodes(self, info: Info[Any, Any]) -> list[N]:
        return self.rows.nodes(info.context)

    @resolver(PAGE_INFO, metadata=writes(Writes.PAGE_INFO))
    def page_info(self) -> PageInfo:
        start, end = self.rows.cursors()
        return PageInfo(
            has_next_page=self.rows.has_next,
            has_previous_page=self.rows.has_previous,
            start_cursor=start,
            end_cursor=end,
        )


@strawberry.type(description="One record of a page and its cursor.")
class Edge(Generic[N]):
    position: strawberry.Private[Callable[[], str]]  # seals the cursor, if it is selected
    build: strawberry.Private[Callable[[Any], N]]  # given the request's context

    @resolver(
        "This record's place in the list (for `after` or `before`): opaque.",
        metadata=writes(Writes.CURSOR),
    )
    def cursor(self) -> str:
        return self.position()

    @resolver(
        "The record.",
        metadata={**direct(lambda root, context, *_: root.build(context)), **writes(Writes.NODE)},
    )
    def node(self, info: Info[Any, Any]) -> N:
        return self.build(info.context)


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
