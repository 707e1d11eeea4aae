"""What the compiled response path covers is decided from the schema, field by field: a field
it cannot resolve the way strawberry would (an async resolver, an input-object argument, a
directive it does not evaluate) leaves the whole operation to the executor, with the reason."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import parse

from dibx.schema import build_schema
from dibx.schema.fastpath.coverage import Covered, coverage


@strawberry.input
class Window:
    days: int


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None

    @strawberry.field
    async def start_cursor(self) -> str | None:  # a field added later, resolved async
        return None

    @strawberry.field
    def within(self, window: Window) -> bool:  # an input-object argument
        return window.days > 0


@strawberry.type
class Query:
    @strawberry.field
    def suppliers(self) -> PageInfo:
        return PageInfo(has_next_page=False, end_cursor=None)


SCHEMA: Any = strawberry.Schema(query=Query)._schema


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ("{ suppliers { startCursor } }", "PageInfo.startCursor is an asynchronous field"),
        (
            "{ suppliers { within(window: {days: 1}) } }",
            "PageInfo.within is a field with an argument that is not a scalar",
        ),
        ("{ suppliers { hasNextPage @defer } }", "the directive @defer"),
        ("{ __schema { types { name } } }", "introspection"),
        ("mutation { x }", "a mutation"),
        ("query A { suppliers { hasNextPage } } query B { __typename }", "no single operation"),
    ],
)
def test_what_the_path_cannot_resolve_is_left_to_the_executor(document: str, reason: str) -> None:
    assert coverage(SCHEMA, parse(document), None) == reason


def test_plain_fields_fragments_and_directives_are_covered() -> None:
    document = parse(
        "query Q($b: Boolean!) { suppliers { ...P hasNextPage @include(if: $b) __typename } }"
        " fragment P on PageInfo { endCursor }"
    )
    assert isinstance(coverage(SCHEMA, document, "Q"), Covered)


def test_the_served_schema_covers_directory_reads_but_not_analytics_or_the_viewer() -> None:
    schema = build_schema()._schema
    covered = parse(
        "{ suppliers { edges { node { key nation { code } capabilities { totalCount } } } }"
        ' node(id: "x") { ... on Capability { providers { nodes { key } } } } }'
    )
    assert isinstance(coverage(schema, covered, None), Covered)
    assert coverage(schema, parse("{ viewer { nation } }"), None) == "the root field viewer"
    analytics = parse('{ concentration(capability: "x") { __typename } }')
    assert coverage(schema, analytics, None) == "the root field concentration"
