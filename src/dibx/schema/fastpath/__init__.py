"""The compiled response path: answers a query of compiled reads without graphql-core's
executor, with the response the executor would give.

A request takes the path when its document already parsed and validated cleanly for the
caller's scopes (`dibx.schema.prepared` keeps those documents: the scope gate is checked per
request through that key), when its operation is covered (`coverage`, decided once per
document and operation name), when its variables coerce, and when the whole request stays
within the request budget (`dibx.schema.cost`). Otherwise it runs through strawberry as
before, and a debug line (`compiled_response_fallback`) says why. Errors, `data`, and
`extensions.releasability` are built as the executor and the schema's extensions build them
(`ShapeErrors`, `releasability`).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import structlog
from graphql import GraphQLError
from graphql.execution.values import get_variable_values
from strawberry.types import ExecutionResult

from dibx.schema.cost import operation_cost
from dibx.schema.extensions import ShapeErrors, releasability
from dibx.schema.fastpath.coverage import Covered, coverage
from dibx.schema.fastpath.execute import Call, Execution

log = structlog.get_logger("dibx.fastpath")
_Plan = Covered | str


class CompiledResponses:
    """The path for one schema; `plans` remembers per document and operation name whether
    the operation is covered (keyed by the document's hash; LRU)."""

    def __init__(self, schema: Any, *, size: int = 256) -> None:
        self.schema = schema
        self.size = size
        self.plans: OrderedDict[tuple[str, str | None], _Plan] = OrderedDict()
        self.shape = ShapeErrors(suggestions=getattr(schema, "suggestions", True))
        self.enabled = True
        self.answered = 0  # requests this path answered (for metrics and tests)
        self.calls: dict[int, Call] = {}  # how each schema field's resolver is called

    def _plan(self, query: str, document: Any, operation_name: str | None) -> _Plan:
        key = (hashlib.sha256(query.encode()).hexdigest(), operation_name)
        plan = self.plans.get(key)
        if plan is None:
            plan = coverage(self.schema._schema, document, operation_name)
            self.plans[key] = plan
            while len(self.plans) > self.size:
                self.plans.popitem(last=False)
        else:
            self.plans.move_to_end(key)
        return plan

    def _refusal(
        self, query: str | None, variables: Any, operation_name: str | None, context: Any
    ) -> tuple[Covered, Any] | str:
        if not self.enabled:
            return "switched off"
        documents = getattr(self.schema, "documents", None)
        principal = getattr(context, "principal", None)
        if not query or documents is None or principal is None:
            return "no document"
        document = documents.get((query, frozenset(principal.scopes)))
        if document is None:
            return "document not yet validated for these scopes"
        plan = self._plan(query, document, operation_name)
        if isinstance(plan, str):
            return plan
        schema = self.schema._schema
        coerced = get_variable_values(
            schema, plan.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            return "variables do not coerce"
        cost = operation_cost(schema, plan.operation, plan.fragments, coerced, context.directory)
        # As `RequestCost` decides: None (a root field's arguments are wrong) runs, and the
        # field reports what is wrong; over the budget, the executor refuses the request.
        if cost is not None and cost > context.budget.max_cost:
            return "request over its budget"
        return plan, coerced

    async def answer(
        self, query: str | None, variables: Any, operation_name: str | None, context: Any
    ) -> ExecutionResult | None:
        """The response to a covered query, or None: the executor is to answer."""
        found = self._refusal(query, variables, operation_name, context)
        if isinstance(found, str):
            log.debug("compiled_response_fallback", reason=found, operation=operation_name)
            return None
        plan, coerced = found
        execution = Execution(
            self.schema._schema, plan.operation, plan.fragments, coerced, context, self.calls
        )
        try:
            roots = execution.roots()
        except Exception:  # nothing has run: the executor answers instead
            log.warning("compiled_response_fallback", reason="root fields", exc_info=True)
            return None
        data = await execution.run(roots)
        self.answered += 1
        errors: list[GraphQLError] | None = None
        if execution.errors:
            self.schema.process_errors(execution.errors)
            errors = self.shape._process_errors(execution.errors)
        return ExecutionResult(data=data, errors=errors, extensions=releasability(context))
