"""The GraphQL schema: types, root fields, limits and extensions."""

import strawberry
import structlog
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from dibx.graph.model import MODEL, Model
from dibx.schema.analytics import AnalyticsQuery
from dibx.schema.challenges import ChallengeQuery, Mutation
from dibx.schema.changes import ChangesQuery
from dibx.schema.connection import Names
from dibx.schema.cost import RequestCost
from dibx.schema.directory import directory_query
from dibx.schema.extensions import Disclosure, ScopeGate, ShapeErrors, is_user_error
from dibx.schema.imports import ImportMutation, ImportQuery
from dibx.schema.limits import ListArguments, alias_limit, depth_limit, list_limit
from dibx.schema.live import Subscription
from dibx.schema.prepared import DocumentCache, PreparedDocuments
from dibx.schema.review import ReviewMutation, ReviewQuery
from dibx.schema.scalars import SCALARS
from dibx.schema.stewardship import Inputs, build_mutation, history_fields
from dibx.schema.types import build_types

log = structlog.get_logger("dibx.schema")


class DibxSchema(strawberry.Schema):
    """Logs the caller's own mistakes in one line; tracebacks only for our failures.

    Carries the documents it validated (`dibx.schema.prepared`) and whether its error
    messages keep suggestions, for the compiled response path (`dibx.schema.fastpath`)."""

    documents: DocumentCache | None = None
    suggestions: bool = True
    max_list_args: int = 100  # the compiled path leaves longer lists to the executor

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if is_user_error(error):
                log.info("graphql_request_error", message=error.message)
            else:
                StrawberryLogger.error(error, execution_context)


def build_schema(
    model: Model = MODEL,
    *,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
    max_list_args: int = 100,
    introspection: bool = True,
    offload_bytes: int = 2048,
) -> strawberry.Schema:
    # Suggestions go with introspection: "Did you mean ...?" would recover the schema.
    extensions: list[object] = [
        lambda: ShapeErrors(suggestions=introspection),
        lambda: AddValidationRules(
            [depth_limit(max_depth), alias_limit(max_aliases), list_limit(max_list_args)]
        ),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        ScopeGate,
        RequestCost,
        Disclosure,
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    # Last: it validates with the rules the others added (see dibx.schema.prepared).
    documents = DocumentCache()
    extensions.append(lambda: PreparedDocuments(documents, offload_bytes=offload_bytes))
    # After it: lists in the variables are measured on every request, cached document or not.
    extensions.append(lambda: ListArguments(max_list_args))
    # The object types are the model's; the runtime serving this schema must compile reads
    # with the same model (`Directory.model`).
    types = build_types(model, extra=history_fields(model))
    roots = (
        AnalyticsQuery,
        ChallengeQuery,
        ChangesQuery,
        ReviewQuery,
        ImportQuery,
        directory_query(types),
    )
    query = strawberry.type(
        type("Query", roots, {}), description="Reads: the directory, analyses and challenges."
    )
    schema = DibxSchema(
        query=query,
        mutation=strawberry.type(
            type(
                "Mutation",
                (Mutation, ReviewMutation, ImportMutation, build_mutation(Inputs(model))),
                {},
            ),
            description="Changes: stewarded writes, marking challenges and their decisions.",
        ),
        subscription=Subscription,  # over graphql-transport-ws only (dibx.app.live)
        types=list(types.nodes.values()),
        extensions=extensions,  # type: ignore[arg-type]
        scalar_overrides=SCALARS,  # type: ignore[arg-type]
        config=StrawberryConfig(auto_camel_case=True, name_converter=Names()),
    )
    schema.documents = documents
    schema.max_list_args = max_list_args
    schema.suggestions = introspection
    return schema
