"""Depth and alias limits as validation rules that answer LIMIT_EXCEEDED with the limit and
the measured value (`extensions.limit`, `.maximum`, `.measured`), so a client can tell a
limit from a mistake in its document.

They replace strawberry's `QueryDepthLimiter` and `MaxAliasesLimiter`, which report a bare
validation error and stop measuring at the limit. Depth counts as strawberry's does: a root
field whose selections are leaves has depth 1; introspection fields (`__schema`, ...) are not
counted. Fragments are measured once each (memoized), so a document that spreads fragments
into fragments costs time linear in its size, not exponential in its nesting.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

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
