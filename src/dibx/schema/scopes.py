"""Scopes declared on the root fields they guard.

A root field is made with `root_field(scope=...)` (or `root_mutation`): the scope it needs
travels on the field itself, and the scope gate (`dibx.schema.extensions.ScopeGate`) reads
it from there. A root field made any other way declares no scope, and needs one nobody has:
deny by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLField
from strawberry.schema.schema_converter import GraphQLCoreConverter

_SCOPE = "dibx.scope"
F = TypeVar("F", bound=Callable[..., Any])


def resolver(description: str, **kw: Any) -> Callable[[F], F]:
    """`strawberry.field(description=...)` as a typed decorator: strawberry's own, called with
    arguments, is typed as returning Any, which strict mypy refuses on a method."""
    decorate: Callable[[F], F] = strawberry.field(description=description, **kw)
    return decorate


def root_field(*, scope: str, description: str, **kw: Any) -> Callable[[F], F]:
    """A root query field that runs only for callers holding `scope`."""
    return resolver(description, metadata={_SCOPE: scope}, **kw)


def root_mutation(*, scope: str, description: str, **kw: Any) -> Callable[[F], F]:
    """A mutation that runs only for callers holding `scope`."""
    decorate: Callable[[F], F] = strawberry.mutation(
        description=description, metadata={_SCOPE: scope}, **kw
    )
    return decorate


def root_subscription(*, scope: str, description: str, **kw: Any) -> Callable[[F], F]:
    """A subscription field that runs only for callers holding `scope`."""
    decorate: Callable[[F], F] = strawberry.subscription(
        description=description, metadata={_SCOPE: scope}, **kw
    )
    return decorate


def scope_of(field: GraphQLField) -> str | None:
    """The scope a root field declares, or None when it declares none."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    metadata = getattr(definition, "metadata", None) or {}
    scope = metadata.get(_SCOPE)
    return scope if isinstance(scope, str) else None
