"""The directory's root fields: records by id or key, and filtered, sorted pages of them.

Each root field validates its input and runs one compiled read. The object, connection and
sort types come from the model (`dibx.schema.types`); the filters that are more than a
field's equality (nations, agreements, capabilities) are written here.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from dibx.auth.principal import SUPPLIER_READ
from dibx.graph.cursors import viewer
from dibx.graph.reads import CapabilityFilter, Sort, SupplierFilter
from dibx.schema.connection import AFTER, BEFORE, FIRST, LAST
from dibx.schema.context import Context
from dibx.schema.ids import decode_id, lookup_key
from dibx.schema.scopes import root_field
from dibx.schema.selection import selections_of
from dibx.schema.types import ModelTypes, Node, SortDirection, returning, wrap
from dibx.services.directory import PageRequest

First = Annotated[int | None, strawberry.argument(description=FIRST)]
After = Annotated[str | None, strawberry.argument(description=AFTER)]
Last = Annotated[int | None, strawberry.argument(description=LAST)]
Before = Annotated[str | None, strawberry.argument(description=BEFORE)]
Code = Annotated[str, strawberry.argument(description="The code (case-insensitive).")]
ONE_OF = "Give `id` or `key`, not both."


def _id_arg(type_name: str) -> Any:
    return Annotated[
        strawberry.ID | None,
        strawberry.argument(description=f"The {type_name}'s global id. {ONE_OF}"),
    ]


def _key_arg(example: str) -> Any:
    return Annotated[
        str | None,
        strawberry.argument(
            description=f"The key users know it by (its `key` field), e.g. `{example}`. {ONE_OF}"
        ),
    ]


AS_OF = (
    "Read the data as it stood at this time (with its UTC offset): each record and link "
    "as it was then, released by today's rules to you. Absent: now. Records created later "
    "are absent, retired ones present until retired; a future time reads as now, a time "
    "before 1970 as 1970."
)
AsOf = Annotated[datetime.datetime | None, strawberry.argument(name="asOf", description=AS_OF)]


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
    area: str | None = strawberry.field(default=None, description="The technology area, exactly.")
    name_contains: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the capability's name."
    )
    provided_in: list[str] | None = strawberry.field(
        default=None, description="Capabilities with a provider based in one of these nations."
    )


@strawberry.type(description="Who you are, as dibx resolves it for this request.")
class Viewer:
    subject: str = strawberry.field(description="The token's subject.")
    nation: str = strawberry.field(description="The nation you act for.")
    org: str | None = strawberry.field(description="Your organisation, if the token names one.")
    scopes: list[str] = strawberry.field(description="The scopes your token grants.")
    groups: list[str] = strawberry.field(
        description=(
            "Your nation, its agreements today and honoured attributes: "
            "what markings are checked against."
        )
    )
    policy_version: str = strawberry.field(description="The releasability policy in force.")


@dataclass(frozen=True, slots=True)
class Paging:
    first: int | None
    after: str | None
    last: int | None
    before: str | None
    default: int = 20  # the page size when neither first nor last is given


def _connection(field: str, **arguments: Any) -> str:
    """The connection a cursor is bound to: the root field, its filter and its sort."""
    return json.dumps([field, arguments], sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime.date):
        return value.isoformat()
    return vars(value)  # an input object: its fields


def _sorts(sort: list[Any] | None) -> tuple[Sort, ...]:
    return tuple(Sort(s.field.value, s.direction is SortDirection.DESC) for s in sort or [])


def directory_query(types: ModelTypes) -> type:
    """The directory's root fields over the object types of `types`."""
    nodes = types.nodes
    # Not the root fields' own names: a class body does not see an enclosing scope's name
    # that it assigns itself.
    supplier_t, capability_t = nodes["Supplier"], nodes["Capability"]
    nation_t, agreement_t = nodes["Nation"], nodes["Agreement"]

    async def one(
        info: Info[Context, None], type_name: str, key: str, at: datetime.datetime | None = None
    ) -> Any:
        ctx = info.context
        item = await ctx.directory.get(
            ctx.scope, type_name, key, selections_of(info._raw_info, type_name), at
        )
        return None if item is None else wrap(info, nodes[type_name], item)

    async def page(
        info: Info[Context, None], type_name: str, paging: Paging, bound: Any, **kw: Any
    ) -> Any:
        ctx = info.context
        selections = selections_of(info._raw_info)
        connection = _connection(info.field_name, **bound)
        asked = PageRequest(
            connection=connection,
            want_total=any(s.name == "totalCount" for s in selections),
            first=paging.first,
            after=paging.after,
            last=paging.last,
            before=paging.before,
        )
        found = await ctx.directory.page(
            ctx.scope, type_name, selections, asked, default=paging.default, **kw
        )
        sealer, caller = ctx.directory.cursors, viewer(ctx.scope)

        def cursor_of(at: tuple[Any, ...]) -> str:
            return sealer.seal(caller, connection, at)

        return types.page(info, type_name, found, cursor_of, (paging.before, paging.after))

    def sort_of(type_name: str) -> Any:
        """The `sort` argument: a list of the model-derived `<Type>Sort` inputs."""
        return Annotated[
            list[types.sorts[type_name]] | None,  # type: ignore[name-defined]
            strawberry.argument(description="Sort keys, in order; the key breaks ties."),
        ]

    @strawberry.type
    class DirectoryQuery:
        @root_field(
            scope=SUPPLIER_READ,
            description="Any object by its global id; null if absent or not visible to you.",
        )
        async def node(
            self,
            info: Info[Context, None],
            id: Annotated[strawberry.ID, strawberry.argument(description="A global id.")],
        ) -> Node | None:
            # Only `id`: Relay refetches through `node(id:)` and accepts no other argument;
            # `asOf` reads go through the typed lookups.
            type_name, key = decode_id(id)
            found: Node | None = await one(info, type_name, key)
            return found

        @root_field(
            scope=SUPPLIER_READ,
            description=(
                "A supplier by global id or by key; null if absent or not visible to you "
                "(the same answer either way)."
            ),
        )
        @returning(
            supplier_t | None,
            id=_id_arg("supplier"),
            key=_key_arg("sup.lm-aeronautics"),
            as_of=AsOf,
        )
        async def supplier(
            self, info: Info[Context, None], id: Any = None, key: Any = None, as_of: Any = None
        ) -> Any:
            return await one(info, "Supplier", lookup_key("Supplier", id, key), as_of)

        @root_field(scope=SUPPLIER_READ, description="Suppliers you may see, filtered and sorted.")
        @returning(types.connections["Supplier"], sort=sort_of("Supplier"))
        async def suppliers(
            self,
            info: Info[Context, None],
            first: First = None,
            after: After = None,
            filter: Annotated[
                SupplierFilterInput | None, strawberry.argument(description="Conditions.")
            ] = None,
            sort: Any = None,
            last: Last = None,
            before: Before = None,
            as_of: AsOf = None,
        ) -> Any:
            f = filter or SupplierFilterInput()
            capability_key = (
                decode_id(f.capability, expected="Capability", field="filter.capability")[1]
                if f.capability
                else None
            )
            supplier_filter = SupplierFilter(
                nations=tuple(f.nations) if f.nations is not None else None,
                agreement=f.agreement,
                as_of=f.as_of,
                capability=capability_key,
                name_contains=f.name_contains,
            )
            return await page(
                info,
                "Supplier",
                Paging(first, after, last, before),
                {"filter": filter, "sort": sort},
                sorts=_sorts(sort),
                supplier_filter=supplier_filter,
                at=as_of,
            )

        @root_field(
            scope=SUPPLIER_READ,
            description=(
                "A capability by global id or by key; null if absent or not visible to you "
                "(the same answer either way)."
            ),
        )
        @returning(
            capability_t | None,
            id=_id_arg("capability"),
            key=_key_arg("cap.re-magnets"),
            as_of=AsOf,
        )
        async def capability(
            self, info: Info[Context, None], id: Any = None, key: Any = None, as_of: Any = None
        ) -> Any:
            return await one(info, "Capability", lookup_key("Capability", id, key), as_of)

        @root_field(
            scope=SUPPLIER_READ, description="Capabilities you may see, filtered and sorted."
        )
        @returning(types.connections["Capability"], sort=sort_of("Capability"))
        async def capabilities(
            self,
            info: Info[Context, None],
            first: First = None,
            after: After = None,
            filter: Annotated[
                CapabilityFilterInput | None, strawberry.argument(description="Conditions.")
            ] = None,
            sort: Any = None,
            last: Last = None,
            before: Before = None,
            as_of: AsOf = None,
        ) -> Any:
            f = filter or CapabilityFilterInput()
            return await page(
                info,
                "Capability",
                Paging(first, after, last, before),
                {"filter": filter, "sort": sort},
                sorts=_sorts(sort),
                capability_filter=CapabilityFilter(
                    area=f.area,
                    name_contains=f.name_contains,
                    provided_in=tuple(f.provided_in) if f.provided_in is not None else None,
                ),
                at=as_of,
            )

        @root_field(scope=SUPPLIER_READ, description="A nation by ISO 3166-1 alpha-3 code.")
        @returning(nation_t | None)
        async def nation(self, info: Info[Context, None], code: Code, as_of: AsOf = None) -> Any:
            return await one(info, "Nation", code.upper(), as_of)

        @root_field(
            scope=SUPPLIER_READ, description="Nations, optionally only those with the given codes."
        )
        @returning(types.connections["Nation"])
        async def nations(
            self,
            info: Info[Context, None],
            first: First = None,
            after: After = None,
            codes: Annotated[
                list[str] | None, strawberry.argument(description="ISO 3166-1 alpha-3 codes.")
            ] = None,
            last: Last = None,
            before: Before = None,
            as_of: AsOf = None,
        ) -> Any:
            codes_ = tuple(c.upper() for c in codes) if codes else None
            paging = Paging(first, after, last, before, default=50)
            return await page(
                info, "Nation", paging, {"codes": codes_}, nation_codes=codes_, at=as_of
            )

        @root_field(
            scope=SUPPLIER_READ,
            description="An agreement by code, e.g. NTIB, AUKUS, RDP_MOU, NATO, SOSA.",
        )
        @returning(agreement_t | None)
        async def agreement(self, info: Info[Context, None], code: Code) -> Any:
            return await one(info, "Agreement", code.upper())

        @root_field(scope=SUPPLIER_READ, description="Agreements, arrangements and designations.")
        @returning(types.connections["Agreement"])
        async def agreements(
            self,
            info: Info[Context, None],
            first: First = None,
            after: After = None,
            last: Last = None,
            before: Before = None,
        ) -> Any:
            paging = Paging(first, after, last, before, default=50)
            return await page(info, "Agreement", paging, {})

        @root_field(
            scope=SUPPLIER_READ,
            description="Who you are as dibx sees it, and the groups your access rests on.",
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

    return DirectoryQuery
