"""Root query fields: each one validates its input and runs one compiled read."""

import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.types import Info

from dibx.graph.reads import CapabilityFilter, Page, Sort, SortField, SupplierFilter
from dibx.schema.analytics import AnalyticsQuery
from dibx.schema.challenges import ChallengeQuery
from dibx.schema.context import Context
from dibx.schema.ids import decode_cursor, decode_id, encode_cursor
from dibx.schema.selection import selections_of
from dibx.schema.types import Agreement, Capability, Nation, Node, PageInfo, Supplier
from dibx.services.directory import PageRequest


@strawberry.enum
class SortDirection(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.enum
class SupplierSortField(Enum):
    KEY = "key"
    NAME = "name"
    EMPLOYEES = "employees"


@strawberry.enum
class CapabilitySortField(Enum):
    KEY = "key"
    NAME = "name"
    AREA = "area"


@strawberry.input(description="Sort order; a field withheld from you sorts as null (last).")
class SupplierSort:
    field: SupplierSortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="Sort order; a field withheld from you sorts as null (last).")
class CapabilitySort:
    field: CapabilitySortField
    direction: SortDirection = SortDirection.ASC


@strawberry.input(description="All given conditions must hold. Withheld fields never match.")
class SupplierFilterInput:
    nations: list[str] | None = strawberry.field(
        default=None, description="ISO 3166-1 alpha-3 codes of the nations suppliers are based in."
    )
    agreement: str | None = strawberry.field(
        default=None, description="Suppliers based in a member nation of this agreement."
    )
    as_of: datetime.date | None = strawberry.field(
        default=None, description="Date for `agreement` membership (default today)."
    )
    capability: strawberry.ID | None = strawberry.field(
        default=None, description="Suppliers that provide this capability (global id)."
    )
    name_contains: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the supplier's name."
    )


@strawberry.input(description="All given conditions must hold. Withheld fields never match.")
class CapabilityFilterInput:
    area: str | None = None
    name_contains: str | None = None
    provided_in: list[str] | None = strawberry.field(
        default=None, description="Capabilities with a provider based in one of these nations."
    )


def _edge_type(name: str, node: Any) -> Any:
    def resolve_node(root: Any, info: Info[Context, None]) -> Any:
        info.context.disclosure.release(root._item.get("__m"))
        return node(_d=root._item)

    resolve_node.__annotations__["return"] = node
    ns: dict[str, Any] = {
        "__annotations__": {
            "cursor": str,
            "_item": strawberry.Private[dict[str, Any]],
        },
        "node": strawberry.field(resolver=resolve_node),
    }
    return strawberry.type(type(name, (), ns))


SupplierEdge = _edge_type("SupplierEdge", Supplier)
CapabilityEdge = _edge_type("CapabilityEdge", Capability)
NationEdge = _edge_type("NationEdge", Nation)
AgreementEdge = _edge_type("AgreementEdge", Agreement)


def _connection_type(name: str, edge: Any, node: Any) -> Any:
    def total_count(root: Any) -> int:
        return int(root._page.total or 0)

    def edges(root: Any) -> Any:
        start = root._page.offset
        return [
            edge(cursor=encode_cursor(start + i), _item=item)
            for i, item in enumerate(root._page.items)
        ]

    def nodes(root: Any, info: Info[Context, None]) -> Any:
        out = []
        for item in root._page.items:
            info.context.disclosure.release(item.get("__m"))
            out.append(node(_d=item))
        return out

    def page_info(root: Any) -> PageInfo:
        # An empty page ends where it started: its endCursor is the `after` it was given
        # (null at the start), so paging on from endCursor never starts over.
        page = root._page
        end = page.offset + len(page.items)
        return PageInfo(
            has_next_page=page.has_next, end_cursor=encode_cursor(end - 1) if end > 0 else None
        )

    edges.__annotations__["return"] = list[edge]
    nodes.__annotations__["return"] = list[node]
    ns: dict[str, Any] = {
        "__annotations__": {"_page": strawberry.Private[Page]},
        "total_count": strawberry.field(
            resolver=total_count,
            description="How many you may see in all (never counts hidden records).",
        ),
        "edges": strawberry.field(resolver=edges),
        "nodes": strawberry.field(resolver=nodes),
        "page_info": strawberry.field(
            resolver=page_info,
            description=(
                "hasNextPage: a record you may see follows this page (also for `first: 0`). "
                "endCursor: the cursor of the last edge; on an empty page, the `after` "
                "it was asked with (null at the start)."
            ),
        ),
    }
    return strawberry.type(type(name, (), ns))


SupplierConnection = _connection_type("SupplierConnection", SupplierEdge, Supplier)
CapabilityConnection = _connection_type("CapabilityConnection", CapabilityEdge, Capability)
NationConnection = _connection_type("NationConnection", NationEdge, Nation)
AgreementConnection = _connection_type("AgreementConnection", AgreementEdge, Agreement)


def _page(info: Info[Context, None], first: int, after: str | None) -> PageRequest:
    want_total = any(s.name == "totalCount" for s in selections_of(info._raw_info))
    return PageRequest(first=first, offset=decode_cursor(after), want_total=want_total)


def _sorts(sort: list[Any] | None) -> tuple[Sort, ...]:
    return tuple(
        Sort(SortField(s.field.value), s.direction is SortDirection.DESC) for s in sort or []
    )


async def _one(info: Info[Context, None], type_name: str, key: str, cls: Any) -> Any:
    ctx = info.context
    item = await ctx.directory.get(
        ctx.scope, type_name, key, selections_of(info._raw_info, type_name)
    )
    if item is None:
        return None
    ctx.disclosure.release(item.get("__m"))
    return cls(_d=item)


_TYPES: dict[str, Any] = {
    "Supplier": Supplier,
    "Capability": Capability,
    "Nation": Nation,
    "Agreement": Agreement,
}


@strawberry.type(description="Who you are, as dibx resolves it for this request.")
class Viewer:
    subject: str
    nation: str
    org: str | None
    scopes: list[str]
    groups: list[str] = strawberry.field(
        description=(
            "Your nation, its agreements today and honoured attributes: "
            "what markings are checked against."
        )
    )
    policy_version: str


@strawberry.type
class Query(AnalyticsQuery, ChallengeQuery):
    @strawberry.field(
        description="Any object by its global id; null if absent or not visible to you."
    )
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        type_name, key = decode_id(id)
        result: Node | None = await _one(info, type_name, key, _TYPES[type_name])
        return result

    @strawberry.field(description="A supplier by global id; null if absent or not visible to you.")
    async def supplier(self, info: Info[Context, None], id: strawberry.ID) -> Supplier | None:
        _, key = decode_id(id, expected="Supplier")
        result: Supplier | None = await _one(info, "Supplier", key, Supplier)
        return result

    @strawberry.field(description="Suppliers you may see, filtered and sorted.")
    async def suppliers(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        filter: SupplierFilterInput | None = None,
        sort: list[SupplierSort] | None = None,
    ) -> SupplierConnection:
        ctx = info.context
        f = filter or SupplierFilterInput()
        capability = (
            decode_id(f.capability, expected="Capability", field="filter.capability")[1]
            if f.capability
            else None
        )
        supplier_filter = SupplierFilter(
            nations=tuple(f.nations) if f.nations is not None else None,
            agreement=f.agreement,
            as_of=f.as_of,
            capability=capability,
            name_contains=f.name_contains,
        )
        page = await ctx.directory.page(
            ctx.scope,
            "Supplier",
            selections_of(info._raw_info),
            _page(info, first, after),
            sorts=_sorts(sort),
            supplier_filter=supplier_filter,
        )
        return SupplierConnection(_page=page)

    @strawberry.field(
        description="A capability by global id; null if absent or not visible to you."
    )
    async def capability(self, info: Info[Context, None], id: strawberry.ID) -> Capability | None:
        _, key = decode_id(id, expected="Capability")
        result: Capability | None = await _one(info, "Capability", key, Capability)
        return result

    @strawberry.field(description="Capabilities you may see, filtered and sorted.")
    async def capabilities(
        self,
        info: Info[Context, None],
        first: int = 20,
        after: str | None = None,
        filter: CapabilityFilterInput | None = None,
        sort: list[CapabilitySort] | None = None,
    ) -> CapabilityConnection:
        ctx = info.context
        f = filter or CapabilityFilterInput()
        page = await ctx.directory.page(
            ctx.scope,
            "Capability",
            selections_of(info._raw_info),
            _page(info, first, after),
            sorts=_sorts(sort),
            capability_filter=CapabilityFilter(
                area=f.area,
                name_contains=f.name_contains,
                provided_in=tuple(f.provided_in) if f.provided_in is not None else None,
            ),
        )
        return CapabilityConnection(_page=page)

    @strawberry.field(description="A nation by ISO 3166-1 alpha-3 code.")
    async def nation(self, info: Info[Context, None], code: str) -> Nation | None:
        result: Nation | None = await _one(info, "Nation", code.upper(), Nation)
        return result

    @strawberry.field(description="Nations, optionally only those with the given codes.")
    async def nations(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        codes: list[str] | None = None,
    ) -> NationConnection:
        ctx = info.context
        page = await ctx.directory.page(
            ctx.scope,
            "Nation",
            selections_of(info._raw_info),
            _page(info, first, after),
            nation_codes=tuple(c.upper() for c in codes) if codes else None,
        )
        return NationConnection(_page=page)

    @strawberry.field(description="An agreement by code, e.g. NTIB, AUKUS, RDP_MOU, NATO, SOSA.")
    async def agreement(self, info: Info[Context, None], code: str) -> Agreement | None:
        result: Agreement | None = await _one(info, "Agreement", code.upper(), Agreement)
        return result

    @strawberry.field(description="Agreements, arrangements and designations.")
    async def agreements(
        self, info: Info[Context, None], first: int = 50, after: str | None = None
    ) -> AgreementConnection:
        ctx = info.context
        page = await ctx.directory.page(
            ctx.scope, "Agreement", selections_of(info._raw_info), _page(info, first, after)
        )
        return AgreementConnection(_page=page)

    @strawberry.field(
        description="Who you are as dibx sees it, and the groups your access rests on."
    )
    def viewer(self, info: Info[Context, None]) -> Viewer:
        ctx = info.context
        p = ctx.principal
        return Viewer(
            subject=p.subject,
            nation=p.nation,
            org=p.org,
            scopes=sorted(p.scopes),
            groups=sorted(ctx.scope.groups),
            policy_version=ctx.policy.version,
        )


__all__ = ["Query", "datetime"]
