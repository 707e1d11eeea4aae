"""Resolvers that hand out marked values and record what was released or withheld."""

from typing import Any, Optional, Protocol

import strawberry
from graphql.pyutils import Path
from strawberry.types import Info

from dibx.graph.rows import EdgeRow, NodeRow, Released, Withheld
from dibx.schema.context import Context
from dibx.schema.direct import direct
from dibx.schema.selection import path_of, path_text
from dibx.schema.written import Writes, writes


@strawberry.type(description="The marking of one field and whether this response released it.")
class FieldMarking:
    field: str = strawberry.field(description="The field's name.")
    marking: str | None = strawberry.field(
        description="Null when the policy conceals this marking from callers it withholds from."
    )
    released: bool = strawberry.field(
        description="Whether this response released the field's value to you."
    )


class Record(Protocol):
    """A node or edge object: it wraps a row of a compiled query (`dibx.graph.rows`)."""

    _row: NodeRow | EdgeRow


# A field the query did not fetch is withheld, and says no marking (deny by default).
_NOT_FETCHED = Withheld(None)


def withhold(info: Info[Context, Any], marking: str | None) -> None:
    """Say that the field being resolved is null because withheld (if the policy lets the
    marking be disclosed), under the caller's own path and aliases."""
    if info.context.policy.discloses(marking or "UNMARKED"):
        info.context.disclosure.withhold(path_of(info._raw_info), marking)


def release(root: Record, info: Info[Context, None], name: str) -> Any:
    return release_value(root, info.context, name, info._raw_info.path)


def release_value(root: Record, context: Context, name: str, path: Path) -> Any:
    """The field's value if released (its marking joins the banner), else null (said in
    `withheld` under `path`, the caller's own path and aliases)."""
    try:
        entry = root._row.fields[name]
    except KeyError:
        entry = _NOT_FETCHED
    if isinstance(entry, Released):
        context.disclosure.release(entry.marking)
        return entry.value
    if context.policy.discloses(entry.marking or "UNMARKED"):
        context.disclosure.withhold(path_text(path), entry.marking)
    return None


def marked(name: str, kind: Any, description: str) -> Any:
    """A nullable field whose value is released per its marking (null when withheld)."""

    def resolve(root: Record, info: Info[Context, None]) -> Any:
        return release(root, info, name)

    def resolve_direct(root: Record, context: Context, _: Any, __: str, path: Path) -> Any:
        return release_value(root, context, name, path)

    resolve.__annotations__["return"] = Optional[kind]  # noqa: UP045 - built at run time
    return strawberry.field(
        resolver=resolve,
        name=name,
        description=description,
        metadata={**direct(resolve_direct), **writes(Writes.VALUE, name)},
    )


def record_marking(root: Record) -> str:
    return root._row.marking


def field_markings(root: Record, info: Info[Context, None]) -> list[FieldMarking]:
    return field_markings_for(root, info.context)


def field_markings_for(root: Record, context: Context) -> list[FieldMarking]:
    policy = context.policy
    result = []
    for mark in root._row.field_markings:
        shown = (
            mark.marking if mark.released or policy.discloses(mark.marking or "UNMARKED") else None
        )
        result.append(FieldMarking(field=mark.field, marking=shown, released=mark.released))
    return result
