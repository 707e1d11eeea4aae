"""Around every HTTP request: its id, its duration, its metrics, and its audit record.

`ObservedApp` wraps the whole Starlette app (outside Starlette's own error middleware), so
everything logged while a request is served carries its request id, uvicorn's access line
and an unexpected exception included, and the response says `X-Request-Id`.

`RequestAudit` writes a request's audit record with how it ended: HTTP status, duration,
client address, method, path, request id, and who (subject, OAuth client, nation, org, the
token's `jti` as `token_id`). Refusals are records too: code that refuses a request before
the GraphQL endpoint sees it (a rate limit, say) calls

    audit: RequestAudit = request.app.state.request_audit
    await audit.refused(principal_or_none, status=429, code="RATE_LIMITED")

from inside the request, and its rejection is counted in /metrics as well.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dibx.app.metrics import Metrics
from dibx.auth.principal import Principal
from dibx.graph.driver import current_request_id, request_context
from dibx.services.audit import AuditError, AuditSink

log = structlog.get_logger("dibx.http")
# A caller's X-Request-Id is kept if it is short and plain (it ends up in logs and Neo4j's
# transaction metadata); anything else is replaced by a generated id.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass(frozen=True, slots=True)
class RequestInfo:
    request_id: str
    started: float  # time.perf_counter()
    method: str
    path: str
    client_address: str | None


_CURRENT: ContextVar[RequestInfo | None] = ContextVar("dibx_request", default=None)


def current_request() -> RequestInfo | None:
    return _CURRENT.get()


@contextlib.contextmanager
def observing(scope: Scope) -> Iterator[RequestInfo]:
    """What `observe` sets up around an HTTP request, for a connection that is not one (a
    subscription socket): its request id and address reach its logs and audit records."""
    info = _request_info(scope)
    token = _CURRENT.set(info)
    try:
        with request_context(info.request_id):
            yield info
    finally:
        _CURRENT.reset(token)


def _request_info(scope: Scope) -> RequestInfo:
    given = Headers(scope=scope).get("x-request-id", "")
    client = scope.get("client")
    return RequestInfo(
        request_id=given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex,
        started=time.perf_counter(),
        method=scope.get("method", ""),
        path=scope.get("path", ""),
        client_address=client[0] if client else None,
    )


class ObservedApp(Starlette):
    """Starlette with `observe` around each HTTP request; `metrics` is set by create_app."""

    metrics: Metrics | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.metrics is None:
            await super().__call__(scope, receive, send)
            return
        await observe(super().__call__, self.metrics, scope, receive, send)


async def observe(
    app: ASGIApp, metrics: Metrics, scope: Scope, receive: Receive, send: Send
) -> None:
    info = _request_info(scope)
    route = metrics.route(info.path)
    status = 500

    async def send_observed(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            MutableHeaders(scope=message)["x-request-id"] = info.request_id
        await send(message)

    token = _CURRENT.set(info)
    try:
        with request_context(info.request_id):
            try:
                await app(scope, receive, send_observed)
            except Exception:
                # Starlette has answered 500 already; say why here, where the line still
                # carries the request id, instead of letting the server print it without.
                log.exception("unhandled_error", method=info.method, path=info.path)
    finally:
        _CURRENT.reset(token)
        metrics.http_requests.labels(route, str(status)).inc()
        metrics.http_duration.labels(route).observe(time.perf_counter() - info.started)


class CountedSink:
    """An audit sink whose failures are counted (dibx_audit_failures_total); any exception
    from the sink is an AuditError, so callers fail closed on one type."""

    def __init__(self, sink: AuditSink, on_failure: Callable[[], None]) -> None:
        self.sink = sink
        self.on_failure = on_failure

    def write(self, record: Mapping[str, Any]) -> None:
        try:
            self.sink.write(record)
        except Exception as exc:
            self.on_failure()
            if isinstance(exc, AuditError):
                raise
            raise AuditError(f"audit write failed: {exc}") from exc


class RequestAudit:
    """The audit record of one request: `head` says who, `write` adds how it ended."""

    def __init__(
        self,
        sink: AuditSink,
        *,
        policy_version: str | None,
        observe: Callable[[Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.sink = sink
        self.policy_version = policy_version
        self.observe = observe

    def head(self, principal: Principal | None) -> dict[str, Any]:
        return {
            "time": datetime.now(UTC).isoformat(),
            "event": "graphql_request",
            "request_id": current_request_id(),  # also on its Neo4j transactions' metadata
            "subject": principal.subject if principal else None,
            "client": principal.client_id if principal else None,
            "nation": principal.nation if principal else None,
            "org": principal.org if principal else None,
            "token_id": principal.token_id if principal else None,
            "policy_version": self.policy_version,
        }

    async def write(self, record: Mapping[str, Any], *, status: int) -> None:
        """Write the record with its HTTP status and duration; raises AuditError (the caller
        must then refuse the request: nothing unaudited is released)."""
        full = {**record, **_http(status)}
        try:
            # The file sink fsyncs: off the event loop; the response still waits for it.
            await run_in_threadpool(self.sink.write, full)
        except AuditError:
            self._observe({**full, "outcome": "refused", "status": 503})
            raise
        except Exception as exc:  # any failing sink is a failed audit, never a silent pass
            self._observe({**full, "outcome": "refused", "status": 503})
            raise AuditError(f"audit write failed: {exc}") from exc
        self._observe(full)

    async def refused(
        self, principal: Principal | None, *, status: int, code: str, **fields: Any
    ) -> None:
        """Record a refused request. Never raises: nothing was released, so a failed record
        changes nothing for the caller (it is logged and counted)."""
        record = {**self.head(principal), "outcome": "refused", "error_codes": [code], **fields}
        try:
            await self.write(record, status=status)
        except AuditError:
            log.error("audit_write_failed", refused_with=status)

    def _observe(self, record: Mapping[str, Any]) -> None:
        if self.observe is not None:
            self.observe(record)


def _http(status: int) -> dict[str, Any]:
    info = current_request()
    if info is None:  # used outside ObservedApp (a bare endpoint in a test)
        return {"status": status, "duration_ms": None, "client_address": None}
    return {
        "status": status,
        "duration_ms": round((time.perf_counter() - info.started) * 1000, 3),
        "client_address": info.client_address,
        "method": info.method,
        "path": info.path,
    }
