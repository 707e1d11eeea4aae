"""The GraphQL schema: types, root fields, limits and extensions."""

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig

from dibx.schema.challenges import Mutation
from dibx.schema.cost import RequestCost
from dibx.schema.extensions import Disclosure, ScopeGate, ShapeErrors
from dibx.schema.queries import Query
from dibx.schema.types import (
    Agreement,
    Capability,
    Nation,
    Supplier,
)


def build_schema(
    *,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
    introspection: bool = True,
) -> strawberry.Schema:
    extensions: list[object] = [
        ShapeErrors,
        lambda: QueryDepthLimiter(max_depth=max_depth),
        lambda: MaxAliasesLimiter(max_alias_count=max_aliases),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        ScopeGate,
        RequestCost,
        Disclosure,
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[Supplier, Capability, Nation, Agreement],
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(auto_camel_case=True),
    )
