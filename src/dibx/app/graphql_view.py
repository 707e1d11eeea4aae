"""The /graphql endpoint: bearer token in, audited and marked response out.

Order of a request: declared size (413) -> token (401 if missing or bad) -> body, read up to
the size limit (413) -> caller's release scope and request budget -> GraphQL (scope gate 403,
limits, execution; each graph write audited before it commits, see
`dibx.services.audit.WriteAudit`) -> audit record (the request fails closed if the audit
cannot be written, or if a write was refused for want of one) -> response with banner and
withheld list under `extensions`. Neo4j unreachable: 503 SERVICE_UNAVAILABLE, audited; heavy
work refused by the gate: 429 with Retry-After. Rate limits (dibx.app.ratelimit): per address
before the token, per token holder right after it, both 429 with Retry-After.
"""

from __future__ import annotations

import hashlib
import re
import sys
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from cross_web import HTTPException
from graphql import FieldNode, GraphQLError, get_operation_ast, parse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from dibx.app.admission import LargeDocuments
from dibx.app.graphiql import graphiql_page
from dibx.app.observe import RequestAudit
from dibx.app.persisted import PersistedError, PersistedOperations
from dibx.app.ratelimit import RATE_LIMITED, RateLimits, too_many
from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.auth.tokens import TokenError, TokenValidator, bearer_token
from dibx.errors import Busy, LimitExceeded, TimedOut, Unavailable
from dibx.graph.driver import current_request_id, request_context
from dibx.schema.context import Context, Services
from dibx.schema.extensions import INSUFFICIENT_SCOPE, over_token_limit
from dibx.schema.fastpath import CompiledResponses
from dibx.services.audit import AuditError, AuditSink, WriteAudit
from dibx.services.budget import RequestBudget
from dibx.services.directory import Directory
from dibx.services.memberships import MembershipDirectory

log = structlog.get_logger("dibx.graphql")
GRAPHQL_RESPONSE = "application/graphql-response+json"
AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
RETRY_AFTER_S = "5"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class _TooLarge(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, read as it streams in and abandoned once over `limit` (raises
    _TooLarge); None if the client went away."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    # Keyword names stand for header names: retry_after -> Retry-After (it was sent as
    # "retry_after", which no client reads).
    named = {name.replace("_", "-"): value for name, value in headers.items()}
    return JSONResponse(body, status_code=status, headers=named or None)


@dataclass(frozen=True, slots=True)
class Operation:
    """What the audit record says the request asked for."""

    document: str = ""
    name: str | None = None
    kind: str | None = None  # query | mutation
    root_fields: tuple[str, ...] = ()
    limit: LimitExceeded | None = None  # the document is over the token limit (not named)


async def _operation(request: Request, inline_bytes: int, max_tokens: int | None) -> Operation:
    try:
        body = orjson.loads(await request.body())
    except (ValueError, RecursionError):  # strawberry's parse answers these with a 400
        return Operation()
    if not isinstance(body, dict):
        return Operation()
    document = str(body.get("query") or "")
    requested = body.get("operationName")
    name = requested if isinstance(requested, str) else None
    if len(document) > inline_bytes:
        # A large document's parse would hold the event loop (see dibx.schema.prepared).
        return await run_in_threadpool(parse_operation, document, name, max_tokens)
    return parse_operation(document, name, max_tokens)


class _Parsed:
    """`parse_operation`'s memory: at most `entries` operations and `max_bytes` of document
    text in all (LRU), so that distinct large documents (each up to the body limit) cannot
    make it hold hundreds of megabytes; a document over `max_bytes / 16` is not kept.
    Thread-safe: large documents are parsed in worker threads."""

    def __init__(self, *, entries: int = 256, max_bytes: int = 4_000_000) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self.bytes = 0
        self._kept: OrderedDict[tuple[str, str | None, int | None], Operation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str | None, int | None]) -> Operation | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: tuple[str, str | None, int | None], operation: Operation) -> None:
        size = sys.getsizeof(key[0])
        if size > self.max_bytes // 16:
            return
        with self._lock:
            if key in self._kept:
                return
            self._kept[key] = operation
            self.bytes += size
            while len(self._kept) > self.entries or self.bytes > self.max_bytes:
                (document, *_), _ = self._kept.popitem(last=False)
                self.bytes -= sys.getsizeof(document)


_PARSED = _Parsed()


def parse_operation(
    document: str, requested: str | None, max_tokens: int | None = None
) -> Operation:
    # The audit names the operation from a second parse of the document; dashboards send the
    # same documents again and again, so identical ones are parsed once (`_Parsed`). The
    # parse stops at the token limit, as the one that runs the document does: without it, a
    # body of tokens within the size limit cost seconds of CPU before the limit refused it.
    key = (document, requested, max_tokens)
    found = _PARSED.get(key)
    if found is None:
        found = _parse_operation(document, requested, max_tokens)
        _PARSED.put(key, found)
    return found


def _parse_operation(document: str, requested: str | None, max_tokens: int | None) -> Operation:
    try:
        ast = get_operation_ast(parse(document, max_tokens=max_tokens), requested)
    except GraphQLError as error:
        return Operation(document, limit=over_token_limit(error))
    if ast is None:
        return Operation(document, requested)
    fields = tuple(s.name.value for s in ast.selection_set.selections if isinstance(s, FieldNode))
    name = ast.name.value if ast.name else None
    return Operation(document, name, ast.operation.value, fields)


def _request_error(result: ExecutionResult) -> bool:
    """Nothing executed: every error concerns the request, none a field (no path)."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


class DibxGraphQL(GraphQL[Context, None]):
    def __init__(
        self,
        schema: Any,
        *,
        validator: TokenValidator,
        policy: Policy,
        directory: Directory,
        memberships: MembershipDirectory,
        audit: AuditSink,
        graphiql: bool,
        realm: str = "dibx",
        services: Services,
        budget: Callable[[Principal], RequestBudget] | None = None,
        max_body_bytes: int = 1_000_000,
        large_documents: LargeDocuments | None = None,
        limits: RateLimits | None = None,
        request_audit: RequestAudit | None = None,
        persisted: PersistedOperations | None = None,
        max_tokens: int | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=False,  # no state change, and no query, over GET (CSRF)
        )
        self.validator = validator
        self.policy = policy
        self.directory = directory
        self.memberships = memberships
        self.audit = audit
        # Writes each request's record with its HTTP status, duration and client address.
        self.request_audit = request_audit or RequestAudit(audit, policy_version=policy.version)
        self.realm = realm
        self.services = services
        self.new_budget = budget or (lambda _: RequestBudget())
        self.max_body_bytes = max_body_bytes
        self.large_documents = large_documents or LargeDocuments(
            threshold=max_body_bytes, concurrency=1, wait_s=0.0
        )
        self.limits = limits
        self.persisted = persisted  # registered documents and APQ (dibx.app.persisted)
        self.max_tokens = max_tokens  # the schema's token limit (DIBX_MAX_TOKENS)
        # Queries of compiled reads are answered without the executor (dibx.schema.fastpath).
        self.compiled = CompiledResponses(schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Every transaction of the request carries its id (the caller's X-Request-Id if sane).
        # The app around the endpoint has usually set it already (dibx.app.observe).
        given = Headers(scope=scope).get("x-request-id", "") if scope["type"] == "http" else ""
        fresh = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        with request_context(current_request_id() or fresh):
            await self._serve(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await Response(status_code=404)(scope, receive, send)
            return
        request = Request(scope, receive)
        if (
            request.method == "GET"
            and self.graphql_ide
            and "text/html" in request.headers.get("accept", "")
        ):
            # The GraphiQL page carries no data; its queries come back with a token.
            await (await self.render_graphql_ide(request))(scope, receive, send)
            return
        too_large = _error(
            413,
            "PAYLOAD_TOO_LARGE",
            f"the request body is larger than {self.max_body_bytes} bytes",
            connection="close",
        )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await self.request_audit.refused(None, status=413, code="PAYLOAD_TOO_LARGE")
            await too_large(scope, receive, send)
            return
        try:
            token = bearer_token(request.headers.get("authorization"))
            # Validation may fetch the issuer's keys (remote JWKS): keep it off the event loop.
            principal = await run_in_threadpool(self.validator.validate, token)
        except TokenError as exc:
            # The reason is logged for operators; the caller learns only what RFC 6750 says.
            log.info(
                "token_rejected", reason=str(exc), client=request.client and request.client.host
            )
            await self.request_audit.refused(
                None, status=exc.status_code, code="UNAUTHENTICATED", reason=exc.description
            )
            body = {
                "errors": [{"message": exc.description, "extensions": {"code": "UNAUTHENTICATED"}}]
            }
            response = JSONResponse(
                body,
                status_code=exc.status_code,
                headers={"WWW-Authenticate": exc.www_authenticate(self.realm)},
            )
            await response(scope, receive, send)
            return
        # Per-token rate limit: after the (CPU-only) token check, before the body is read.
        wait = self.limits.check_token(principal.subject, principal.client_id) if self.limits else 0
        if wait:
            await self._audit_refusal(principal, RATE_LIMITED, 429)
            limited = too_many(wait, "token holder")
            limited.headers["connection"] = "close"  # the body is left unread
            await limited(scope, receive, send)
            return
        try:
            payload = await _read_body(receive, self.max_body_bytes)
        except _TooLarge:
            await self._audit_refusal(principal, "PAYLOAD_TOO_LARGE", 413)
            await too_large(scope, receive, send)
            return
        if payload is None:
            return
        if self.persisted is not None:
            try:
                prepared = self.persisted.prepare(request.method, request.query_params, payload)
            except PersistedError as exc:
                await self._audit_refusal(principal, exc.code, exc.status)
                await exc.response(request.headers)(scope, receive, send)
                return
            if prepared is not None:
                payload, scope = prepared.body, prepared.scope(scope)
        scope.setdefault("state", {})["principal"] = principal
        # `run` builds the whole reply before anything is sent, so a failure inside it can
        # still be answered with a reply of its own.
        replayed = _replay(payload, receive)
        reply: Response
        try:
            async with self.large_documents.admit(len(payload)):
                reply = await self.run(Request(scope, replayed))
        except HTTPException as exc:
            # strawberry answers a malformed request in plain text; callers get JSON, a code.
            await self._audit_refusal(principal, "BAD_REQUEST", exc.status_code)
            reply = JSONResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}]},
                status_code=exc.status_code,
            )
        except Busy as exc:
            await self._audit_refusal(principal, exc.code, 429)
            reply = _error(429, exc.code, str(exc), retry_after=RETRY_AFTER_S)
        except (Unavailable, TimedOut) as exc:
            # Raised before execution (resolving the caller's groups): said as 503, audited.
            # A timeout there (small reference reads) means Neo4j is not serving, e.g. while
            # it restarts cold; it used to escape as a plain-text 500.
            log.warning("neo4j_unavailable", error=str(exc.__cause__ or exc))
            await self._audit_refusal(principal, SERVICE_UNAVAILABLE, 503)
            message = "the database is unavailable; try again shortly"
            reply = _error(503, SERVICE_UNAVAILABLE, message, retry_after=RETRY_AFTER_S)
        await reply(scope, replayed, send)

    async def render_graphql_ide(self, request: Request) -> Response:
        # dibx's own GraphiQL (dibx.app.graphiql), never strawberry's page from a CDN.
        return graphiql_page()

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> ExecutionResult:
        # Only a well-formed request takes the compiled path; anything else (an operationName
        # or variables of the wrong JSON type) gets the executor's own 400.
        if (
            request_adapter.method == "POST"
            and isinstance(request_data.query, str)
            and isinstance(request_data.operation_name, str | None)
            and isinstance(request_data.variables, dict | None)
        ):
            answered = await self.compiled.answer(
                request_data.query, request_data.variables, request_data.operation_name, context
            )
            if answered is not None:
                return answered
        return await super().execute_single(
            request, request_adapter, sub_response, context, root_value, request_data
        )

    def _who(self, principal: Principal) -> dict[str, Any]:
        """The head of every request's audit record: when, and who acted for which nation."""
        return self.request_audit.head(principal)

    async def _audit_refusal(self, principal: Principal, code: str, status: int) -> None:
        await self.request_audit.refused(principal, status=status, code=code)

    def decode_json(self, data: str | bytes) -> object:
        try:
            # orjson: several times faster than json, and it refuses nesting past 1024 levels
            # with a JSONDecodeError (the same error strawberry answers with a 400).
            return orjson.loads(data)
        except RecursionError:
            # Python's parser recurses per level: deep nesting would end in a plain 500.
            raise HTTPException(400, "The request body is nested too deeply.") from None

    def encode_json(self, data: object) -> bytes:
        # The same compact JSON as json.dumps(separators=(",", ":")), several times faster.
        return orjson.dumps(data)

    async def get_context(self, request: Any, response: Any) -> Context:
        principal: Principal = request.state.principal
        today = datetime.now(UTC).date()
        groups = await self.memberships.groups_of(principal.nation, today)
        operation = await _operation(request, self.large_documents.threshold, self.max_tokens)
        scope = self.policy.scope_for(principal, groups, today)
        budget = self.new_budget(principal)
        context = Context.bound(
            principal=principal,
            scope=scope,
            policy=self.policy,
            directory=self.directory,
            services=self.services,
            budget=budget,
            # The banner expands tetragraphs only by memberships released to the caller.
            tetragraphs=await self.memberships.released_to(scope),
            request=request,
            response=response,
            writes=WriteAudit(
                self.audit, operation=operation.name, policy_version=self.policy.version
            ),
        )
        request.state.context = context
        request.state.operation = operation
        if GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            response.dibx_media_type = GRAPHQL_RESPONSE
        return context

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        context: Context | None = getattr(request.state, "context", None)
        if context is None:
            return data
        codes = {(e.extensions or {}).get("code") for e in result.errors or []}
        # A write refused because its audit record could not be made durable (nothing of it
        # was committed): the whole request answers 503, like a failed request record.
        refused = context.writes is not None and context.writes.failed
        if refused:
            codes.add(AUDIT_UNAVAILABLE)
        media_type = getattr(context.response, "dibx_media_type", None)
        if _request_error(result) and media_type == GRAPHQL_RESPONSE:
            # GraphQL over HTTP: a request error (syntax, validation, variables) has no
            # `data` entry and, for this media type, a 4xx status (403 below for scopes).
            data.pop("data", None)
            context.response.status_code = 400
        if INSUFFICIENT_SCOPE in codes:
            scopes = sorted(
                {(e.extensions or {}).get("scope", "") for e in result.errors or []} - {""}
            )
            context.response.status_code = 403
            context.response.headers["WWW-Authenticate"] = (
                f'Bearer realm="{self.realm}", error="insufficient_scope", '
                f'scope="{" ".join(scopes)}"'
            )
        elif SERVICE_UNAVAILABLE in codes:
            context.response.status_code = 503
            context.response.headers["Retry-After"] = RETRY_AFTER_S
        elif context.budget.refused:
            context.response.status_code = 429
            context.response.headers["Retry-After"] = RETRY_AFTER_S
        try:
            # The file sink fsyncs: keep that off the event loop. The response still waits for
            # it, so a failed write fails the request closed.
            record = self._audit_record(request, context, result, codes)
            await self.request_audit.write(record, status=context.response.status_code or 200)
        except AuditError:
            refused = True
        if refused:
            log.error("audit_write_failed")
            context.response.status_code = 503
            committed = len(context.writes.committed) if context.writes is not None else 0
            # Say so if earlier writes of the request did commit (each with its record).
            message = (
                "The request could not be audited and was refused."
                if not committed
                else f"The response could not be audited and is withheld; {committed} change(s) "
                "of this request were committed and audited before that."
            )
            return {
                "data": None,
                "errors": [{"message": message, "extensions": {"code": AUDIT_UNAVAILABLE}}],
            }
        return data

    def _audit_record(
        self, request: Any, context: Context, result: ExecutionResult, codes: set[Any]
    ) -> dict[str, Any]:
        principal = context.principal
        disclosure = context.disclosure
        operation: Operation = getattr(request.state, "operation", Operation())
        document = operation.document
        outcome = (
            "error"
            if result.errors and result.data is None
            else ("partial" if result.errors else "ok")
        )
        return {
            **self._who(principal),
            "operation": operation.name,
            "operation_type": operation.kind,
            "root_fields": list(operation.root_fields),
            "document_sha256": hashlib.sha256(document.encode()).hexdigest() if document else None,
            "released": disclosure.released_count,
            "withheld": len(disclosure.withheld),
            "markings": disclosure.markings_involved,
            "outcome": outcome,
            "error_codes": sorted(c for c in codes if c),
            # The graph writes this request committed, each recorded before its commit.
            "writes": list(context.writes.committed) if context.writes is not None else [],
        }

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        if getattr(sub_response, "dibx_media_type", None) == GRAPHQL_RESPONSE:
            response.headers["content-type"] = GRAPHQL_RESPONSE
        return response
