"""Depth, alias and list limits that answer LIMIT_EXCEEDED with the limit and the measured
value (`extensions.limit`, `.maximum`, `.measured`), so a client can tell a limit from a
mistake in its document.

A list argument takes at most `max_list_args` values (`DIBX_MAX_LIST_ARGS`): each value
becomes an element of a Cypher list parameter, and without a bound a list could hold as many
values as the body limit lets through. A list written in the document is measured by a
validation rule (fixed per document, so cached documents stay valid); a list given in the
variables by `ListArguments`, for every request, before anything runs (HTTP and the
subscription socket alike).

They replace strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter`, which report a bare
validation error and stop measuring at the limit. Depth counts as strawberry's does: a root
field whose selections are leaves has depth 1; introspection fields (`__schema`, ...) are not
counted. Fragments are measured once each (memoized), so a document that spreads fragments
into fragments costs time linear in its size, not exponential in its nesting.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)
from strawberry.extensions import SchemaExtension

from dibx.errors import LimitExceeded

_Fragments = dict[str, FragmentDefinitionNode]


class _Measure:
    """Depth and alias count of selection sets, fragments measured once."""

    def __init__(self, fragments: _Fragments) -> None:
        self.fragments = fragments
        self._depth: dict[str, int] = {}
        self._aliases: dict[str, int] = {}
        self._open: set[str] = set()  # fragments being measured (a cycle, invalid anyway)

    def depth(self, selections: SelectionSetNode | None) -> int:
        deepest = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                if selection.name.value.startswith("__") or selection.selection_set is None:
                    continue
                deepest = max(deepest, 1 + self.depth(selection.selection_set))
            elif isinstance(selection, InlineFragmentNode):
                deepest = max(deepest, self.depth(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                deepest = max(deepest, self._fragment(selection.name.value, self._depth, False))
        return deepest

    def aliases(self, selections: SelectionSetNode | None) -> int:
        count = 0
        for selection in selections.selections if selections else ():
            if isinstance(selection, FieldNode):
                count += (selection.alias is not None) + self.aliases(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                count += self.aliases(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                count += self._fragment(selection.name.value, self._aliases, True)
        return count

    def _fragment(self, name: str, memo: dict[str, int], aliases: bool) -> int:
        if name in memo:
            return memo[name]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._open:
            return 0  # unknown fragment or a cycle: other rules report those
        self._open.add(name)
        measured = (self.aliases if aliases else self.depth)(fragment.selection_set)
        self._open.discard(name)
        memo[name] = measured
        return measured


def _error(limit: str, maximum: int, measured: int, message: str, nodes: Any) -> GraphQLError:
    cause = LimitExceeded(message, limit=limit, maximum=maximum, measured=measured)
    return GraphQLError(str(cause), nodes, original_error=cause)


def _parts(context: ValidationContext) -> tuple[list[OperationDefinitionNode], _Measure]:
    definitions = context.document.definitions
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    return operations, _Measure(fragments)


def depth_limit(maximum: int) -> type[ValidationRule]:
    class DepthLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            operations, measure = _parts(context)
            for operation in operations:
                depth = measure.depth(operation.selection_set)
                if depth > maximum:
                    name = operation.name.value if operation.name else "anonymous"
                    message = (
                        f"the operation '{name}' is {depth} levels deep, over the limit of "
                        f"{maximum}: select less deeply, or follow up with a second request"
                    )
                    context.report_error(_error("depth", maximum, depth, message, [operation]))

    return DepthLimit


def alias_limit(maximum: int) -> type[ValidationRule]:
    class AliasLimit(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            operations, measure = _parts(context)
            count = sum(measure.aliases(o.selection_set) for o in operations)
            if count > maximum:
                message = f"the document uses {count} aliases, over the limit of {maximum}"
                context.report_error(_error("aliases", maximum, count, message, None))

    return AliasLimit


LIST_ARGS = "listArgs"


def _list_message(measured: int, maximum: int) -> str:
    return (
        f"a list argument holds {measured} values, over the limit of {maximum}: split the request"
    )


def list_limit(maximum: int) -> type[ValidationRule]:
    """Lists written in the document (arguments and variable defaults)."""

    class ListLimit(ValidationRule):
        def enter_list_value(self, node: ListValueNode, *_: Any) -> None:
            measured = len(node.values)
            if measured > maximum:
                message = _list_message(measured, maximum)
                self.report_error(_error(LIST_ARGS, maximum, measured, message, [node]))

    return ListLimit


def longest_list(value: object) -> int:
    """The length of the longest list anywhere in a JSON value (variables as sent)."""
    longest, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            longest = max(longest, len(item))
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return longest


def variables_over(variables: object, maximum: int) -> LimitExceeded | None:
    """LimitExceeded if the variables hold a list of more than `maximum` values."""
    measured = longest_list(variables)
    if measured <= maximum:
        return None
    message = _list_message(measured, maximum)
    return LimitExceeded(message, limit=LIST_ARGS, maximum=maximum, measured=measured)


class ListArguments(SchemaExtension):
    """Refuses, before validation and execution, variables that hold a list over the limit.
    Runs after `PreparedDocuments` (whose cached documents it must not keep from refusal)."""

    def __init__(self, maximum: int) -> None:
        self.maximum = maximum

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if not context.pre_execution_errors:
            over = variables_over(context.variables, self.maximum)
            if over is not None:
                context.pre_execution_errors = [GraphQLError(str(over), original_error=over)]
        yield
