"""Resolvers that hand out marked values and record what was released or withheld."""

from typing import Any, Optional, Protocol

import strawberry
from strawberry.types import Info

from dibx.graph.rows import EdgeRow, NodeRow, Released, Withheld
from dibx.schema.context import Context
from dibx.schema.selection import path_of


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
    try:
        entry = root._row.fields[name]
    except KeyError:
        entry = _NOT_FETCHED
    if isinstance(entry, Released):
        info.context.disclosure.release(entry.marking)
        return entry.value
    withhold(info, entry.marking)
    return None


def marked(name: str, kind: Any, description: str) -> Any:
    """A nullable field whose value is released per its marking (null when withheld)."""

    def resolve(root: Record, info: Info[Context, None]) -> Any:
        return release(root, info, name)

    resolve.__annotations__["return"] = Optional[kind]  # noqa: UP045 - built at run time
    return strawberry.field(resolver=resolve, name=name, description=description)


def record_marking(root: Record) -> str:
    return root._row.marking


def field_markings(root: Record, info: Info[Context, None]) -> list[FieldMarking]:
    policy = info.context.policy
    result = []
    for mark in root._row.field_markings:
        shown = (
            mark.marking if mark.released or policy.discloses(mark.marking or "UNMARKED") else None
        )
        result.append(FieldMarking(field=mark.field, marking=shown, released=mark.released))
    return result
