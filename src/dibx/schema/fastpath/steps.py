"""The response writer's steps for one plan, compiled once (`compile_steps`).

Each selected field becomes a `Step`: its response key, what it writes (`Op`, from the
declaration on the field, `dibx.schema.written`), how to serialize it and the steps below
it. What a step writes from depends on where it is selected (a node's map, a relation
edge's, a relation's page, a root page object, ...): a declaration is accepted only where
the writer reproduces it (`_ALLOWED`). Any selected field without one, or in a place the
writer does not write it, makes the whole plan the executor's, and `compile_steps` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLID,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
    Visitor,
    get_named_type,
    visit,
)
from graphql.language.visitor import BREAK

from dibx.graph.selection import result_key
from dibx.schema.fastpath.coverage import strawberry_field
from dibx.schema.fastpath.execute import Execution, Grouped
from dibx.schema.written import Writes, writes_of


class Source(IntEnum):
    """What a selection's steps write from."""

    NODE = 0  # a node's map
    EDGE = 1  # a relation edge's map, with its link and page
    PAGE = 2  # a relation's page (`writer.RelationPage`)
    ROOT_PAGE = 3  # a root field's connection object (`connection.Connection`)
    ROOT_EDGE = 4  # one of its edges (`connection.Edge`)
    ATTRIBUTES = 5  # an object the writer builds as a dict (PageInfo, FieldMarking)


class Op(IntEnum):
    TYPENAME = 0
    VALUE = 1
    MARKING = 2
    FIELD_MARKINGS = 3
    ID = 4
    KEY = 5
    ONE = 6
    MANY = 7
    EDGE_CURSOR = 8
    FAR_NODE = 9
    TOTAL = 10
    EDGES = 11
    NODES = 12
    PAGE_INFO = 13
    CURSOR = 14
    NODE = 15
    ATTRIBUTE = 16


_OPS = {kind: Op[kind.name] for kind in Writes}
_RECORD = {Writes.VALUE, Writes.MARKING, Writes.FIELD_MARKINGS}
_PAGE = {Writes.TOTAL, Writes.EDGES, Writes.NODES, Writes.PAGE_INFO}
_ALLOWED = {
    Source.NODE: _RECORD | {Writes.ID, Writes.KEY, Writes.ONE, Writes.MANY},
    Source.EDGE: _RECORD | {Writes.EDGE_CURSOR, Writes.FAR_NODE},
    Source.PAGE: _PAGE,
    Source.ROOT_PAGE: _PAGE,
    Source.ROOT_EDGE: {Writes.CURSOR, Writes.NODE},
    Source.ATTRIBUTES: set(),
}
# What the steps below an object field write from, by the field's op and its own source.
_BELOW = {
    Op.ONE: Source.NODE,
    Op.FAR_NODE: Source.NODE,
    Op.NODE: Source.NODE,
    Op.NODES: Source.NODE,
    Op.MANY: Source.PAGE,
    Op.FIELD_MARKINGS: Source.ATTRIBUTES,
    Op.PAGE_INFO: Source.ATTRIBUTES,
}


class Step:
    """One selected field of one object type: what to write under its response key."""

    __slots__ = (
        "argument",
        "asked",
        "field",
        "item_type",
        "key",
        "nodes",
        "null_error",
        "op",
        "own",
        "serialize",
        "sub",
        "text",
        "type",
    )

    def __init__(
        self,
        key: str,
        op: Op,
        nodes: list[FieldNode],
        parent: str,
        field: GraphQLField | None = None,  # None: `__typename`
    ) -> None:
        self.key = key
        self.op = op
        self.nodes = nodes
        self.argument = ""  # the model field, the id's type, the connection, the attribute
        self.field = field
        self.type: GraphQLOutputType = _TYPENAME if field is None else field.type
        self.item_type: GraphQLOutputType = _TYPENAME  # a list's: its items' type
        self.serialize: Callable[[Any], Any] = _unset  # a leaf's: its scalar's
        self.text = False  # String or ID: text serializes as itself
        self.sub: Steps = _NOTHING  # an object's, or a list of objects': the steps below
        # A relation's result key and its (before, after) arguments when the document fixes
        # them; None when they depend on the variables (worked out per request).
        self.own: str | None = None
        self.asked: tuple[Any, Any] = (None, None)
        # As `Execution.complete` words it.
        self.null_error = (
            f"Cannot return null for non-nullable field {parent}.{nodes[0].name.value}."
        )


class Steps:
    """The steps for one selection on one object type."""

    __slots__ = ("steps", "type_name")

    def __init__(self, type_name: str, steps: list[Step]) -> None:
        self.type_name = type_name
        self.steps = steps


_NOTHING = Steps("", [])
_TYPENAME = GraphQLNonNull(GraphQLString)


def _unset(value: Any) -> Any:
    raise TypeError("not a leaf")  # never called: only leaves' steps serialize


class RootSteps:
    """A root field's steps: for a record, by its runtime type's name; or for a page."""

    __slots__ = ("nodes", "null_error", "page", "records", "type")

    def __init__(
        self,
        field: GraphQLField,
        nodes: list[FieldNode],
        page: Steps | None,
        records: dict[str, Steps],
    ) -> None:
        self.type = field.type
        self.nodes = nodes
        self.page = page
        self.records = records
        self.null_error = f"Cannot return null for non-nullable field Query.{nodes[0].name.value}."


class Unwritable(Exception):
    """Why a plan's response cannot be written: a selected field has no step."""


class _Variables(Visitor):
    found = False

    def enter_variable(self, *_: object) -> object:
        self.found = True
        return BREAK


def _fixed(node: FieldNode) -> bool:
    """Whether the document fixes the field's arguments (no variable among them)."""
    finder = _Variables()
    for argument in node.arguments or ():
        visit(argument, finder)
    return not finder.found


def _declared(field: GraphQLField) -> tuple[Writes, str] | None:
    definition = strawberry_field(field)
    return writes_of(definition.metadata if definition is not None else None)


class _Compiler:
    """Collects fields as `Execution` does (sharing the plan's `Shapes`)."""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution

    def steps(self, parent: GraphQLObjectType, nodes: list[FieldNode], source: Source) -> Steps:
        grouped: Grouped = self.execution._subfields(parent, nodes)
        steps = []
        for key, found in grouped.items():
            if found[0].name.value == "__typename":
                steps.append(Step(key, Op.TYPENAME, found, parent.name))
            else:
                steps.append(self.step(parent, key, found, source))
        return Steps(parent.name, steps)

    def step(
        self, parent: GraphQLObjectType, key: str, nodes: list[FieldNode], source: Source
    ) -> Step:
        field = parent.fields[nodes[0].name.value]
        where = f"{parent.name}.{nodes[0].name.value}"
        if source is Source.ATTRIBUTES:
            definition = strawberry_field(field)
            if definition is None or definition.base_resolver is not None or field.args:
                raise Unwritable(f"{where} is not a plain attribute")
            step = Step(key, Op.ATTRIBUTE, nodes, parent.name, field)
            step.argument = definition.python_name
        else:
            declared = _declared(field)
            if declared is None or declared[0] not in _ALLOWED[source]:
                raise Unwritable(f"{where} has no writer step there")
            step = Step(key, _OPS[declared[0]], nodes, parent.name, field)
            step.argument = declared[1]
        inner = field.type.of_type if isinstance(field.type, GraphQLNonNull) else field.type
        if isinstance(inner, GraphQLList):
            step.item_type = inner.of_type
        named = get_named_type(field.type)
        if isinstance(named, GraphQLScalarType):
            step.serialize = named.serialize
            step.text = named is GraphQLString or named is GraphQLID
        elif isinstance(named, GraphQLObjectType):
            below = _BELOW.get(step.op)
            if step.op is Op.EDGES:
                below = Source.ROOT_EDGE if source is Source.ROOT_PAGE else Source.EDGE
            if below is None:
                raise Unwritable(f"{where}: an object the writer does not write")
            step.sub = self.steps(named, nodes, below)
        else:
            raise Unwritable(f"{where}: the type {named}")
        if step.op in (Op.ONE, Op.MANY) and _fixed(nodes[0]):
            args = self.execution._args(field, nodes)
            step.own = result_key(nodes[0].name.value, args)
            step.asked = (args.get("before"), args.get("after"))
        return step

    def root(self, field: GraphQLField, nodes: list[FieldNode]) -> RootSteps:
        named = get_named_type(field.type)
        records: dict[str, Steps] = {}
        page = None
        if isinstance(named, GraphQLInterfaceType):
            for impl in self.execution.schema.get_possible_types(named):
                records[impl.name] = self.steps(impl, nodes, Source.NODE)
        elif isinstance(named, GraphQLObjectType) and _is_connection(named):
            page = self.steps(named, nodes, Source.ROOT_PAGE)
        elif isinstance(named, GraphQLObjectType):
            records[named.name] = self.steps(named, nodes, Source.NODE)
        else:
            raise Unwritable(f"the root field {nodes[0].name.value}: the type {named}")
        return RootSteps(field, nodes, page, records)


def _is_connection(named: GraphQLObjectType) -> bool:
    edges = named.fields.get("edges")
    declared = _declared(edges) if edges is not None else None
    return declared is not None and declared[0] is Writes.EDGES


def compile_steps(execution: Execution) -> dict[str, RootSteps] | str:
    """Each root field's steps, by response key; or why the executor is to complete them.
    `execution`: any request's (collecting fields does not depend on its variables)."""
    query = execution.schema.query_type
    assert query is not None
    compiler = _Compiler(execution)
    roots: dict[str, RootSteps] = {}
    try:
        for key, nodes in execution.roots().items():
            name = nodes[0].name.value
            if name != "__typename":
                roots[key] = compiler.root(query.fields[name], nodes)
    except Unwritable as why:
        return str(why)
    return roots
