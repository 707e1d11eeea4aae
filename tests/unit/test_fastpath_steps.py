"""The response writer's steps are compiled from what each field declares it does: every
field a compiled read reaches declares a step (so the writer answers any document of them),
and a field that declares none leaves the whole plan to the executor, saying which."""

from __future__ import annotations

from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    get_named_type,
    get_operation_ast,
    parse,
)
from graphql.execution.values import VariableValues

from dibx.graph.selection import result_key
from dibx.schema import build_schema
from dibx.schema.fastpath.coverage import COMPILED_READS
from dibx.schema.fastpath.execute import Execution
from dibx.schema.fastpath.steps import Op, RootSteps, compile_steps

SCHEMA: Any = build_schema()._schema
OWN_READS = {"history"}  # a record's history is read on its own, never compiled in


def compiled(document: str) -> dict[str, RootSteps] | str:
    parsed = parse(document)
    operation = get_operation_ast(parsed, None)
    assert operation is not None
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    execution = Execution(
        SCHEMA, operation, fragments, VariableValues(sources={}, coerced={}), None
    )
    return compile_steps(execution)


def everything(parent: GraphQLObjectType, depth: int) -> str:
    """A selection of every field of `parent` (objects while depth lasts)."""
    parts = ["__typename"]
    for name, field in parent.fields.items():
        named = get_named_type(field.type)
        if name in OWN_READS:
            continue
        if isinstance(named, GraphQLObjectType):
            if depth > 0:
                parts.append(f"{name} {everything(named, depth - 1)}")
        else:
            parts.append(name)
    return "{ " + " ".join(parts) + " }"


def test_every_field_a_compiled_read_reaches_has_a_step() -> None:
    query = SCHEMA.query_type
    roots = []
    for i, name in enumerate(sorted(COMPILED_READS)):
        named = get_named_type(query.fields[name].type)
        if isinstance(named, GraphQLInterfaceType):
            body = " ".join(
                f"... on {t.name} {everything(t, 3)}" for t in SCHEMA.get_possible_types(named)
            )
            selection = "{ __typename " + body + " }"
        else:
            selection = everything(named, 4)
        roots.append(f'r{i}: {name}(id: "x") {selection}')
    found = compiled("{ " + " ".join(roots) + " }")
    assert isinstance(found, dict), found
    assert set(found) == {f"r{i}" for i in range(len(COMPILED_READS))}


def test_a_field_without_a_step_leaves_the_plan_to_the_executor() -> None:
    found = compiled('{ supplier(key: "s") { key history { __typename } } }')
    assert found == "Supplier.history has no writer step there"


def test_a_relation_s_result_key_is_fixed_once_unless_a_variable_sets_it() -> None:
    document = 'query Q($n: Int) { supplier(key: "s") { a: capabilities(first: 2) { totalCount } '
    document += "b: capabilities(first: $n) { totalCount } nation { code } } }"
    found = compiled(document)
    assert isinstance(found, dict)
    (supplier,) = found["supplier"].records.values()
    fixed, variable, nation = supplier.steps
    assert (fixed.op, variable.op, nation.op) == (Op.MANY, Op.MANY, Op.ONE)
    args = {"first": 2, "after": None, "last": None, "before": None}
    assert fixed.own == result_key("capabilities", args)
    assert variable.own is None  # worked out per request, from its variables
    assert nation.own == "nation"
