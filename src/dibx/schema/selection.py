"""GraphQL selection -> dibx.graph.selection trees.

Walks the operation's AST with graphql-core's own argument coercion (variables, defaults),
resolving fragments, `@skip`/`@include` and aliases, so the compiled query sees exactly the
fields and argument values that the resolvers will later be called with.

strawberry hands resolvers the coerced variables as a plain dict, while graphql-core 3.3's
`get_argument_values` / `get_directive_values` read them from a `VariableValues` (its
`.coerced`): `_variables` rewraps them. The variables were coerced and validated before
execution began, so only the AST literals are coerced here.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values
from graphql.pyutils import Path

from dibx.graph.selection import Selected, result_key

ParentType = GraphQLObjectType | GraphQLInterfaceType


def _variables(info: GraphQLResolveInfo[Any]) -> VariableValues:
    raw: Any = info.variable_values
    if isinstance(raw, VariableValues):
        return raw
    # The sources are only read for fragment variables, which dibx does not enable.
    return VariableValues(sources={}, coerced=dict(raw or {}))


def _included(node: Any, variables: VariableValues) -> bool:
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include and include.get("if") is False)


def _applies(condition: str | None, parent: ParentType) -> bool:
    if condition is None or condition == parent.name:
        return True
    return isinstance(parent, GraphQLObjectType) and any(
        i.name == condition for i in parent.interfaces
    )


def walk(
    info: GraphQLResolveInfo[Any], selection_set: SelectionSetNode | None, parent: ParentType
) -> tuple[Selected, ...]:
    if selection_set is None:
        return ()
    found: list[Selected] = []
    variables = _variables(info)
    for node in selection_set.selections:
        if not _included(node, variables):
            continue
        if isinstance(node, FieldNode):
            name = node.name.value
            if name.startswith("__"):
                continue
            field_def = parent.fields[name]
            args = get_argument_values(field_def, node, variables)
            child = get_named_type(field_def.type)
            children = (
                walk(info, node.selection_set, child)
                if isinstance(child, GraphQLObjectType | GraphQLInterfaceType)
                else ()
            )
            found.append(Selected(name, tuple(sorted(args.items())), children))
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition.name.value if node.type_condition else None
            if _applies(condition, parent):
                found.extend(walk(info, node.selection_set, parent))
        elif isinstance(node, FragmentSpreadNode):
            fragment = info.fragments[node.name.value]
            if _applies(fragment.type_condition.name.value, parent):
                found.extend(walk(info, fragment.selection_set, parent))
    return tuple(found)


def selections_of(info: GraphQLResolveInfo[Any], concrete: str | None = None) -> list[Selected]:
    """What the caller selected under the current field (for `concrete`, if it is abstract)."""
    parent = info.schema.get_type(concrete) if concrete else get_named_type(info.return_type)
    assert isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
    return [s for node in info.field_nodes for s in walk(info, node.selection_set, parent)]


def own_key(info: GraphQLResolveInfo[Any]) -> str:
    """The result key of the field being resolved: same computation as the compiler's."""
    parent = info.parent_type
    field_def = parent.fields[info.field_name]
    args = get_argument_values(field_def, info.field_nodes[0], _variables(info))
    return result_key(info.field_name, args)


def path_of(info: GraphQLResolveInfo[Any]) -> str:
    return path_text(info.path)


def path_text(path: Path) -> str:
    """A response path as `withheld` names it: keys and indexes joined by dots."""
    return ".".join(str(p) for p in path.as_list())
