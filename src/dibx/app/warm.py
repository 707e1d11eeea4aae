"""Plan the trusted documents' reads before the first caller waits for them.

Why: Neo4j plans a query the first time it sees its text and keeps the plan; a compiled read
of a rich document takes seconds to plan on a busy server, and a fresh Neo4j (or one whose
plan cache was cleared by an index change) makes the first dashboard after a deploy wait for
every one of them. `EXPLAIN` does not help: a plan made by `EXPLAIN` is not found by the same
text run for real (measured on this Neo4j: the real run after an `EXPLAIN` took as long as a
cold one). So each trusted read is run once, its answer dropped.

What runs: each operation of the registered (trusted) documents that the compiled response
path covers (`dibx.schema.fastpath.coverage`: a query whose root fields are all compiled
reads, one Cypher query each), through the schema, one at a time. Mutations, subscriptions,
analytics and anything else the path does not cover never run here. Required variables get
placeholders of their type (`placeholder`); a document needing one that has no placeholder
(an input object, a custom scalar) is skipped and said so. Values travel as parameters, so
the query text, and the plan Neo4j keeps for it, is the one a caller's request will run; a
shape that depends on values (an `after` cursor, `asOf`) is planned by its first caller.

Who reads: `WARM_PRINCIPAL`, acting for no nation (`WARM_NATION` is no ISO code), in no
agreement, with no attributes, so the release checks inside the Cypher release to it at
most what the policy releases to everyone; nothing it reads leaves the process (the results
are dropped, not logged). The scopes it holds are exactly those the warmed root fields
declare.

`/readyz` answers 503 `warming` until the warm-up ends or `DIBX_WARM_TIMEOUT` passes (a
rolling deploy then routes callers only to an instance whose plans are made); a warm-up
that fails or times out is logged and the instance becomes ready anyway.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import strawberry
import structlog
from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    ObjectFieldNode,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    get_named_type,
    parse,
    print_ast,
    type_from_ast,
    visit,
)

from dibx.auth.principal import Principal
from dibx.schema.context import Context
from dibx.schema.fastpath.coverage import coverage
from dibx.schema.ids import RECORD_TYPES, encode_id
from dibx.schema.scopes import scope_of

log = structlog.get_logger("dibx.warm")

# No ISO 3166-1 code has a dash: a nation no marking names and no agreement holds.
WARM_NATION: Final = "-"
# A placeholder per built-in scalar: the value's type is what Neo4j's plan depends on. The
# string has a key's form (`dibx.schema.ids`), so a lookup by key runs and finds nothing;
# an ID is that key's id for the record type its field returns.
_KEY: Final = "warm-up"
# `@skip`/`@include` variables of one operation whose every combination is run.
MAX_SWITCHES: Final = 3
_SCALARS: Final[dict[str, Any]] = {
    "String": _KEY,
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
}


@dataclass(slots=True)
class Warmed:
    """What a warm-up did: operations run, and why others were not."""

    ran: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # operation -> reason
    seconds: float = 0.0


def placeholder(schema: GraphQLSchema, operation: OperationDefinitionNode) -> dict[str, Any] | str:
    """Values for the operation's required variables without a default (others are left
    out, as a caller may), or why there is none."""
    ids = _id_types(schema, operation)
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        gql_type = type_from_ast(schema, definition.type)
        if not isinstance(gql_type, GraphQLNonNull) or definition.default_value is not None:
            continue
        value = _value(gql_type.of_type, ids.get(name))
        if value is None:
            return f"no placeholder for ${name} of type {print_ast(definition.type)}"
        values[name] = value
    return values


def _value(gql_type: GraphQLInputType, record_type: str | None) -> Any:
    if isinstance(gql_type, GraphQLList):
        return []
    if isinstance(gql_type, GraphQLEnumType):
        return next(iter(gql_type.values))
    if isinstance(gql_type, GraphQLScalarType):
        if gql_type.name == "ID":
            # An id names its record's type (`dibx.schema.ids`): the one the field returns.
            return encode_id(record_type or "Supplier", _KEY)
        return _SCALARS.get(gql_type.name)
    return None  # an input object: its required fields are the caller's to know


class _ArgumentTypes(Visitor):
    """For each variable passed straight to a field's argument: the field's record type;
    to an input object's field named after a record type: that type."""

    def __init__(self, info: TypeInfo) -> None:
        super().__init__()
        self.info = info
        self.types: dict[str, str] = {}

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        field_def = self.info.get_field_def()
        if isinstance(node.value, VariableNode) and field_def is not None:
            named = get_named_type(field_def.type)
            if named is not None and named.name in RECORD_TYPES:
                self.types.setdefault(node.value.name.value, named.name)

    def enter_object_field(self, node: ObjectFieldNode, *_: object) -> None:
        # In an input object the field names the record: `filter: {capability: $id}`.
        name = node.name.value
        record = name[:1].upper() + name[1:]
        if isinstance(node.value, VariableNode) and record in RECORD_TYPES:
            self.types.setdefault(node.value.name.value, record)


def _id_types(schema: GraphQLSchema, operation: OperationDefinitionNode) -> dict[str, str]:
    info = TypeInfo(schema)
    found = _ArgumentTypes(info)
    visit(operation, TypeInfoVisitor(info, found))
    return found.types


def _operations(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def _label(digest: str, operation: OperationDefinitionNode) -> str:
    name = operation.name.value if operation.name else "(anonymous)"
    return f"{name} ({digest[:12]})"


@dataclass(frozen=True, slots=True)
class _Run:
    label: str
    text: str
    name: str | None
    variables: dict[str, Any]
    scopes: frozenset[str]


def runs(
    schema: strawberry.Schema, documents: Iterable[tuple[str, str]]
) -> tuple[list[_Run], dict[str, str]]:
    """The operations to run for `documents` ((sha256, text) pairs), and the skipped ones
    with the reason."""
    core = schema._schema
    query_type = core.query_type
    assert query_type is not None
    todo: list[_Run] = []
    skipped: dict[str, str] = {}
    for digest, text in documents:
        try:
            document = parse(text)
        except GraphQLError as exc:
            skipped[digest[:12]] = f"does not parse: {exc.message}"
            continue
        for operation in _operations(document):
            label = _label(digest, operation)
            name = operation.name.value if operation.name else None
            covered = coverage(core, document, name)
            if isinstance(covered, str):
                skipped[label] = covered
                continue
            variables = placeholder(core, operation)
            if isinstance(variables, str):
                skipped[label] = variables
                continue
            scopes = set()
            for selection in operation.selection_set.selections:
                root = getattr(selection, "name", None)
                found = query_type.fields.get(root.value) if root is not None else None
                declared = scope_of(found) if found is not None else None
                if declared is not None:
                    scopes.add(declared)
            for switched in _switched(variables, covered.switches):
                todo.append(_Run(label, text, name, switched, frozenset(scopes)))
    return todo, skipped


def _switched(variables: dict[str, Any], switches: tuple[str, ...]) -> list[dict[str, Any]]:
    """The variables once per set of `@skip`/`@include` values: which fields are selected,
    so the query text, depends on them. Every set for up to `MAX_SWITCHES` of them; beyond,
    all true and all false."""
    if not switches:
        return [variables]
    if len(switches) > MAX_SWITCHES:
        sets = [(True,) * len(switches), (False,) * len(switches)]
    else:
        sets = list(itertools.product((True, False), repeat=len(switches)))
    return [{**variables, **dict(zip(switches, values, strict=True))} for values in sets]


def principal(scopes: frozenset[str]) -> Principal:
    return Principal(
        subject="dibx-warm-up",
        client_id="dibx-warm-up",
        nation=WARM_NATION,
        org=None,
        scopes=scopes,
        attributes=frozenset(),
        token_id=None,
    )


async def warm(
    schema: strawberry.Schema,
    documents: Iterable[tuple[str, str]],
    context_for: Callable[[Principal, date], Context],
) -> Warmed:
    """Run each covered operation of `documents` once, in turn, answers dropped.
    `context_for(principal, as_of)` makes the request context a caller would get."""
    started = time.monotonic()
    todo, skipped = runs(schema, documents)
    warmed = Warmed(skipped=skipped)
    for run in todo:
        context = context_for(principal(run.scopes), datetime.now(UTC).date())
        result = await schema.execute(
            run.text, variable_values=run.variables, context_value=context, operation_name=run.name
        )
        warmed.ran.append(run.label)
        if result.errors:  # a placeholder refused before any read: this shape is not planned
            log.debug(
                "warm_up_errors", operation=run.label, errors=[e.message for e in result.errors]
            )
        await asyncio.sleep(0)
    warmed.seconds = time.monotonic() - started
    return warmed
