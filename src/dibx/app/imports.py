"""HTTP import jobs: `POST /imports` and `GET /imports/{id}` (dibx.exchange.jobs).

POST, in order: declared size over the limit (413) -> bearer token (401) -> per-token rate
limit (429) -> Content-Type (415: text/csv or application/x-ndjson, and a charset that
is a text encoding Python knows; UTF-8 if none is named) and the query (`entity`, `dryRun`;
400) -> the scope that writes the entity (403; a JSON Lines body naming its entities per row
needs one of the stewardship scopes) -> body, read up to the limit (413 with the limit) and
decoded with its charset (400) -> job and body stored in one audited transaction (409 with
the org's active job; 503 AUDIT_UNAVAILABLE, nothing stored, if its audit record cannot be
made durable) -> 202 with the job id and `Location`.

GET answers the job to its submitter's nation only (to its org only, under per-org
stewardship); any other job, like a missing one, is 404 NOT_FOUND with the same body.
Every request leaves an audit record, refusals too.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from dibx.app.observe import RequestAudit
from dibx.app.ratelimit import RATE_LIMITED, RateLimits, too_many
from dibx.auth.policy import Policy
from dibx.auth.principal import SUPPLIER_READ, Principal
from dibx.auth.tokens import TokenError, TokenValidator, bearer_token
from dibx.errors import DibxError, TimedOut, Unavailable
from dibx.exchange import jobs
from dibx.services.audit import AuditError

log = structlog.get_logger("dibx.imports")
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
AUDIT_UNAVAILABLE = "AUDIT_UNAVAILABLE"
NOT_FOUND_MESSAGE = "no such import job"
READ_SCOPE = SUPPLIER_READ


class _TooLarge(Exception):
    pass


def _error(status: int, code: str, message: str, **extensions: Any) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return JSONResponse(body, status_code=status)


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


class ImportRoutes:
    def __init__(
        self,
        service: jobs.ImportJobs,
        *,
        validator: TokenValidator,
        policy: Policy,
        request_audit: RequestAudit,
        limits: RateLimits | None,
        realm: str = "dibx",
    ) -> None:
        self.service = service
        self.validator = validator
        self.policy = policy
        self.audit = request_audit
        self.limits = limits
        self.realm = realm
        self.max_bytes = service.settings.max_bytes

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/imports", self.submit, methods=["POST"]),
            Route("/imports/{id}", self.status, methods=["GET"]),
        ]

    # -- shared steps --------------------------------------------------------------------

    async def _refuse(self, principal: Principal | None, response: Response, code: str) -> Response:
        await self.audit.refused(principal, status=response.status_code, code=code)
        return response

    async def _principal(self, request: Request) -> Principal | Response:
        try:
            token = bearer_token(request.headers.get("authorization"))
            principal = await run_in_threadpool(self.validator.validate, token)
        except TokenError as exc:
            log.info("token_rejected", reason=str(exc))
            response = _error(exc.status_code, "UNAUTHENTICATED", exc.description)
            response.headers["WWW-Authenticate"] = exc.www_authenticate(self.realm)
            return await self._refuse(None, response, "UNAUTHENTICATED")
        wait = self.limits.check_token(principal.subject, principal.client_id) if self.limits else 0
        if wait:
            limited = too_many(wait, "token holder")
            limited.headers["connection"] = "close"
            return await self._refuse(principal, limited, RATE_LIMITED)
        return principal

    def _forbidden(self, needed: frozenset[str]) -> JSONResponse:
        wanted = " ".join(sorted(needed))
        response = _error(
            403,
            "INSUFFICIENT_SCOPE",
            f"this needs one of the scopes {wanted or '(none configured)'}",
            scope=wanted,
        )
        response.headers["WWW-Authenticate"] = (
            f'Bearer realm="{self.realm}", error="insufficient_scope", scope="{wanted}"'
        )
        return response

    async def _record(self, principal: Principal, status: int, **fields: Any) -> None:
        record = {
            **self.audit.head(principal),
            "event": "import_request",
            "outcome": "ok",
            **fields,
        }
        await self.audit.write(record, status=status)

    def _too_large(self) -> JSONResponse:
        response = _error(
            413,
            PAYLOAD_TOO_LARGE,
            f"the import body is larger than the limit of {self.max_bytes} bytes; split the file",
            maximum=self.max_bytes,
        )
        response.headers["connection"] = "close"
        return response

    async def _body(self, request: Request) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)

    # -- POST /imports ---------------------------------------------------------------------

    async def submit(self, request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return await self._refuse(None, self._too_large(), PAYLOAD_TOO_LARGE)
        who = await self._principal(request)
        if isinstance(who, Response):
            return who
        principal = who
        fmt = jobs.media_format(request.headers.get("content-type"))
        if fmt is None:
            response = _error(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "send the body as text/csv or application/x-ndjson (JSON Lines)",
            )
            return await self._refuse(principal, response, "UNSUPPORTED_MEDIA_TYPE")
        try:
            charset, codec = jobs.media_charset(request.headers.get("content-type"))
        except jobs.UnknownCharset as exc:
            response = _error(415, "UNSUPPORTED_MEDIA_TYPE", str(exc), charset=exc.charset)
            return await self._refuse(principal, response, "UNSUPPORTED_MEDIA_TYPE")
        entity = request.query_params.get("entity") or None
        raw_dry = request.query_params.get("dryRun", "false").lower()
        if raw_dry not in ("true", "false"):
            response = _error(400, "BAD_USER_INPUT", "dryRun is true or false", field="dryRun")
            return await self._refuse(principal, response, "BAD_USER_INPUT")
        try:
            jobs.check_request(self.policy, principal, entity, fmt)
        except DibxError as exc:
            response = _error(400, exc.code, str(exc), field=exc.field)
            return await self._refuse(principal, response, exc.code)
        needed = jobs.needed_scopes(self.policy, entity)
        if not needed & principal.scopes:
            return await self._refuse(principal, self._forbidden(needed), "INSUFFICIENT_SCOPE")
        try:
            raw = await self._body(request)
        except _TooLarge:
            return await self._refuse(principal, self._too_large(), PAYLOAD_TOO_LARGE)
        try:
            body = jobs.decode(raw, codec)
        except UnicodeDecodeError as exc:
            response = _error(
                400, "BAD_USER_INPUT", f"the body is not {charset} (byte {exc.start})", field="body"
            )
            return await self._refuse(principal, response, "BAD_USER_INPUT")
        if not body.strip():
            response = _error(400, "BAD_USER_INPUT", "the body is empty", field="body")
            return await self._refuse(principal, response, "BAD_USER_INPUT")
        try:
            job_id = await self.service.submit(
                principal, entity=entity, fmt=fmt, dry_run=raw_dry == "true", body=body
            )
        except jobs.JobBusy as busy:
            response = _error(409, busy.code, str(busy), job=busy.job)
            response.headers["Location"] = f"/imports/{busy.job}"
            return await self._refuse(principal, response, busy.code)
        except AuditError:
            log.error("audit_write_failed")
            response = _error(
                503, AUDIT_UNAVAILABLE, "the import could not be audited and was refused"
            )
            return await self._refuse(principal, response, AUDIT_UNAVAILABLE)
        except (Unavailable, TimedOut) as exc:
            response = _error(503, exc.code, "the database is unavailable; try again shortly")
            response.headers["Retry-After"] = "5"
            return await self._refuse(principal, response, exc.code)
        location = f"/imports/{job_id}"
        try:
            await self._record(principal, 202, operation="submitImport", job=job_id)
        except AuditError:
            # The job and its own audit record are committed; only this answer is withheld.
            return _error(
                503,
                AUDIT_UNAVAILABLE,
                "the response could not be audited and is withheld; the import job was "
                "accepted and audited before that (a new submission answers 409 with its id)",
            )
        return JSONResponse(
            {"id": job_id, "state": "queued", "location": location},
            status_code=202,
            headers={"Location": location},
        )

    # -- GET /imports/{id} -------------------------------------------------------------------

    async def status(self, request: Request) -> Response:
        who = await self._principal(request)
        if isinstance(who, Response):
            return who
        principal = who
        if READ_SCOPE not in principal.scopes:
            forbidden = self._forbidden(frozenset({READ_SCOPE}))
            return await self._refuse(principal, forbidden, "INSUFFICIENT_SCOPE")
        job_id = request.path_params["id"]
        try:
            job = await self.service.get(principal, job_id)
            rejects = (
                []
                if job is None
                else await self.service.rejects(
                    principal, job_id, self.service.settings.max_rejects
                )
            )
        except (Unavailable, TimedOut) as exc:
            response = _error(503, exc.code, "the database is unavailable; try again shortly")
            return await self._refuse(principal, response, exc.code)
        if job is None:
            missing = _error(404, "NOT_FOUND", NOT_FOUND_MESSAGE)
            return await self._refuse(principal, missing, "NOT_FOUND")
        try:
            await self._record(principal, 200, operation="importJob", job=job_id)
        except AuditError:
            return _error(503, AUDIT_UNAVAILABLE, "the request could not be audited")
        return JSONResponse(_json(jobs.view(job, rejects)))
