"""Refuses, before anything runs, a query whose root fields together would fetch more records
than the request budget allows.

Root fields run concurrently and, when one fails, graphql-core cancels the others: a budget
refusal found during execution (say at the second of 30 aliases) would cancel reads already
streaming and drop their connections. Summing the whole operation first refuses an alias
flood at no cost; the budget is still charged field by field as the reads start (`Directory`),
so a query this estimate misses is still held to the limit.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionResult,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    get_operation_ast,
)
from graphql.execution.values import VariableValues, get_variable_values
from strawberry.extensions import SchemaExtension

from dibx.errors import DibxError, LimitExceeded
from dibx.schema.selection import walk
from dibx.services.directory import Directory


@dataclass
class _Walk:
    """The two attributes `selection.walk` reads of a resolve info (duck-typed), so the
    operation can be walked before execution."""

    variable_values: Any  # graphql-core's coerced VariableValues
    fragments: dict[str, FragmentDefinitionNode]


class RequestCost(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        cost = self._cost(context)
        if cost is not None and cost > context.budget.max_cost:
            error = LimitExceeded(
                f"this request could fetch up to {cost} records in all (its root fields and "
                f"aliases together), over the limit of {context.budget.max_cost}: ask for "
                "fewer fields or smaller pages, or split the request",
                limit="cost",
                maximum=context.budget.max_cost,
                measured=cost,
            )
            self.execution_context.result = ExecutionResult(
                data=None, errors=[GraphQLError(str(error), original_error=error)]
            )
        yield

    def _cost(self, context: Any) -> int | None:
        """Records the query's root fields could fetch, or None when it cannot be told here
        (bad variables, not a query): execution then reports what is wrong."""
        document = self.execution_context.graphql_document
        if document is None or not hasattr(context, "budget"):
            return None
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if not isinstance(operation, OperationDefinitionNode):
            return None
        if operation.operation is not OperationType.QUERY:
            return None
        schema = self.execution_context.schema._schema
        variables = get_variable_values(
            schema, operation.variable_definitions or (), self.execution_context.variables or {}
        )
        if isinstance(variables, list):  # coercion errors
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        return operation_cost(schema, operation, fragments, variables, context.directory)


def operation_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
    directory: Directory,
) -> int | None:
    """Records a query's root fields could fetch together, or None when a root field's own
    arguments are wrong (it reports that itself when it runs)."""
    if schema.query_type is None:
        return None
    try:
        roots = walk(
            _Walk(variables, fragments),  # type: ignore[arg-type]
            operation.selection_set,
            schema.query_type,
        )
        total = 0
        for root in roots:
            first = root.arg("first")
            rows = first if isinstance(first, int) and first > 0 else 1
            total += rows + directory.check_nested(list(root.children), rows)
    except (DibxError, GraphQLError, KeyError):
        return None  # the field itself reports what is wrong when it runs
    return total
