"""The compiled response path: answers a query of compiled reads without graphql-core's
executor, with the response the executor would give.

A request takes the path when its document already parsed and validated cleanly for the
caller's scopes (`dibx.schema.prepared` keeps those documents: the scope gate is checked per
request through that key), when its operation is covered (`coverage`), when its variables
coerce, and when the whole request stays within the request budget (`dibx.schema.cost`).

What depends only on the document, the operation and the caller's scopes is worked out once
and kept as a `Plan`, keyed by all three (the document by its hash): whether the operation
is covered, the fields collected under each field and how each field's resolver is called
(`Shapes`), and the steps that write its response straight from the compiled rows (`steps`,
`writer`). Where `@skip`/`@include` read variables, the fields selected depend on their
values: shapes and steps are then kept per set of those values (`Shaped`, a few per plan).
A plan exists only for scopes the document was validated for, so finding one is the scope
gate's answer for this caller; the scopes are in the key so that a caller with other
scopes never reaches a plan made for someone else. The rest runs on every request: the
variables, the request budget (which depends on the caller), the root resolvers (arguments,
limits, the compiled read), every release check, the banner and the audit. Otherwise it
runs through strawberry as before, and a debug line (`compiled_response_fallback`) says
why. Errors, `data`, and `extensions.releasability` are built as the executor and the
schema's extensions build them (`ShapeErrors`, `releasability`).

Below the root fields, steps write the response from the rows (`writer`): no resolver is
called and no object built for a nested record. Without them (a field selected that declares
no step, or the writer switched off) `Execution` completes it field by field through the
resolvers, and a debug line (`compiled_response_unwritten`) says why.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from graphql import GraphQLError
from graphql.execution.values import VariableValues, get_variable_values
from strawberry.types import ExecutionResult

from dibx.schema.cost import operation_cost
from dibx.schema.extensions import ShapeErrors, releasability
from dibx.schema.fastpath.coverage import Covered, coverage
from dibx.schema.fastpath.execute import Call, Execution, Shapes
from dibx.schema.fastpath.steps import RootSteps, compile_steps
from dibx.schema.fastpath.writer import Writing
from dibx.schema.limits import variables_over

log = structlog.get_logger("dibx.fastpath")
# (the document's hash, the operation's name, the caller's scopes)
PlanKey = tuple[str, str | None, frozenset[str]]
COSTS_PER_PLAN = 64
# Sets of `@skip`/`@include` variable values whose shapes and steps a plan keeps (LRU).
SHAPED_PER_PLAN = 16


@dataclass(frozen=True, slots=True)
class Shaped:
    """What a plan's fields come to for one set of `@skip`/`@include` values."""

    shapes: Shapes
    # Each root field's steps, by response key; or why the response is not written.
    steps: dict[str, RootSteps] | str


@dataclass(frozen=True, slots=True)
class Plan:
    covered: Covered
    # For a document without directives; else one per set of `@skip`/`@include` values.
    shaped: Shaped | None
    by_switches: OrderedDict[tuple[Any, ...], Shaped] = field(default_factory=OrderedDict)
    # What the operation could fetch, by its variables (JSON, sorted keys); LRU. It depends
    # on nothing else: the page-size limits are the server's, and each request still checks
    # it against its caller's own budget.
    costs: OrderedDict[bytes, int | None] = field(default_factory=OrderedDict)

    def cost(self, variables: Any, compute: Callable[[], int | None]) -> int | None:
        try:
            key = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # not JSON (never from an HTTP body): not kept
            return compute()
        if key in self.costs:
            self.costs.move_to_end(key)
            return self.costs[key]
        found = self.costs[key] = compute()
        if len(self.costs) > COSTS_PER_PLAN:
            self.costs.popitem(last=False)
        return found


_Plan = Plan | str


class CompiledResponses:
    """The path for one schema; `plans` keeps a plan per document, operation and caller's
    scopes (LRU)."""

    def __init__(self, schema: Any, *, size: int = 256) -> None:
        self.schema = schema
        self.size = size
        self.plans: OrderedDict[PlanKey, _Plan] = OrderedDict()
        self.shape = ShapeErrors(suggestions=getattr(schema, "suggestions", True))
        self.enabled = True
        # False: the path's executor completes every operation, field by field, as it does
        # those the writer cannot write (so that tests can compare the two).
        self.writing = True
        self.answered = 0  # requests this path answered (for metrics and tests)
        self.written = 0  # of those, the requests whose response the writer wrote
        self.calls: dict[int, Call] = {}  # how each schema field's resolver is called

    def _plan(self, query: str, operation_name: str | None, scopes: frozenset[str]) -> _Plan:
        key = (hashlib.sha256(query.encode()).hexdigest(), operation_name, scopes)
        found = self.plans.get(key)
        if found is not None:
            self.plans.move_to_end(key)
            return found
        documents = getattr(self.schema, "documents", None)
        document = documents.get((query, scopes)) if documents is not None else None
        if document is None:
            return "document not yet validated for these scopes"  # not kept: it will be
        covered = coverage(self.schema._schema, document, operation_name)
        plan: _Plan = covered if isinstance(covered, str) else self._new(covered)
        self.plans[key] = plan
        while len(self.plans) > self.size:
            self.plans.popitem(last=False)
        return plan

    def _new(self, covered: Covered) -> Plan:
        return Plan(covered, self._shaped(covered, {}) if covered.static else None)

    def _shaped(self, covered: Covered, switches: dict[str, Any]) -> Shaped:
        shapes = Shapes()
        # Collecting fields and fixed arguments needs no caller, and no variables but those
        # `@skip`/`@include` read (steps work out arguments set by variables per request).
        collecting = Execution(
            self.schema._schema,
            covered.operation,
            covered.fragments,
            VariableValues(sources={}, coerced=switches),
            None,
            self.calls,
            shapes,
        )
        steps: dict[str, RootSteps] | str
        try:
            steps = compile_steps(collecting)
        except Exception:  # a bug in compiling: the executor completes it instead
            log.warning("compiled_response_unwritten", reason="compiling", exc_info=True)
            steps = "the steps did not compile"
        return Shaped(shapes, steps)

    def _shaped_for(self, plan: Plan, variables: VariableValues) -> Shaped:
        """The plan's shapes and steps for this request's `@skip`/`@include` values."""
        if plan.shaped is not None:
            return plan.shaped
        names = plan.covered.switches
        values = tuple(variables.coerced.get(n) for n in names)
        found = plan.by_switches.get(values)
        if found is not None:
            plan.by_switches.move_to_end(values)
            return found
        found = plan.by_switches[values] = self._shaped(
            plan.covered, dict(zip(names, values, strict=True))
        )
        if len(plan.by_switches) > SHAPED_PER_PLAN:
            plan.by_switches.popitem(last=False)
        return found

    def _refusal(
        self, query: str | None, variables: Any, operation_name: str | None, context: Any
    ) -> tuple[Plan, Any] | str:
        if not self.enabled:
            return "switched off"
        principal = getattr(context, "principal", None)
        if not query or principal is None:
            return "no document"
        plan = self._plan(query, operation_name, frozenset(principal.scopes))
        if isinstance(plan, str):
            return plan
        over = variables_over(variables, getattr(self.schema, "max_list_args", 100))
        if over is not None:
            return "a list in the variables is over its limit"  # the executor refuses it
        schema = self.schema._schema
        covered = plan.covered
        coerced = get_variable_values(
            schema, covered.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            return "variables do not coerce"
        directory = context.directory
        cost = plan.cost(
            variables or {},
            lambda: operation_cost(
                schema, covered.operation, covered.fragments, coerced, directory
            ),
        )
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
        covered = plan.covered
        try:
            shaped = self._shaped_for(plan, coerced)
            execution = Execution(
                self.schema._schema,
                covered.operation,
                covered.fragments,
                coerced,
                context,
                self.calls,
                shaped.shapes,
            )
            roots = execution.roots()
        except Exception:  # nothing has run: the executor answers instead
            log.warning("compiled_response_fallback", reason="root fields", exc_info=True)
            return None
        steps = shaped.steps if self.writing else "the writer is switched off"
        if isinstance(steps, str):
            log.debug("compiled_response_unwritten", reason=steps, operation=operation_name)
        else:
            execution.write = Writing(execution, context, steps).root
        data = await execution.run(roots)
        self.answered += 1
        if execution.write is not None:
            self.written += 1
        errors: list[GraphQLError] | None = None
        if execution.errors:
            self.schema.process_errors(execution.errors)
            errors = self.shape._process_errors(execution.errors)
        return ExecutionResult(data=data, errors=errors, extensions=releasability(context))
