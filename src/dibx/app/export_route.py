"""`GET /export`: the caller's own releasable slice, streamed in the import format.

    GET /export?format=jsonl|graphml[&asOf=2026-12-01][&attr=name,capacity]
    Authorization: Bearer <token with supplier:read>

The slice is the token's nation's, decided in Cypher by the same predicates as every read
(`dibx.graph.export`); the caller cannot name another nation. Order of a request, as on
/graphql: token (401) -> per-token rate limit (429) -> scope (403) -> parameters (400,
`BAD_USER_INPUT` naming the parameter) -> a heavy-work slot (429 `BUSY` when the caller
already runs heavy work or the process is full) -> the audit record of the release, written
before the first byte (503 if it cannot be: nothing unaudited is released) -> the first page
read before the answer starts (503 if Neo4j is down) -> the stream. A second audit record
says how the stream ended (rows per entity, markings released); a failure mid-stream cuts
the response short (the client sees an incomplete chunked body) and is recorded so.
CSV is a directory of files, so it is offered by `dibx export` only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from dibx.app.observe import RequestAudit
from dibx.app.ratelimit import RATE_LIMITED, RateLimits, too_many
from dibx.auth.policy import Policy
from dibx.auth.principal import SUPPLIER_READ, Principal
from dibx.auth.tokens import TokenError, TokenValidator, bearer_token
from dibx.errors import Busy, DibxError, Unavailable
from dibx.exchange.export import (
    MEDIA_TYPES,
    STREAMED_FORMATS,
    ExportError,
    Tally,
    check_format,
    graphml,
    jsonl,
    parse_as_of,
    rows,
    select,
)
from dibx.graph.driver import Graph
from dibx.graph.export import Reader
from dibx.graph.model import Model
from dibx.services.audit import AuditError
from dibx.services.budget import HeavyWork
from dibx.services.memberships import MembershipDirectory

log = structlog.get_logger("dibx.export")
EVENT = "export"
RETRY_AFTER_S = "5"
_PARAMS = frozenset({"format", "asOf", "attr"})


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers or None)


class ExportEndpoint:
    def __init__(
        self,
        *,
        graph: Graph,
        policy: Policy,
        validator: TokenValidator,
        memberships: MembershipDirectory,
        audit: RequestAudit,
        limits: RateLimits | None,
        heavy: HeavyWork,
        model: Model,
        realm: str = "dibx",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.graph = graph
        self.policy = policy
        self.validator = validator
        self.memberships = memberships
        self.audit = audit
        self.limits = limits
        self.heavy = heavy
        self.model = model
        self.realm = realm
        self.clock = clock

    def _record(self, principal: Principal, **fields: Any) -> dict[str, Any]:
        return {**self.audit.head(principal), "event": EVENT, **fields}

    async def handle(self, request: Request) -> Response:
        try:
            token = bearer_token(request.headers.get("authorization"))
            principal = await run_in_threadpool(self.validator.validate, token)
        except TokenError as exc:
            await self.audit.refused(
                None, status=exc.status_code, code="UNAUTHENTICATED", event=EVENT
            )
            return JSONResponse(
                {
                    "errors": [
                        {"message": exc.description, "extensions": {"code": "UNAUTHENTICATED"}}
                    ]
                },
                status_code=exc.status_code,
                headers={"WWW-Authenticate": exc.www_authenticate(self.realm)},
            )
        wait = self.limits.check_token(principal.subject, principal.client_id) if self.limits else 0
        if wait:
            await self.audit.refused(principal, status=429, code=RATE_LIMITED, event=EVENT)
            return too_many(wait, "token holder")
        if not principal.has_scope(SUPPLIER_READ):
            await self.audit.refused(principal, status=403, code="INSUFFICIENT_SCOPE", event=EVENT)
            return _error(
                403,
                "INSUFFICIENT_SCOPE",
                f"export needs the {SUPPLIER_READ} scope",
                **{
                    "WWW-Authenticate": f'Bearer realm="{self.realm}", '
                    f'error="insufficient_scope", scope="{SUPPLIER_READ}"'
                },
            )
        try:
            fmt, at, attrs = self._parameters(request)
        except ExportError as exc:
            await self.audit.refused(principal, status=400, code=exc.code, event=EVENT)
            return _error(400, exc.code, str(exc))
        try:
            return await self._stream(principal, fmt, at, attrs)
        except Busy as exc:
            await self.audit.refused(principal, status=429, code=exc.code, event=EVENT)
            return _error(429, exc.code, str(exc), **{"Retry-After": RETRY_AFTER_S})
        except Unavailable:
            await self.audit.refused(principal, status=503, code="SERVICE_UNAVAILABLE", event=EVENT)
            return _error(
                503,
                "SERVICE_UNAVAILABLE",
                "the database is unavailable; try again shortly",
                **{"Retry-After": RETRY_AFTER_S},
            )
        except AuditError:
            log.error("audit_write_failed", event=EVENT)
            return _error(
                503, "AUDIT_UNAVAILABLE", "The request could not be audited and was refused."
            )

    def _parameters(self, request: Request) -> tuple[str, datetime | None, tuple[str, ...]]:
        query = request.query_params
        unknown = sorted(set(query.keys()) - _PARAMS)
        if unknown:
            raise ExportError(
                f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(_PARAMS))}",
                field=unknown[0],
            )
        for name in ("format", "asOf"):
            if len(query.getlist(name)) > 1:
                raise ExportError("given more than once", field=name)
        fmt = check_format(query.get("format", "jsonl"), STREAMED_FORMATS)
        raw_at = query.get("asOf")
        at = parse_as_of(raw_at) if raw_at is not None else None
        attrs = tuple(query.getlist("attr"))
        select(attrs)  # refuses an unknown field before anything is read
        return fmt, at, attrs

    async def _stream(
        self, principal: Principal, fmt: str, at: datetime | None, attrs: tuple[str, ...]
    ) -> Response:
        today = self.clock().date()
        groups = await self.memberships.groups_of(principal.nation, today)
        scope = self.policy.scope_for(principal, groups, today)
        reader = Reader(
            self.graph,
            scope,
            self.model,
            catalogue_steward=self.policy.stewardship.catalogue_steward,
            at=at,
        )
        tally = Tally()
        slot = self.heavy.slot(principal.subject)
        await slot.__aenter__()  # held until the stream ends (released in `body`)
        released = False

        async def release() -> None:
            nonlocal released
            if not released:
                released = True
                await slot.__aexit__(None, None, None)

        try:
            asked = {
                "format": fmt,
                "as_of": at.isoformat() if at else None,
                "attr": list(attrs),
            }
            # The release is on record before any of it leaves (fails closed: AuditError).
            await self.audit.write(self._record(principal, outcome="started", **asked), status=200)
            source = rows(reader, select(attrs), tally)
            chunks = jsonl(source) if fmt == "jsonl" else graphml(source)
            # Neo4j down: answered 503 before anything is sent. A JSON Lines slice with no
            # row at all has no chunk: an empty body.
            first = await anext(chunks, b"")
        except BaseException:
            await release()
            raise

        async def body() -> AsyncIterator[bytes]:
            outcome = "error"
            try:
                yield first
                async for data in chunks:
                    yield data
                outcome = "ok"
            except DibxError as exc:
                log.warning("export_failed", error=str(exc))
                raise
            finally:
                await release()
                done = self._record(
                    principal,
                    outcome=outcome,
                    **asked,
                    rows=dict(tally.rows),
                    released=tally.total,
                    markings=sorted(tally.markings),
                )
                try:
                    await self.audit.write(done, status=200)
                except AuditError:
                    log.error("audit_write_failed", event=EVENT, outcome=outcome)

        name = f"dibx-{scope.nation.lower()}.{fmt}"
        return _Held(
            release,
            body(),
            media_type=MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


class _Held(StreamingResponse):
    """A stream that gives back its heavy-work slot however it ends: a client gone before
    the first chunk means the body is never iterated, so its own `finally` never runs."""

    def __init__(self, release: Callable[[], Awaitable[None]], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._release()


def export_routes(endpoint: ExportEndpoint) -> list[BaseRoute]:
    return [Route("/export", endpoint.handle, methods=["GET"])]
