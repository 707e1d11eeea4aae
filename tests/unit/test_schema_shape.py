"""The built schema: every type, field, argument and enum value says what it is, and every
root field declares the scope it needs (a root field that declares none is refused to all)."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from dibx.graph.model import MODEL, Field
from dibx.schema import build_schema
from dibx.schema.scopes import scope_of


def _undescribed(schema: GraphQLSchema) -> list[str]:
    missing: list[str] = []
    for name, kind in schema.type_map.items():
        if name.startswith("__"):
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in kind.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing += [
                    f"{name}.{field_name}({arg})"
                    for arg, a in field.args.items()
                    if not a.description
                ]
        elif isinstance(kind, GraphQLInputObjectType):
            missing += [f"{name}.{f}" for f, v in kind.fields.items() if not v.description]
        elif isinstance(kind, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, d in kind.values.items() if not d.description]
    return missing


def test_every_type_field_argument_and_value_is_described() -> None:
    assert _undescribed(build_schema()._schema) == []


def test_a_model_field_brings_its_description() -> None:
    model = MODEL.with_field("Supplier", Field("website", str, "Website."))
    schema = build_schema(model)._schema
    assert _undescribed(schema) == []
    supplier = schema.type_map["Supplier"]
    assert isinstance(supplier, GraphQLObjectType)
    assert supplier.fields["website"].description == "Website."


def test_every_root_field_declares_its_scope() -> None:
    schema = build_schema()._schema
    roots = [schema.query_type, schema.mutation_type]
    undeclared = [
        f"{root.name}.{name}"
        for root in roots
        if root is not None
        for name, field in root.fields.items()
        if scope_of(field) is None
    ]
    assert undeclared == []
