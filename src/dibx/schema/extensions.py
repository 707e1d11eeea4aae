"""Schema extensions: scope gate, error shaping, and the withheld/banner extensions."""

from collections.abc import Iterator
from typing import Any

from graphql import FieldNode, GraphQLError, ValidationRule
from strawberry.extensions import MaskErrors, SchemaExtension

from dibx.auth.principal import (
    MARKING_ADJUDICATE,
    MARKING_CHALLENGE,
    SUPPLIER_READ,
    SUPPLY_CHAIN_READ,
)
from dibx.errors import DibxError

# Every root field and the scope it needs. A root field missing here needs a scope nobody
# has: deny by default.
ROOT_SCOPES: dict[str, str] = {
    "node": SUPPLIER_READ,
    "supplier": SUPPLIER_READ,
    "suppliers": SUPPLIER_READ,
    "capability": SUPPLIER_READ,
    "capabilities": SUPPLIER_READ,
    "nation": SUPPLIER_READ,
    "nations": SUPPLIER_READ,
    "agreement": SUPPLIER_READ,
    "agreements": SUPPLIER_READ,
    "viewer": SUPPLIER_READ,
    "capabilityGap": SUPPLY_CHAIN_READ,
    "supplyChain": SUPPLY_CHAIN_READ,
    "singlePointsOfFailure": SUPPLY_CHAIN_READ,
    "concentration": SUPPLY_CHAIN_READ,
    "exposure": SUPPLY_CHAIN_READ,
    "disruption": SUPPLY_CHAIN_READ,
    "substitutes": SUPPLY_CHAIN_READ,
    "tradePathway": SUPPLY_CHAIN_READ,
    "markingChallenge": MARKING_CHALLENGE,
    "markingChallenges": MARKING_CHALLENGE,
    "challengeMarking": MARKING_CHALLENGE,
    "escalateChallenge": MARKING_CHALLENGE,
    "decideChallenge": MARKING_ADJUDICATE,
}
_UNGRANTABLE = "none:ungrantable"
INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"


class ScopeGate(SchemaExtension):
    """Refuses the whole operation, before it runs, if any root field needs a missing scope."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context.context
        scopes = frozenset(context.principal.scopes)

        class RootScopes(ValidationRule):
            def enter_field(self, node: FieldNode, *_: Any) -> None:
                parent = self.context.get_parent_type()
                if parent is None or parent.name not in {"Query", "Mutation"}:
                    return
                name = node.name.value
                if name.startswith("__"):
                    return
                needed = ROOT_SCOPES.get(name, _UNGRANTABLE)
                if needed not in scopes:
                    self.report_error(
                        GraphQLError(
                            f"`{name}` needs the scope {needed}",
                            node,
                            extensions={"code": INSUFFICIENT_SCOPE, "scope": needed},
                        )
                    )

        rules = self.execution_context.validation_rules
        self.execution_context.validation_rules = (*rules, RootScopes)
        yield


def _is_user_error(error: GraphQLError) -> bool:
    return error.original_error is None or isinstance(error.original_error, DibxError)


class ShapeErrors(MaskErrors):
    """Errors meant for the user keep their message and gain a code; all others are masked.

    Validation and syntax errors (no original error) describe the caller's own document, so
    they are shown; anything raised by our code that is not a DibxError could carry internal
    detail (driver messages, stored values), so it becomes "Unexpected error."
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=lambda e: not _is_user_error(e))

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        shaped = []
        for error in super()._process_errors(errors):
            original = error.original_error
            if isinstance(original, DibxError):
                extensions = {**(error.extensions or {}), "code": original.code}
                if original.field is not None:
                    extensions["field"] = original.field
                error = GraphQLError(
                    str(original),
                    error.nodes,
                    error.source,
                    error.positions,
                    error.path,
                    None,
                    extensions,
                )
            elif (
                error.original_error is None
                and not error.extensions
                and error.message != self.error_message
            ):
                error = GraphQLError(
                    error.message,
                    error.nodes,
                    error.source,
                    error.positions,
                    error.path,
                    None,
                    {"code": "GRAPHQL_VALIDATION_FAILED"},
                )
            elif error.message == self.error_message:
                error.extensions = {"code": "INTERNAL"}
            shaped.append(error)
        return shaped


class Disclosure(SchemaExtension):
    """Adds the banner and the withheld fields to the response's `extensions`."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if context is None or not hasattr(context, "disclosure"):
            return {}
        disclosure = context.disclosure
        tetragraphs = getattr(context, "tetragraphs", {})
        return {
            "releasability": {
                "banner": disclosure.banner(tetragraphs, context.policy.cui_release_groups),
                "nation": context.principal.nation,
                "withheld": [{"path": p, "marking": m} for p, m in disclosure.withheld],
                "policyVersion": context.policy.version,
            }
        }
