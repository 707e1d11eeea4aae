"""GraphQL surface of the change feed: the `changes` query (docs/changes.md).

The rules live in `dibx.services.changes`; this module turns arguments into its call and its
events into `Change` objects. Ids are the API's global ids; an edge names its two ends.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from dibx.auth.principal import SUPPLIER_READ
from dibx.errors import Invalid
from dibx.schema.context import Context
from dibx.schema.ids import decode_id, encode_id
from dibx.schema.scopes import root_field
from dibx.schema.stewardship import ChangeKind
from dibx.services import changes as feed

_KIND = {
    "CREATED": ChangeKind.CREATED,
    "UPDATED": ChangeKind.UPDATED,
    "RETIRED": ChangeKind.RETIRED,
}


@strawberry.enum(description="What kind of record or link changed.")
class ChangeType(Enum):
    SUPPLIER = strawberry.enum_value("Supplier", description="A supplier.")
    CAPABILITY = strawberry.enum_value("Capability", description="A capability.")
    PROVIDES = strawberry.enum_value("PROVIDES", description="A supplier's offer of a capability.")
    SOURCES_FROM = strawberry.enum_value("SOURCES_FROM", description="One tier of supply.")
    SUBSIDIARY_OF = strawberry.enum_value("SUBSIDIARY_OF", description="An ownership link.")
    REQUIRES = strawberry.enum_value("REQUIRES", description="What a capability is built from.")
    MEMBER_OF = strawberry.enum_value("MEMBER_OF", description="An agreement membership.")


@strawberry.input(description="Which changes to list (all given conditions hold).")
class ChangeFilter:
    ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Only changes of these records, or of links at one of them (global ids).",
    )
    kinds: list[ChangeKind] | None = strawberry.field(
        default=None, description="Only these kinds of change."
    )


@strawberry.type(description="A field of a changed record or link, as far as you may read it.")
class ChangedField:
    field: str = strawberry.field(description="The field (a supplier's `nation`: its code).")
    value: JSON | None = strawberry.field(
        description="The new value: null if it has none or it is withheld from you."
    )
    released: bool = strawberry.field(description="Whether the value is released to you.")
    marking: str | None = strawberry.field(description="Its marking.")


@strawberry.type(description="One change you may see, in commit order.")
class Change:
    cursor: str = strawberry.field(description="Read on after this change.")
    type: ChangeType = strawberry.field(description="What changed.")
    kind: ChangeKind = strawberry.field(
        description="CREATED: it became visible to you (made, or its marking widened); "
        "UPDATED: fields you may know of changed; RETIRED: it is gone for you (retired, "
        "removed, or its marking narrowed)."
    )
    id: strawberry.ID | None = strawberry.field(description="Global id of the record (records).")
    start: strawberry.ID | None = strawberry.field(
        description="Global id of the link's start (links)."
    )
    end: strawberry.ID | None = strawberry.field(description="Global id of the link's end (links).")
    marking: str | None = strawberry.field(
        description="The record's or link's marking after the change (null when RETIRED)."
    )
    fields: list[ChangedField] = strawberry.field(
        description="CREATED: every field; UPDATED: the fields that changed as far as you may "
        "know (a value withheld from you before and after, under the same marking, is not "
        "listed); RETIRED: none."
    )
    committed_at: datetime.datetime | None = strawberry.field(description="When it committed.")


@strawberry.type(description="A page of changes.")
class ChangePage:
    changes: list[Change] = strawberry.field(description="Oldest first.")
    end_cursor: str = strawberry.field(
        description="Read on after this page (also when it is empty): pass it as `after`."
    )
    has_next_page: bool = strawberry.field(
        description="More changes are waiting: read again at once."
    )


def _ids(raw: list[strawberry.ID] | None) -> list[str] | None:
    if raw is None:
        return None
    out = []
    for i, value in enumerate(raw):
        type_name, key = decode_id(str(value), field=f"filter.ids.{i}")
        out.append(f"{type_name}:{key}")
    return out


def _change(ctx: Context, e: feed.ChangeEvent) -> Change:
    if e.kind != "RETIRED":
        ctx.disclosure.release(e.marking)
    for f in e.fields:
        if f.released:
            ctx.disclosure.release(f.marking)
    return Change(
        cursor=e.cursor,
        type=ChangeType(e.type),
        kind=_KIND[e.kind],
        id=strawberry.ID(encode_id(e.type, e.key)) if e.key is not None else None,
        start=(
            strawberry.ID(encode_id(e.start_type, e.start))
            if e.start is not None and e.start_type is not None
            else None
        ),
        end=(
            strawberry.ID(encode_id(e.end_type, e.end))
            if e.end is not None and e.end_type is not None
            else None
        ),
        marking=e.marking,
        fields=[
            ChangedField(field=f.field, value=f.value, released=f.released, marking=f.marking)
            for f in e.fields
        ],
        committed_at=e.at,
    )


def _feed(ctx: Context) -> feed.ChangeFeed:
    if ctx.services.changes is None:
        raise Invalid("the change feed is not enabled on this server")
    return ctx.services.changes


@strawberry.type
class ChangesQuery:
    @root_field(
        scope=SUPPLIER_READ,
        description="Changes you may see, oldest first, after a cursor: records and links "
        "created, updated or retired, each field released to you as a read releases it. A "
        "change to something you may not see is not listed, and leaves no trace in cursors.",
    )
    async def changes(
        self,
        info: Info[Context, None],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="Read on after this cursor (omit: from the oldest change kept)."
            ),
        ] = None,
        first: Annotated[
            int | None,
            strawberry.argument(description="How many changes at most (the server's limit)."),
        ] = None,
        types: Annotated[
            list[ChangeType] | None,
            strawberry.argument(description="Only changes of these types."),
        ] = None,
        filter: Annotated[
            ChangeFilter | None, strawberry.argument(description="Only changes that match.")
        ] = None,
    ) -> ChangePage:
        ctx = info.context
        kinds = None
        ids = None
        if filter is not None:
            ids = _ids(filter.ids)
            if filter.kinds is not None:
                kinds = [k.name for k in filter.kinds]
        page = await _feed(ctx).read(
            ctx.scope,
            after=after,
            first=first,
            types=None if types is None else [str(t.value) for t in types],
            kinds=kinds,
            ids=ids,
            budget=ctx.budget,
        )
        return ChangePage(
            changes=[_change(ctx, e) for e in page.events],
            end_cursor=page.end_cursor,
            has_next_page=page.has_next_page,
        )


__all__ = ["Change", "ChangeFilter", "ChangePage", "ChangeType", "ChangesQuery"]
