"""The built schema: every type, field, argument and enum value says what it is, and every
root field declares the scope it needs (a root field that declares none is refused to all)."""

from __future__ import annotations

from typing import Any

from graphql import get_introspection_query, graphql_sync

from dibx.graph.model import MODEL, Field
from dibx.schema import build_schema
from dibx.schema.scopes import scope_of

BUILT_IN_SCALARS = {"String", "Boolean", "ID", "Int", "Float"}


def _introspected(model: Any = MODEL) -> dict[str, Any]:
    """The schema as a client sees it: the full introspection result, deprecated parts too."""
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        input_value_deprecation=True,
    )
    result = graphql_sync(build_schema(model)._schema, query)
    assert result.errors is None
    assert result.data is not None
    schema: dict[str, Any] = result.data["__schema"]
    return schema


def _undescribed(schema: dict[str, Any]) -> list[str]:
    """Every type, field, argument, input field, enum value and directive (and its
    arguments) without a description, by the name a client would use."""
    missing: list[str] = []

    def args(owner: str, values: list[dict[str, Any]] | None) -> None:
        missing.extend(f"{owner}({a['name']}:)" for a in values or [] if not a["description"])

    for kind in schema["types"]:
        name = kind["name"]
        if name.startswith("__"):
            continue
        if not kind["description"]:
            missing.append(name)
        for field in kind["fields"] or []:
            if not field["description"]:
                missing.append(f"{name}.{field['name']}")
            args(f"{name}.{field['name']}", field["args"])
        missing += [
            f"{name}.{f['name']}" for f in kind["inputFields"] or [] if not f["description"]
        ]
        missing += [f"{name}.{v['name']}" for v in kind["enumValues"] or [] if not v["description"]]
    for directive in schema["directives"]:
        if not directive["description"]:
            missing.append(f"@{directive['name']}")
        args(f"@{directive['name']}", directive["args"])
    return missing


def test_every_type_field_argument_and_value_is_described() -> None:
    assert _undescribed(_introspected()) == []


def test_custom_scalars_say_their_format_and_name_their_specification() -> None:
    custom = {
        t["name"]: t
        for t in _introspected()["types"]
        if t["kind"] == "SCALAR" and t["name"] not in BUILT_IN_SCALARS
    }
    assert {name: t["specifiedByURL"] for name, t in custom.items()} == {
        "Date": "https://www.rfc-editor.org/rfc/rfc3339#section-5.6",
        "DateTime": "https://scalars.graphql.org/andimarek/date-time",
        # History's old and new values, typed as the field's own (strawberry's JSON scalar).
        "JSON": "https://ecma-international.org/wp-content/uploads/ECMA-404_2nd_edition_december_2017.pdf",
    }
    assert "YYYY-MM-DD" in custom["Date"]["description"]
    assert "RFC 3339" in custom["DateTime"]["description"]
    assert "offset" in custom["DateTime"]["description"]


def test_a_model_field_brings_its_description() -> None:
    model = MODEL.with_field("Supplier", Field("website", str, "Website."))
    schema = _introspected(model)
    assert _undescribed(schema) == []
    (supplier,) = (t for t in schema["types"] if t["name"] == "Supplier")
    assert {f["name"]: f["description"] for f in supplier["fields"]}["website"] == "Website."


def test_every_root_field_declares_its_scope() -> None:
    schema = build_schema()._schema
    roots = [schema.query_type, schema.mutation_type, schema.subscription_type]
    undeclared = [
        f"{root.name}.{name}"
        for root in roots
        if root is not None
        for name, field in root.fields.items()
        if scope_of(field) is None
    ]
    assert undeclared == []
