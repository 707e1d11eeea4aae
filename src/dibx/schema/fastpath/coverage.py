"""Which operations the compiled response path answers, decided once per document.

An operation is covered when it is a query, every root field is a compiled read
(`COMPILED_READS`) or `__typename`, and every field below them is one the schema resolves
synchronously with a plain strawberry field: no field extensions or permission classes, no
async resolver, and only scalar arguments. Those fields are then resolved by the schema's
own resolver functions (`dibx.schema.types`, `fields`, `connection`): the mapping from
schema fields to compiled rows stays there, in one place. Anything else (mutations,
analytics, challenges, introspection, a field added later with an async resolver or an
input-object argument) is reported as not covered, with the reason, and runs through the
normal executor.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    visit,
)
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

# Root fields that validate their input and run one compiled read (`dibx.schema.directory`).
COMPILED_READS = frozenset(
    {
        "node",
        "supplier",
        "suppliers",
        "capability",
        "capabilities",
        "nation",
        "nations",
        "agreement",
        "agreements",
    }
)
# Directives the path evaluates; any other (say @defer) is the executor's.
DIRECTIVES = frozenset({"skip", "include"})


@dataclass(frozen=True, slots=True)
class Covered:
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    # No directive anywhere in the document: which fields are selected does not depend on
    # the variables.
    static: bool = False
    # The variables that `@skip`/`@include` read (sorted): with the same values, the same
    # fields are selected, so what is worked out for one set of values holds for the next.
    switches: tuple[str, ...] = ()


class _Directives(Visitor):
    """Whether the document has a directive, and the variables its directives read."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False
        self.switches: set[str] = set()

    def enter_directive(self, node: DirectiveNode, *_: object) -> None:
        self.found = True
        for argument in node.arguments or ():
            if isinstance(argument.value, VariableNode):
                self.switches.add(argument.value.name.value)


def strawberry_field(field: GraphQLField) -> StrawberryField | None:
    found = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return found if isinstance(found, StrawberryField) else None


def _plain(field: GraphQLField) -> str | None:
    """Why a nested field cannot be resolved by the path, or None if it can."""
    definition = strawberry_field(field)
    if definition is None:
        return "a field strawberry did not define"
    if definition.extensions:
        return "a field with extensions"
    if definition.is_async:
        return "an asynchronous field"
    for argument in field.args.values():
        # Scalars reach the resolver as graphql-core coerced them; strawberry converts
        # enums and input objects, which this path does not.
        if not isinstance(get_named_type(argument.type), GraphQLScalarType):
            return "a field with an argument that is not a scalar"
    return None


def coverage(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> Covered | str:
    """The operation to answer, or the reason the path leaves it to the executor."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return "no single operation"
    if operation.operation is not OperationType.QUERY:
        return f"a {operation.operation.value}"
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    query = schema.query_type
    assert query is not None
    reason = _check(schema, operation.selection_set, query, fragments, root=True, seen=set())
    if reason is not None:
        return reason
    directives = _Directives()
    visit(document, directives)
    return Covered(operation, fragments, not directives.found, tuple(sorted(directives.switches)))


def _check(
    schema: GraphQLSchema,
    selection_set: SelectionSetNode,
    parent: GraphQLObjectType | GraphQLInterfaceType,
    fragments: dict[str, FragmentDefinitionNode],
    *,
    root: bool,
    seen: set[str],
) -> str | None:
    for node in selection_set.selections:
        for directive in node.directives or ():
            if directive.name.value not in DIRECTIVES:
                return f"the directive @{directive.name.value}"
        if isinstance(node, FieldNode):
            reason = _check_field(schema, node, parent, fragments, root=root, seen=seen)
        elif isinstance(node, InlineFragmentNode):
            target = parent
            if node.type_condition is not None:
                found = schema.get_type(node.type_condition.name.value)
                if not isinstance(found, GraphQLObjectType | GraphQLInterfaceType):
                    return "a fragment on a union"
                target = found
            reason = _check(schema, node.selection_set, target, fragments, root=root, seen=seen)
        else:
            assert isinstance(node, FragmentSpreadNode)
            name = node.name.value
            if name in seen:
                continue
            fragment = fragments[name]
            found = schema.get_type(fragment.type_condition.name.value)
            if not isinstance(found, GraphQLObjectType | GraphQLInterfaceType):
                return "a fragment on a union"
            reason = _check(
                schema, fragment.selection_set, found, fragments, root=root, seen=seen | {name}
            )
        if reason is not None:
            return reason
    return None


def _check_field(
    schema: GraphQLSchema,
    node: FieldNode,
    parent: GraphQLObjectType | GraphQLInterfaceType,
    fragments: dict[str, FragmentDefinitionNode],
    *,
    root: bool,
    seen: set[str],
) -> str | None:
    name = node.name.value
    if name == "__typename":
        return None
    if name.startswith("__"):
        return "introspection"
    if root and name not in COMPILED_READS:
        return f"the root field {name}"
    field = parent.fields.get(name)
    if field is None:
        return f"the unknown field {parent.name}.{name}"
    if not root:
        reason = _plain(field)
        if reason is not None:
            return f"{parent.name}.{name} is {reason}"
    named = get_named_type(field.type)
    if node.selection_set is None:
        return None
    if isinstance(named, GraphQLInterfaceType):
        # Below an interface every implementation's fields may be reached.
        for impl in schema.get_possible_types(named):
            reason = _check(schema, node.selection_set, impl, fragments, root=False, seen=seen)
            if reason is not None:
                return reason
        return None
    if not isinstance(named, GraphQLObjectType):
        return f"the union {named.name}"
    return _check(schema, node.selection_set, named, fragments, root=False, seen=seen)
