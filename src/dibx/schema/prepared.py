"""Parsing and validation kept off the event loop for large documents, and done once per
document and caller for every document.

graphql-core parses and validates in pure Python: an alias-heavy document of a few kilobytes
costs tens of milliseconds of CPU. Run on the event loop, every other request waits behind
it, so a flood of such documents (each then refused by the request budget) starved small
queries even with large bodies admitted two at a time (`dibx.app.admission`).

- A document over `offload_bytes` is parsed and validated in a worker thread. The loop keeps
  serving: it takes the GIL back within the interpreter's switch interval (5 ms) whenever it
  has work. One document at a time per schema is worked on this way (`DocumentCache.workers`):
  each busy thread takes its share of the GIL, so two would leave the loop a third, not half.
- A document that parsed and validated without error is remembered, keyed by its text and
  the caller's scopes: the scope gate (`ScopeGate`) is the only rule that depends on the
  caller; the depth, alias, token and introspection rules are fixed per schema, and each
  schema has its own cache. Errors are never cached: each request reports its own, shaped
  as before (`ShapeErrors`). Cached documents are not mutated by execution.

Must run after every extension that adds validation rules in `on_validate` (`ScopeGate`).
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import Any

import anyio.to_thread
from graphql import DocumentNode, GraphQLError, parse
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

# Stands in for a document whose parse failed in the worker thread, so that strawberry does
# not parse it again on the loop; the parse error is then reported from `on_validate`, on
# the path (and with the shaping) a validation error takes. Of a type the request allows
# (a query over HTTP, a subscription over the socket), so it passes the operation-type
# check that comes between parse and validation.
_FAILED_PARSE = {
    OperationType.QUERY: parse("query { __typename }"),
    OperationType.SUBSCRIPTION: parse("subscription { __typename }"),
}
_Key = tuple[str, frozenset[str]]


class DocumentCache:
    """Documents that parsed and validated cleanly, per (text, caller's scopes); LRU.

    A document has at most `max_tokens` tokens (the parser stops there), so its tree is
    bounded (about 0.3 MB for a 800-token document); documents over `max_text` characters
    are not kept at all."""

    def __init__(self, *, size: int = 64, max_text: int = 16_384) -> None:
        self.size = size
        self.max_text = max_text
        self._documents: OrderedDict[_Key, DocumentNode] = OrderedDict()
        self.workers = anyio.CapacityLimiter(1)  # parses and validations off the loop at once

    def get(self, key: _Key) -> DocumentNode | None:
        document = self._documents.get(key)
        if document is not None:
            self._documents.move_to_end(key)
        return document

    def put(self, key: _Key, document: DocumentNode) -> None:
        if len(key[0]) > self.max_text:
            return
        self._documents[key] = document
        self._documents.move_to_end(key)
        while len(self._documents) > self.size:
            self._documents.popitem(last=False)


def _parse(query: str, options: dict[str, Any]) -> DocumentNode | GraphQLError:
    """Parse as strawberry does, returning its error rather than raising it."""
    try:
        return parse(query, **options)
    except GraphQLError as error:
        return error
    except Exception as error:  # noqa: BLE001 - strawberry wraps any parse failure so
        return GraphQLError(str(error), original_error=error)


def _stand_in(allowed: Iterable[OperationType]) -> DocumentNode | None:
    return next((_FAILED_PARSE[t] for t in _FAILED_PARSE if t in allowed), None)


class PreparedDocuments(SchemaExtension):
    def __init__(self, cache: DocumentCache, *, offload_bytes: int) -> None:
        self.cache = cache
        self.offload_bytes = offload_bytes
        self._key: _Key | None = None
        self._cached = False
        self._parse_error: GraphQLError | None = None

    def _large(self) -> bool:
        return len(self.execution_context.query or "") > self.offload_bytes

    async def on_parse(self) -> AsyncIterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        if context.query and context.graphql_document is None and principal is not None:
            self._key = (context.query, frozenset(principal.scopes))
            document = self.cache.get(self._key)
            if document is not None:
                context.graphql_document = document
                self._cached = True
            elif self._large() and (stand_in := _stand_in(context.allowed_operations)) is not None:
                parsed = await anyio.to_thread.run_sync(
                    _parse, context.query, dict(context.parse_options), limiter=self.cache.workers
                )
                if isinstance(parsed, GraphQLError):
                    self._parse_error = parsed
                    context.graphql_document = stand_in
                else:
                    context.graphql_document = parsed
        yield

    async def on_validate(self) -> AsyncIterator[None]:
        context = self.execution_context
        if self._parse_error is not None:
            context.pre_execution_errors = [self._parse_error]
        elif self._cached:
            context.pre_execution_errors = []  # validated before, for the same scopes
        elif (
            self._key is not None
            and self._large()
            and context.pre_execution_errors is None
            and context.validation_rules
            and context.graphql_document is not None
        ):
            context.pre_execution_errors = await anyio.to_thread.run_sync(
                functools.partial(
                    validate_document,
                    context.schema._schema,
                    context.graphql_document,
                    context.validation_rules,
                ),
                limiter=self.cache.workers,
            )
        yield
        # Validated here or by strawberry (small documents, on the loop): remember it if clean.
        document = context.graphql_document
        if (
            self._key is not None
            and not self._cached
            and self._parse_error is None
            and document is not None
            and context.pre_execution_errors == []
        ):
            self.cache.put(self._key, document)
