"""Schema extensions: scope gate, error shaping, and the withheld/banner extensions."""

import re
from collections.abc import Iterator
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSyntaxError,
    ValidationRule,
    ValueNode,
    VariableDefinitionNode,
)
from strawberry.extensions import MaskErrors, SchemaExtension

from dibx.errors import DibxError, Invalid, LimitExceeded
from dibx.schema.scopes import scope_of

# What a root field that declares no scope needs: a scope nobody has (deny by default).
_UNGRANTABLE = "none:ungrantable"
INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"


class ScopeGate(SchemaExtension):
    """Refuses the whole operation, before it runs, if any root field needs a missing scope
    (the scope each declares where it is defined, `dibx.schema.scopes`)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context.context
        scopes = frozenset(context.principal.scopes)

        class RootScopes(ValidationRule):
            def enter_field(self, node: FieldNode, *_: Any) -> None:
                parent = self.context.get_parent_type()
                if parent is None or parent.name not in {"Query", "Mutation", "Subscription"}:
                    return
                name = node.name.value
                field = self.context.get_field_def()
                if name.startswith("__") or field is None:
                    # A field the schema lacks is for validation to report, not a scope.
                    return
                needed = scope_of(field) or _UNGRANTABLE
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


# graphql-core's `did_you_mean`: " Did you mean [the enum value ]'a', 'b', or 'c'?". The
# quoted parts are schema names, which hold no quote.
_SUGGESTION = re.compile(r" Did you mean (?:the enum value )?'[^']*'(?:,? (?:or )?'[^']*')*\?")
# graphql-core's parser, on reaching `max_tokens` (strawberry's MaxTokensLimiter sets it).
_TOO_MANY_TOKENS = re.compile(r"Document contains more than (\d+) tokens")


def over_token_limit(error: GraphQLError) -> LimitExceeded | None:
    """The parser's refusal of a document over `max_tokens`, as the limit it is."""
    tokens = _TOO_MANY_TOKENS.search(error.message)
    if not isinstance(error, GraphQLSyntaxError) or tokens is None:
        return None
    # The parser stops at the first token over the limit: that is what it measured.
    maximum = int(tokens.group(1))
    return LimitExceeded(
        f"the document has more than {maximum} tokens, the limit",
        limit="tokens",
        maximum=maximum,
        measured=maximum + 1,
    )


def _is_input_error(error: GraphQLError) -> bool:
    """A bad value the caller sent. graphql-core reports a bad variable (wrong type, missing,
    unknown enum value, malformed scalar) against the variable's definition before
    execution, and a bad argument value (say a null variable for a non-null argument)
    against the literal or variable during execution. Errors about our own values (a
    result that fails to serialize) name no such node, and stay masked."""
    if any(isinstance(node, VariableDefinitionNode) for node in error.nodes or ()):
        return True
    original = error.original_error
    return isinstance(original, GraphQLError) and any(
        isinstance(node, ValueNode) for node in original.nodes or ()
    )


def is_user_error(error: GraphQLError) -> bool:
    """The caller's own mistake, safe to show: validation, input values, or a DibxError."""
    original = error.original_error
    return original is None or isinstance(original, DibxError) or _is_input_error(error)


class ShapeErrors(MaskErrors):
    """Errors meant for the user keep their message and gain a code; all others are masked.

    Validation and syntax errors (no original error) and bad variable values describe the
    caller's own request, so they are shown; anything raised by our code that is not a
    DibxError could carry internal detail (driver messages, stored values), so it becomes
    "Unexpected error." Without `suggestions` (production), graphql-core's "Did you mean
    ...?" hints are cut, since they spell out the schema that introspection would have.
    strawberry does not pass graphql-core 3.3's `hide_suggestions` to validation or
    execution, and its own `disable_field_suggestions` covers field names only, so the
    hint is cut here, from every kind of error.
    """

    def __init__(self, *, suggestions: bool = True) -> None:
        super().__init__(should_mask_error=lambda e: not is_user_error(e))
        self.suggestions = suggestions

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return [self._shape(error) for error in super()._process_errors(errors)]

    def _shape(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        message, extensions = error.message, error.extensions
        if isinstance(original, DibxError):
            message = str(original)
            extensions = {**(extensions or {}), "code": original.code}
            if original.field is not None:
                extensions["field"] = original.field
            if isinstance(original, LimitExceeded):
                extensions.update(original.extensions())
        elif original is None and message == self.error_message:
            extensions = {"code": "INTERNAL"}
        elif _is_input_error(error):
            extensions = {"code": Invalid.code}
        elif (limit := over_token_limit(error)) is not None:
            message = str(limit)
            extensions = {"code": limit.code, **limit.extensions()}
        elif isinstance(error, GraphQLSyntaxError):
            extensions = {"code": "GRAPHQL_PARSE_FAILED"}
        elif original is None and not extensions:
            extensions = {"code": "GRAPHQL_VALIDATION_FAILED"}
        if not self.suggestions:
            message = _SUGGESTION.sub("", message)
        return GraphQLError(
            message, error.nodes, error.source, error.positions, error.path, None, extensions
        )


class Disclosure(SchemaExtension):
    """Adds the banner and the withheld fields to the response's `extensions`."""

    def get_results(self) -> dict[str, Any]:
        context = self.execution_context.context
        if context is None or not hasattr(context, "disclosure"):
            return {}
        return releasability(context)


def releasability(context: Any) -> dict[str, Any]:
    """The response's `extensions`: the banner and the withheld fields of this request."""
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
