"""Completes a covered operation without graphql-core's executor.

The root fields run through the schema's own resolvers (argument coercion, validation, the
compiled read, wrapping); below them, each field is resolved by its resolver's direct form
(`dibx.schema.direct`: no Info built) where it declares one, else by the resolver strawberry
built for it, and completed here the way graphql-core completes it: fields collected per
the spec (aliases, inline and named fragments, `@skip`/`@include` with variables), leaves
serialized by their scalar, null propagated from a failed non-null field to the nearest
nullable one, each error located at its field and path. What graphql-core adds around that
(the execution context, per-field info objects and checks for awaitables, incremental
delivery) is what this module saves.

Root fields run as the executor runs them: each root resolver started in document order and
awaited together (`gather_with_cancel`), a non-null root field's error nulling `data`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeGuard

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    is_abstract_type,
    located_error,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values
from graphql.pyutils import Path, Undefined, gather_with_cancel, inspect
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.types import Info

from dibx.graph.selection import result_key
from dibx.schema.direct import Direct, direct_of
from dibx.schema.fastpath.coverage import strawberry_field

Grouped = dict[str, list[FieldNode]]
# A response key's field (None for `__typename`), its nodes, how its resolver is called,
# and its type (nullable or not) when a scalar or an object type: those are completed here
# without `complete`'s dispatch when the value is there.
Entry = tuple[
    str,
    GraphQLField | None,
    list[FieldNode],
    "Call | None",
    GraphQLScalarType | None,
    GraphQLObjectType | None,
]


def _named(return_type: Any) -> Any:
    return return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type


class Call:
    """How to call a nested field's resolver function directly, as strawberry's wrapper
    would (`strawberry.schema.schema_converter`): the source as `self` or as its `root` /
    `parent` parameter, the Info where asked for, the arguments by their Python names."""

    __slots__ = (
        "arguments",
        "definition",
        "direct",
        "function",
        "info",
        "python_name",
        "root",
        "source",
    )

    def __init__(self, field: GraphQLField) -> None:
        definition = strawberry_field(field)
        assert definition is not None  # covered fields are strawberry's (`coverage`)
        self.definition = definition
        self.direct: Direct | None = direct_of(definition.metadata)
        self.python_name = definition.python_name
        resolver = definition.base_resolver
        self.function: Any = None if resolver is None else resolver.wrapped_func
        self.source = bool(resolver and resolver.self_parameter)
        self.root = [
            p.name
            for p in (
                resolver and resolver.root_parameter,
                resolver and resolver.parent_parameter,
            )
            if p
        ]
        info = resolver.info_parameter if resolver is not None else None
        self.info = info.name if info is not None else None
        # strawberry made the schema's arguments from these, in this order.
        self.arguments = {
            name: argument.python_name
            for name, argument in zip(field.args, definition.arguments, strict=True)
        }


def _track(_: Any) -> None:
    """The executor's `track` helper: no resolver of a covered field uses it."""


def _gather(awaitables: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*awaitables)


def _present(value: Any) -> bool:
    """A value `complete` would go on to complete (not null, not an error)."""
    return value is not None and value is not Undefined and not isinstance(value, Exception)


def leaf_error(leaf: Any, value: Any, serialized: Any) -> TypeError:
    """graphql-core's error for a leaf whose scalar serialized `value` to nothing."""
    return TypeError(
        f"Expected `{inspect(leaf)}.serialize({inspect(value)})`"
        f" to return non-nullable value, returned: {inspect(serialized)}"
    )


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return hasattr(value, "__await__")


_HELPERS = GraphQLResolveInfoHelpers(gather=_gather, track=_track)


class Shapes:
    """What an operation's selections come to: the root fields, the fields collected under
    each field for each runtime type, and each selection's entries. Built as the operation
    is first completed; kept with its plan across requests when no `@skip`/`@include`
    makes them depend on variables (`CompiledResponses`), else built for one request.
    Keyed by the identity of the node lists and groups they hold themselves, which live
    as long as the shapes do."""

    __slots__ = ("entries", "grouped", "roots")

    def __init__(self) -> None:
        self.roots: Grouped | None = None
        self.grouped: dict[tuple[str, int], Grouped] = {}
        self.entries: dict[int, list[Entry]] = {}


class Execution:
    """One covered operation, executed once."""

    def __init__(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
        context: Any,
        calls: dict[int, Call] | None = None,
        shapes: Shapes | None = None,
    ) -> None:
        self.schema = schema
        # Per schema field (by identity: the schema outlives it), kept across requests.
        self.calls: dict[int, Call] = {} if calls is None else calls
        self.shapes = Shapes() if shapes is None else shapes
        # Per field node or list of them: the same for every object of a list.
        self._arguments: dict[int, dict[str, Any]] = {}
        self._keys: dict[int, str] = {}
        self._grouped = self.shapes.grouped
        self.operation = operation
        self.fragments = fragments
        self.variables = variables
        self.context = context
        self.errors: list[GraphQLError] = []
        # Writes a root field's value instead of completing it (`fastpath.writer`), if set.
        self.write: Callable[[Path, Any], Any] | None = None

    # -- collecting fields (spec: CollectFields) -----------------------------------------

    def _included(self, node: Any) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return not (include and include.get("if") is False)

    def _matches(self, condition: str, runtime: GraphQLObjectType) -> bool:
        conditional = self.schema.get_type(condition)
        if conditional is runtime:
            return True
        return is_abstract_type(conditional) and self.schema.is_sub_type(
            conditional,
            runtime,
        )

    def collect(
        self,
        runtime: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: Grouped,
        visited: set[str],
    ) -> Grouped:
        for node in selection_set.selections:
            if node.directives and not self._included(node):
                continue
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                grouped.setdefault(key, []).append(node)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                if condition is None or self._matches(condition.name.value, runtime):
                    self.collect(runtime, node.selection_set, grouped, visited)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is None or not self._matches(
                    fragment.type_condition.name.value, runtime
                ):
                    continue
                self.collect(runtime, fragment.selection_set, grouped, visited)
        return grouped

    def _subfields(self, runtime: GraphQLObjectType, nodes: list[FieldNode]) -> Grouped:
        key = (runtime.name, id(nodes))
        grouped = self._grouped.get(key)
        if grouped is None:
            grouped = {}
            visited: set[str] = set()
            for node in nodes:
                if node.selection_set is not None:
                    self.collect(runtime, node.selection_set, grouped, visited)
            self._grouped[key] = grouped
        return grouped

    # -- resolving ---------------------------------------------------------------------

    def _info(
        self,
        field: GraphQLField,
        nodes: list[FieldNode],
        parent: GraphQLObjectType,
        path: Path,
    ) -> GraphQLResolveInfo[Any]:
        return GraphQLResolveInfo(
            nodes[0].name.value,
            nodes,
            field.type,
            parent,
            path,
            self.schema,
            self.fragments,
            None,
            self.operation,
            self.variables,
            self.context,
            _is_awaitable,
            None,
            _HELPERS,
        )

    def _args(self, field: GraphQLField, nodes: list[FieldNode]) -> dict[str, Any]:
        if not field.args:
            return {}
        found = self._arguments.get(id(nodes))
        if found is None:
            found = self._arguments[id(nodes)] = get_argument_values(
                field, nodes[0], self.variables
            )
        return found

    def _resolve_root(
        self, field: GraphQLField, nodes: list[FieldNode], parent: GraphQLObjectType, path: Path
    ) -> Any:
        """A root field through strawberry's own resolver: argument conversion and all."""
        args = get_argument_values(field, nodes[0], self.variables) if field.args else {}
        resolve = field.resolve
        assert resolve is not None  # strawberry gives every field its resolver
        return resolve(None, self._info(field, nodes, parent, path), **args)

    def _call(self, field: GraphQLField) -> Call:
        call = self.calls.get(id(field))
        if call is None:
            call = self.calls[id(field)] = Call(field)
        return call

    def _entries(self, parent: GraphQLObjectType, grouped: Grouped) -> list[Entry]:
        entries = self.shapes.entries.get(id(grouped))
        if entries is None:
            entries = []
            for key, nodes in grouped.items():
                name = nodes[0].name.value
                if name == "__typename":
                    entries.append((key, None, nodes, None, None, None))
                else:
                    field = parent.fields[name]
                    named = _named(field.type)
                    scalar = named if isinstance(named, GraphQLScalarType) else None
                    obj = named if type(named) is GraphQLObjectType else None
                    entries.append((key, field, nodes, self._call(field), scalar, obj))
            self.shapes.entries[id(grouped)] = entries
        return entries

    def _resolve(
        self,
        field: GraphQLField,
        nodes: list[FieldNode],
        parent: GraphQLObjectType,
        source: Any,
        path: Path,
        call: Call,
    ) -> Any:
        if call.direct is not None:
            args = self._args(field, nodes)
            key = self._keys.get(id(nodes))
            if key is None:
                # As `dibx.schema.selection.own_key` computes it from an Info.
                key = self._keys[id(nodes)] = result_key(nodes[0].name.value, args)
            return call.direct(source, self.context, args, key, path)
        if call.function is None:
            return getattr(source, call.python_name)
        kwargs = {call.arguments[k]: v for k, v in self._args(field, nodes).items()}
        for name in call.root:
            kwargs[name] = source
        if call.info is not None:
            raw = self._info(field, nodes, parent, path)
            kwargs[call.info] = Info(_raw_info=raw, _field=call.definition)
        if call.source:
            return call.function(source, **kwargs)
        return call.function(**kwargs)

    def _field_error(
        self, raw: Exception, return_type: GraphQLOutputType, nodes: list[FieldNode], path: Path
    ) -> None:
        error = located_error(raw, nodes, path.as_list())
        if isinstance(return_type, GraphQLNonNull):
            raise error
        self.errors.append(error)

    def fields(
        self, parent: GraphQLObjectType, source: Any, path: Path | None, grouped: Grouped
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, field, nodes, call, scalar, obj in self._entries(parent, grouped):
            if field is None:
                result[key] = parent.name
                continue
            assert call is not None
            field_path = Path(path, key, parent.name)
            try:
                value = self._resolve(field, nodes, parent, source, field_path, call)
                if scalar is not None and _present(value):
                    # A scalar's value, as `complete` serializes it; anything else (null, a
                    # value that does not serialize) is left to `complete`, for its error.
                    serialized = scalar.serialize(value)
                    if serialized is not None and serialized is not Undefined:
                        result[key] = serialized
                        continue
                elif obj is not None and _present(value):
                    result[key] = self.fields(obj, value, field_path, self._subfields(obj, nodes))
                    continue
                result[key] = self.complete(field.type, nodes, parent, field_path, value)
            except Exception as raw:  # noqa: BLE001 - every field error is located and reported
                self._field_error(raw, field.type, nodes, field_path)
                result[key] = None
        return result

    # -- completing (spec: CompleteValue) ----------------------------------------------

    def complete(
        self,
        return_type: GraphQLOutputType,
        nodes: list[FieldNode],
        parent: GraphQLObjectType,
        path: Path,
        result: Any,
    ) -> Any:
        if isinstance(result, Exception):
            raise result
        if isinstance(return_type, GraphQLNonNull):
            completed = self.complete(return_type.of_type, nodes, parent, path, result)
            if completed is None:
                raise TypeError(
                    "Cannot return null for non-nullable field "
                    f"{parent.name}.{nodes[0].name.value}."
                )
            return completed
        if result is None or result is Undefined:
            return None
        if type(return_type) is GraphQLObjectType:  # the commonest case first
            return self.fields(return_type, result, path, self._subfields(return_type, nodes))
        if isinstance(return_type, GraphQLList):
            return self._list(return_type, nodes, parent, path, result)
        if isinstance(return_type, GraphQLLeafType):
            serialized = return_type.serialize(result)
            if serialized is Undefined or serialized is None:
                raise leaf_error(return_type, result, serialized)
            return serialized
        runtime = return_type
        if isinstance(return_type, GraphQLInterfaceType):
            runtime = self._runtime_type(result)
        assert isinstance(runtime, GraphQLObjectType)
        return self.fields(runtime, result, path, self._subfields(runtime, nodes))

    def _list(
        self,
        return_type: GraphQLList[Any],
        nodes: list[FieldNode],
        parent: GraphQLObjectType,
        path: Path,
        result: Any,
    ) -> list[Any]:
        if isinstance(result, str) or not isinstance(result, Iterable):
            raise GraphQLError(
                "Expected Iterable, but did not find one for field"
                f" '{parent.name}.{nodes[0].name.value}'."
            )
        item_type = return_type.of_type
        named = _named(item_type)
        obj = named if type(named) is GraphQLObjectType else None
        grouped = self._subfields(obj, nodes) if obj is not None else None
        completed: list[Any] = []
        for index, item in enumerate(result):
            item_path = Path(path, index, None)
            try:
                if grouped is not None and _present(item):
                    assert obj is not None
                    completed.append(self.fields(obj, item, item_path, grouped))
                    continue
                completed.append(self.complete(item_type, nodes, parent, item_path, item))
            except Exception as raw:  # noqa: BLE001 - as for a field
                self._field_error(raw, item_type, nodes, item_path)
                completed.append(None)
        return completed

    def _runtime_type(self, value: Any) -> GraphQLObjectType:
        definition = getattr(type(value), "__strawberry_definition__", None)
        found = self.schema.get_type(definition.name) if definition is not None else None
        if not isinstance(found, GraphQLObjectType):
            raise GraphQLError(f"No object type for {type(value).__name__}.")
        return found

    # -- the operation -----------------------------------------------------------------

    async def _root(
        self, field: GraphQLField, nodes: list[FieldNode], query: GraphQLObjectType, path: Path
    ) -> Any:
        try:
            value = await self._resolve_root(field, nodes, query, path)
            if self.write is not None:
                return self.write(path, value)
            return self.complete(field.type, nodes, query, path, value)
        except Exception as raw:  # noqa: BLE001 - as the executor handles a root field
            self._field_error(raw, field.type, nodes, path)
            return None

    def roots(self) -> Grouped:
        """The root fields to run, by response key (nothing has run yet)."""
        if self.shapes.roots is None:
            query = self.schema.query_type
            assert query is not None
            self.shapes.roots = self.collect(query, self.operation.selection_set, {}, set())
        return self.shapes.roots

    async def run(self, grouped: Grouped) -> dict[str, Any] | None:
        query = self.schema.query_type
        assert query is not None
        data: dict[str, Any] = {}
        pending: dict[str, Any] = {}
        for key, nodes in grouped.items():
            name = nodes[0].name.value
            if name == "__typename":
                data[key] = query.name
                continue
            data[key] = None  # keeps the document's order of keys
            pending[key] = self._root(query.fields[name], nodes, query, Path(None, key, "Query"))
        try:
            if len(pending) == 1:
                ((key, awaitable),) = pending.items()
                data[key] = await awaitable
            elif pending:
                done = await gather_with_cancel(*pending.values())
                data.update(zip(pending, done, strict=True))
        except GraphQLError as error:
            self.errors.append(error)
            return None
        return data
