"""GraphQL subscriptions on /graphql over graphql-transport-ws (strawberry's handler, dibx's
rules). See docs/subscriptions.md.

The socket:

1. Handshake: subprotocol `graphql-transport-ws` only (anything else: 4406). The per-address
   rate limit applies (refused: the handshake is answered 403). A browser page on another
   origin is refused (strawberry's origin check).
2. `connection_init` carries the bearer token: `{"Authorization": "Bearer <token>"}` (browsers
   cannot set headers on a WebSocket). It is validated like an HTTP request's; missing,
   invalid or expired, or holding no scope any subscription needs: close 4403 Forbidden, as
   the protocol says for a refused ConnectionInit. Over the per-token rate limit: close 1013
   Try Again Later. Every refusal is audited.
3. Each `subscribe` is a request: rate-limited per token (refused: an `error` message with
   code RATE_LIMITED), held to at most DIBX_LIVE_PER_SOCKET subscriptions on the socket and
   DIBX_LIVE_PER_PRINCIPAL for its token holder (subject and nation) in the process, all
   sockets together (refused: an `error` message LIMIT_EXCEEDED naming the limit; a slot
   comes back when a subscription ends or its socket closes; audited), held to the allow
   list of DIBX_TRUSTED_DOCUMENTS=require (refused: PERSISTED_QUERY_NOT_IN_LIST), audited
   when it starts (fail closed: no audit, no subscription; AUDIT_UNAVAILABLE) and when it
   ends (events delivered, marked values released and withheld, how it ended). Only
   subscriptions run here; queries and mutations go over HTTP (an `error` message says so).
4. When the token expires the socket is closed with 4403 and the reason "token expired": the
   graphql-ws client retries 4403, asking its `connectionParams` again for a fresh token,
   and resumes each subscription with its last cursor.
5. A message longer than DIBX_MAX_BODY_BYTES (the limit of an HTTP body) closes the socket
   with 1009 Message Too Big, undecoded.
6. A subscriber whose client has not taken `DIBX_LIVE_QUEUE` events is dropped: the socket is
   closed with 1013 Try Again Later and the reason "subscriber fell behind" (RFC 6455's code
   for a server casting off clients; a retrying client resumes from its last cursor).
7. Pings are answered with a pong in bursts of PING_BURST, refilled at PINGS_PER_S a second
   (a keep-alive pings every few seconds); a client pinging faster is closed with 4429
   "Too many pings" (audited, RATE_LIMITED) rather than drawing a pong per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog
from graphql import GraphQLError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.schema.schema import StreamResult
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    Operation as WsOperation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    Message,
    PingMessage,
    SubscribeMessage,
)
from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing

from dibx.app.admission import LargeDocuments
from dibx.app.graphql_view import Operation, parse_operation
from dibx.app.observe import RequestAudit, observing
from dibx.app.persisted import PersistedError, PersistedOperations
from dibx.app.ratelimit import RATE_LIMITED, RateLimits
from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.auth.tokens import TokenError, TokenValidator, bearer_token
from dibx.errors import Busy, DibxError, LimitExceeded
from dibx.schema.context import Context, Services
from dibx.schema.scopes import scope_of
from dibx.services.audit import AuditError
from dibx.services.budget import RequestBudget
from dibx.services.directory import Directory
from dibx.services.live import LiveHub, LiveSession
from dibx.services.memberships import MembershipDirectory

log = structlog.get_logger("dibx.live")

FORBIDDEN = 4403  # graphql-transport-ws: ConnectionInit refused
MESSAGE_TOO_BIG = 1009  # RFC 6455: a message too big to process
TOO_MANY_REQUESTS = 4429  # graphql-transport-ws: a second connection_init; here, a ping flood
TRY_AGAIN_LATER = 1013  # RFC 6455 (IANA registry): a temporary condition, retry later
TOKEN_EXPIRED = "token expired"  # noqa: S105 - a close reason, not a secret
TRANSPORT = "graphql-transport-ws"
PING_BURST = 10  # pings answered back to back on one socket
PINGS_PER_S = 1.0  # and then this many a second
TOO_MANY_PINGS = "Too many pings"
_SCOPES_KEPT = 1024  # distinct release scopes remembered (callers share a handful)
_TOO_BIG: Any = object()  # stands for a message over the size limit, which is not decoded


class Connection:
    """One socket: who it acts for (after connection_init) and how it ends."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        self.connection_params: dict[str, Any] = {}  # set by strawberry's handler
        self.principal: Principal | None = None
        self.closed = False
        self._closing: asyncio.Task[None] | None = None

    def close_soon(self, code: int, reason: str) -> None:
        """Close the socket from anywhere (the poller drops a subscriber from its own task);
        later sends are dropped. The close waits for the socket to be writable, so it runs
        in its own task and never holds up the caller."""
        if self.closed:
            return
        self.closed = True
        self._closing = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):  # the client may be gone already
                await self.websocket.close(code=code, reason=reason)


class LiveTransportHandler(BaseGraphQLTransportWSHandler[Connection, None]):
    """strawberry's graphql-transport-ws handler with dibx's connection_init, per-operation
    context and audit, token expiry and drop-closes."""

    view: LiveGraphQL
    context: Connection

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._expiry: asyncio.Task[None] | None = None
        self._pings = float(PING_BURST)  # a token bucket: pings this socket may send now
        self._pinged = time.monotonic()

    async def handle_ping(self, message: PingMessage) -> None:
        if self.context.closed:
            return  # closing (a flood, a drop, an expiry): nothing more is answered
        now = time.monotonic()
        self._pings = min(float(PING_BURST), self._pings + (now - self._pinged) * PINGS_PER_S)
        self._pinged = now
        if self._pings < 1:
            self.context.closed = True
            await self.view.request_audit.refused(
                self.context.principal,
                status=429,
                code=RATE_LIMITED,
                transport=TRANSPORT,
                reason=TOO_MANY_PINGS,
            )
            await self.websocket.close(code=TOO_MANY_REQUESTS, reason=TOO_MANY_PINGS)
            return
        self._pings -= 1
        await super().handle_ping(message)

    async def handle_message(self, message: Message) -> None:
        # A message of a format the protocol does not specify closes the socket with 4400
        # (strawberry's handler reads the fields as it finds them: a list, or a payload
        # that is not an object, raised out of the socket, which then dropped without a
        # close frame).
        if message is _TOO_BIG:
            await self.websocket.close(code=MESSAGE_TOO_BIG, reason="Message too big")
            return
        if not _well_formed(message):
            await self.handle_invalid_message("Invalid message")
            return
        await super().handle_message(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        # strawberry refuses a subscribe over the per-socket limit with a bare error (no code)
        # and no audit: dibx's refusal says which limit, and is audited as every other.
        maximum = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and maximum is not None
            and message["id"] not in self.operations
            and len(self.operations) >= maximum
        ):
            over = LimitExceeded(
                f"this socket runs {len(self.operations)} subscriptions, the most it may: "
                "complete one first, or open another socket",
                limit="subscriptionsPerSocket",
                maximum=maximum,
            )
            await self.view.refuse(self.context, message["id"], over)
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [_limit_error(over).formatted]}
            )
            return
        await super().handle_subscribe(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload") or {}
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        refusal = await self.view.admit(self.context, payload)
        if refusal is not None:
            self.context.closed = True
            await self.websocket.close(*refusal)
            return
        await self.send_message({"type": "connection_ack"})
        self.connection_acknowledged = True
        principal = self.context.principal
        if principal is not None and principal.expires_at is not None:
            self._expiry = asyncio.create_task(self._expire(principal.expires_at))

    async def _expire(self, at: int) -> None:
        await asyncio.sleep(max(0.0, at - time.time()))
        log.info("live_token_expired")
        self.context.close_soon(FORBIDDEN, TOKEN_EXPIRED)

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        await super().shutdown()

    async def send_message(self, message: Message) -> None:
        if self.context.closed:
            return  # the socket is closing (a drop, an expiry): nothing more goes out
        try:
            await super().send_message(message)
        except RuntimeError:  # closed between the check and the send
            self.context.closed = True

    async def run_operation(self, operation: WsOperation[Connection, None]) -> None:
        session: LiveSession | None = None
        ended = "complete"
        try:
            started = await self.view.start(self.context, operation)
            if isinstance(started, GraphQLError):
                await operation.send_initial_errors([started])
                ended = "refused"
                return
            context, session = started
            result_source = await self.schema.subscribe(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            noted = _noting(result_source, session)
            async with aclosing(result_source), aclosing(noted):
                await self._send_result_stream(operation, noted)
            if session.refused:
                ended = "refused"  # by validation or a limit, before it ran
            elif self.context.closed:
                ended = "closed"
            await operation.send_operation_message(
                CompleteMessage(id=operation.id, type="complete")
            )
        except _OperationStreamClosed:
            ended = "closed"
        except asyncio.CancelledError:
            ended = "client"
            raise
        except Exception as error:
            ended = "error"
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise
        finally:
            if session is not None:
                await self.view.finish(self.context, operation, session, ended)


class LiveGraphQL(GraphQL[Connection, None]):
    """The WebSocket side of /graphql (the HTTP side is dibx.app.graphql_view)."""

    graphql_transport_ws_handler_class = LiveTransportHandler

    def __init__(
        self,
        schema: Any,
        *,
        validator: TokenValidator,
        policy: Policy,
        directory: Directory,
        memberships: MembershipDirectory,
        services: Services,
        hub: LiveHub,
        request_audit: RequestAudit,
        limits: RateLimits | None = None,
        budget: Callable[[Principal], RequestBudget] | None = None,
        init_timeout_s: float = 10.0,
        max_per_connection: int = 10,
        max_per_principal: int = 20,
        persisted: PersistedOperations | None = None,
        max_message_bytes: int = 1_000_000,
        max_tokens: int | None = None,
        large_documents: LargeDocuments | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=init_timeout_s),
            max_subscriptions_per_connection=max_per_connection,
        )
        self.validator = validator
        self.policy = policy
        self.directory = directory
        self.memberships = memberships
        self.services = services
        self.hub = hub
        self.request_audit = request_audit
        self.limits = limits
        self.new_budget = budget or (lambda _: RequestBudget())
        # Subscriptions each token holder (subject, nation) holds in this process: taken
        # when one is admitted, given back when it ends (`finish`).
        self.max_per_principal = max_per_principal
        self._held: dict[tuple[str, str], int] = {}
        self.persisted = persisted  # DIBX_TRUSTED_DOCUMENTS=require holds here too
        self.max_message_bytes = max_message_bytes  # as an HTTP body (DIBX_MAX_BODY_BYTES)
        self.max_tokens = max_tokens  # the schema's token limit (DIBX_MAX_TOKENS)
        # Shared with the HTTP side: large documents are parsed off the loop, a few at once.
        self.large_documents = large_documents or LargeDocuments(
            threshold=max_message_bytes, concurrency=1, wait_s=0.0
        )
        self._scopes: dict[tuple[str, frozenset[str], date, frozenset[str]], ReleaseScope] = {}
        # A token must hold a scope some subscription needs, or the socket is of no use to it.
        root = schema._schema.subscription_type
        self.scopes = frozenset(
            s for f in (root.fields.values() if root else ()) if (s := scope_of(f)) is not None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await Response(status_code=404)(scope, receive, send)
            return
        with observing(scope) as info:
            address = info.client_address or "unknown"
            if self.limits is not None and self.limits.check_address(address):
                await self.request_audit.refused(
                    None, status=429, code=RATE_LIMITED, transport=TRANSPORT
                )
                await WebSocket(scope, receive, send).close(code=TRY_AGAIN_LATER)
                return
            await super().__call__(scope, receive, send)

    def decode_json(self, data: str | bytes) -> object:
        # Held to the limit of an HTTP body before it is decoded: `connection_init` arrives
        # before any token was checked (the server reads messages up to its own limit, 16
        # MiB by default for uvicorn; `dibx serve` sets it to this one).
        if len(data) > self.max_message_bytes:
            return _TOO_BIG
        return super().decode_json(data)

    async def get_context(self, request: Any, response: Any) -> Connection:
        return Connection(response)

    async def admit(
        self, connection: Connection, payload: dict[str, Any]
    ) -> tuple[int, str] | None:
        """connection_init: None to acknowledge, else the close code and reason."""
        try:
            header = payload.get("Authorization", payload.get("authorization"))
            token = bearer_token(header if isinstance(header, str) else None)
            principal = await run_in_threadpool(self.validator.validate, token)
        except TokenError as exc:
            log.info("live_token_rejected", reason=str(exc))
            await self.request_audit.refused(
                None,
                status=403,
                code="UNAUTHENTICATED",
                reason=exc.description,
                transport=TRANSPORT,
            )
            return FORBIDDEN, "Forbidden"
        if not principal.scopes & self.scopes:
            await self.request_audit.refused(
                principal, status=403, code="INSUFFICIENT_SCOPE", transport=TRANSPORT
            )
            return FORBIDDEN, "Forbidden"
        if self.limits is not None and self.limits.check_token(
            principal.subject, principal.client_id
        ):
            await self.request_audit.refused(
                principal, status=429, code=RATE_LIMITED, transport=TRANSPORT
            )
            return TRY_AGAIN_LATER, "too many requests from this token holder"
        connection.principal = principal
        return None

    async def refuse(self, connection: Connection, subscription_id: str, over: DibxError) -> None:
        """Audit a subscribe refused by a limit before it started."""
        assert connection.principal is not None
        await self.request_audit.refused(
            connection.principal,
            status=429,
            code=over.code,
            transport=TRANSPORT,
            subscription_id=subscription_id,
        )

    def _holder(self, principal: Principal) -> tuple[str, str]:
        return principal.subject, principal.nation

    def _release(self, principal: Principal) -> None:
        holder = self._holder(principal)
        left = self._held.get(holder, 0) - 1
        if left > 0:
            self._held[holder] = left
        else:
            self._held.pop(holder, None)

    async def start(
        self, connection: Connection, operation: WsOperation[Connection, None]
    ) -> tuple[Context, LiveSession] | GraphQLError:
        """A subscribe message: the token holder's share of subscriptions (taken here, given
        back by `finish`, or at once if it does not start), then `_start`."""
        principal = connection.principal
        assert principal is not None  # the handler runs operations only after the ack
        holder = self._holder(principal)
        held = self._held.get(holder, 0)
        if held >= self.max_per_principal:
            over = LimitExceeded(
                f"you hold {held} subscriptions in this process, the most one token holder "
                "may: complete one first",
                limit="subscriptionsPerPrincipal",
                maximum=self.max_per_principal,
            )
            await self.refuse(connection, operation.id, over)
            return _limit_error(over)
        self._held[holder] = held + 1
        started: tuple[Context, LiveSession] | GraphQLError | None = None
        try:
            started = await self._start(connection, operation, principal)
        finally:
            if not isinstance(started, tuple):  # refused, failed or cancelled: not held
                self._release(principal)
        return started

    async def _start(
        self,
        connection: Connection,
        operation: WsOperation[Connection, None],
        principal: Principal,
    ) -> tuple[Context, LiveSession] | GraphQLError:
        """Rate limit, audit (fail closed), the operation's context."""
        if self.limits is not None and self.limits.check_token(
            principal.subject, principal.client_id
        ):
            await self.request_audit.refused(
                principal, status=429, code=RATE_LIMITED, transport=TRANSPORT
            )
            return _error("too many requests from this token holder; retry later", RATE_LIMITED)
        if self.hub.subscribers >= self.hub.limits.max_subscribers:
            busy = Busy("this API process serves as many subscriptions as it may; retry later")
            await self.request_audit.refused(
                principal, status=429, code=busy.code, transport=TRANSPORT
            )
            return _error(str(busy), busy.code)
        if self.persisted is not None:
            try:
                # Under `require`, only a document whose hash is registered runs, as over HTTP.
                self.persisted.resolve({"query": operation.query})
            except PersistedError as exc:
                await self.request_audit.refused(
                    principal, status=exc.status, code=exc.code, transport=TRANSPORT
                )
                return _error(exc.message, exc.code)
        try:
            described = await self.describe(operation)
        except Busy as busy:
            await self.request_audit.refused(
                principal, status=429, code=busy.code, transport=TRANSPORT
            )
            return _error(str(busy), busy.code)
        if described.limit is not None:
            limit = described.limit
            await self.request_audit.refused(
                principal, status=400, code=limit.code, transport=TRANSPORT
            )
            return GraphQLError(str(limit), extensions={"code": limit.code, **limit.extensions()})
        if described.kind != "subscription":
            # Queries and mutations keep the HTTP path: its limits, compiled reads, audit.
            await self.request_audit.refused(
                principal, status=400, code="BAD_REQUEST", transport=TRANSPORT
            )
            return _error(
                "only a well-formed subscription runs over this socket; send queries and "
                "mutations over HTTP",
                "BAD_REQUEST",
            )
        # The context first: once the record saying it started is written, nothing may
        # stop the subscription before `run_operation` holds its session, whose `finish`
        # writes the closing record (a client completing it while its scope was read left
        # a started record that nothing closed).
        scope = await self.scope_now(principal)
        budget = self.new_budget(principal)

        async def scope_now() -> ReleaseScope:
            return await self.scope_now(principal)

        session = LiveSession(
            hub=self.hub,
            scope_now=scope_now,
            on_drop=lambda reason: connection.close_soon(TRY_AGAIN_LATER, reason),
        )
        context = Context.bound(
            principal=principal,
            scope=scope,
            policy=self.policy,
            directory=self.directory,
            services=self.services,
            budget=budget,
            tetragraphs=await self.memberships.released_to(scope),
            live=session,
        )
        record = {
            **self.request_audit.head(principal),
            "event": "graphql_subscription",
            "transport": TRANSPORT,
            "operation": described.name,
            "operation_type": described.kind,
            "root_fields": list(described.root_fields),
            "document_sha256": hashlib.sha256(operation.query.encode()).hexdigest(),
            "subscription_id": operation.id,
            "outcome": "started",
        }
        try:
            await self.request_audit.write(record, status=200)
        except AuditError:
            log.error("audit_write_failed")
            return _error(
                "The subscription could not be audited and was refused.", "AUDIT_UNAVAILABLE"
            )
        except asyncio.CancelledError:
            # Completed while its record was written (the write may finish in its thread):
            # close it, then stop.
            await self.finish(connection, operation, session, "client", release=False)
            raise
        return context, session

    async def describe(self, operation: WsOperation[Connection, None]) -> Operation:
        """The subscribe document's operation, parsed within the token limit; a large one
        in a worker thread (admitted as over HTTP, `Busy` if it finds no slot), so that it
        does not hold the event loop (strawberry's own parse then runs off the loop too,
        dibx.schema.prepared)."""
        query, name = operation.query, operation.operation_name
        if len(query) <= self.large_documents.threshold:
            return parse_operation(query, name, self.max_tokens)
        async with self.large_documents.admit(len(query)):
            return await run_in_threadpool(parse_operation, query, name, self.max_tokens)

    async def finish(
        self,
        connection: Connection,
        operation: WsOperation[Connection, None],
        session: LiveSession,
        ended: str,
        *,
        release: bool = True,
    ) -> None:
        """The subscription's closing record: what it delivered and how it ended. Nothing is
        released after it, so a failure to write it is logged, not answered. Its slot of the
        token holder's share is given back first (unless `start` gives it back)."""
        assert connection.principal is not None
        if release:
            self._release(connection.principal)
        record = {
            **self.request_audit.head(connection.principal),
            "event": "graphql_subscription",
            "transport": TRANSPORT,
            "subscription_id": operation.id,
            "outcome": ended,
            "error_codes": sorted(session.error_codes),
            "delivered": session.delivered,
            "released": session.released,
            "withheld": session.withheld,
        }
        with contextlib.suppress(AuditError):
            await self.request_audit.write(record, status=400 if session.refused else 200)

    async def scope_now(self, principal: Principal) -> ReleaseScope:
        """The caller's release scope today, asked at every poll round for every subscriber:
        memberships are cached (dibx.services.memberships) and equal scopes are made once."""
        today = datetime.now(UTC).date()
        groups = await self.memberships.groups_of(principal.nation, today)
        key = (principal.nation, principal.attributes, today, groups)
        scope = self._scopes.get(key)
        if scope is None:
            if len(self._scopes) >= _SCOPES_KEPT:
                self._scopes.clear()
            scope = self._scopes[key] = self.policy.scope_for(principal, groups, today)
        return scope


async def _noting(source: StreamResult, session: LiveSession) -> StreamResult:
    """The subscription's results as they go out, with the codes of their errors noted on
    the session for its closing record (a request error before it ran: `refused`)."""
    first = True
    async for result in source:
        if first and isinstance(result, PreExecutionError):
            session.refused = True
        first = False
        for error in getattr(result, "errors", None) or ():
            code = (error.extensions or {}).get("code")
            if isinstance(code, str):
                session.error_codes.add(code)
        yield result


def _well_formed(message: object) -> bool:
    """The shape PROTOCOL.md gives a message: an object with a string `type`; `subscribe`
    and `complete` with a string `id`; a `subscribe` payload with a string `query` and, if
    present, a string `operationName` and object `variables` and `extensions`."""
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return False
    if message["type"] in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return False
    if message["type"] != "subscribe":
        return True
    payload = message.get("payload")
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("query"), str)
        and isinstance(payload.get("operationName"), str | None)
        and isinstance(payload.get("variables"), dict | None)
        and isinstance(payload.get("extensions"), dict | None)
    )


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def _limit_error(over: LimitExceeded) -> GraphQLError:
    return GraphQLError(str(over), extensions={"code": over.code, **over.extensions()})
