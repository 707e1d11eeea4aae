"""The GraphQL examples in the README stay valid against the schema."""

from __future__ import annotations

import re

import pytest
from graphql import parse, validate

from dibx import config
from dibx.schema import build_schema

README = (config.PROJECT_ROOT / "README.md").read_text()
EXAMPLES = re.findall(r"```graphql\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("document", EXAMPLES)
def test_readme_example_is_valid(document: str) -> None:
    schema = build_schema()._schema
    assert validate(schema, parse(document)) == []
