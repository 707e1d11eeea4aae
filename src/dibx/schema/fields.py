"""Resolvers that hand out marked values and record what was released or withheld."""

from typing import Any, Optional

import strawberry
from strawberry.types import Info

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


class Record:
    """A node or edge fetched by a compiled query: a dict with `__m`, fields and relations."""

    _d: strawberry.Private[dict[str, Any]]


def withhold(info: Info[Context, Any], marking: str | None) -> None:
    """Say that the field being resolved is null because withheld (if the policy lets the
    marking be disclosed), under the caller's own path and aliases."""
    if info.context.policy.discloses(marking or "UNMARKED"):
        info.context.disclosure.withhold(path_of(info._raw_info), marking)


def release(root: Record, info: Info[Context, None], name: str) -> Any:
    entry = root._d.get(name)
    marking = root._d.get(f"__m_{name}")
    if entry is None:
        withhold(info, marking)
        return None
    info.context.disclosure.release(marking)
    return entry[0]


def marked(name: str, kind: Any, description: str) -> Any:
    """A nullable field whose value is released per its marking (null when withheld)."""

    def resolve(root: Record, info: Info[Context, None]) -> Any:
        return release(root, info, name)

    resolve.__annotations__["return"] = Optional[kind]  # noqa: UP045 - built at run time
    return strawberry.field(resolver=resolve, name=name, description=description)


def record_marking(root: Any) -> str:
    return str(root._d.get("__m") or "UNMARKED")


def field_markings(root: Any, info: Info[Context, None]) -> list[FieldMarking]:
    policy = info.context.policy
    result = []
    for name, (marking, ok) in sorted((root._d.get("__fm") or {}).items()):
        shown = marking if ok or policy.discloses(marking or "UNMARKED") else None
        result.append(FieldMarking(field=name, marking=shown, released=bool(ok)))
    return result
