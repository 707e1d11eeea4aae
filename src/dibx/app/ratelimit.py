"""Request rate limits: a token bucket per caller address and per token holder.

Cheap on purpose: a dict lookup and some arithmetic, no I/O and no database. The per-address
limit runs first, as ASGI middleware, before the token is verified or the body read; the
per-token limit runs right after the token is verified (dibx.app.graphql_view), before the
body is read. A refused request is answered 429 with `Retry-After`, counted in
`dibx_rate_limited_total{reason}`.

Several processes: each keeps its own buckets, so the configured rate and burst are divided
by `instances` (replicas x workers, as declared by the operator). Together the processes then
never admit more than the configured rate for one key; but a caller whose requests are not
spread evenly (one long-lived connection pinned to one replica) gets refused early, at
rate / instances, and a fleet scaled past the declared count admits proportionally more. An
exact fleet-wide limit needs a shared store; the edge limit in deploy/nginx.conf (one proxy,
per address) is the exact one in the shipped deployment.

Memory is bounded: at most `max_keys` buckets per limit, the least recently used dropped
first (a dropped bucket comes back full, which is what an idle one would be anyway).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from dibx.config import RateLimitSettings

RATE_LIMITED = "RATE_LIMITED"
Clock = Callable[[], float]
# Probes and scrapers are never limited: a refused probe would take a healthy pod out.
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class TokenBuckets:
    """`rate` tokens a second up to `burst` per key; a request takes one."""

    def __init__(
        self, rate: float, burst: float, *, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key: tokens, at

    def take(self, key: str) -> int:
        """0 if a token was taken; otherwise the whole seconds until one is there."""
        now = self.clock()
        tokens, at = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        admitted = tokens >= 1.0
        if admitted:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)  # most recently used last
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return 0 if admitted else max(1, math.ceil((1.0 - tokens) / self.rate))


def _buckets(per_minute: int, burst: int, instances: int, clock: Clock) -> TokenBuckets | None:
    if per_minute == 0:
        return None
    return TokenBuckets(per_minute / 60.0 / instances, max(1.0, burst / instances), clock=clock)


class RateLimits:
    """Both limits of one process, and what happens on a refusal (count, audit hook)."""

    def __init__(
        self,
        settings: RateLimitSettings,
        *,
        clock: Clock = time.monotonic,
        refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        n = settings.instances
        self.address = _buckets(settings.per_address, settings.per_address_burst, n, clock)
        self.token = _buckets(settings.per_token, settings.per_token_burst, n, clock)
        self.refused = refused

    def check_address(self, host: str) -> int:
        wait = self.address.take(host) if self.address is not None else 0
        if wait:
            self.refused("address")
        return wait

    def check_token(self, subject: str, client_id: str) -> int:
        # Keyed by who holds the token, not by its jti: fetching a new token resets nothing.
        wait = self.token.take(f"{client_id}\x00{subject}") if self.token is not None else 0
        if wait:
            self.refused("token")
        return wait


def too_many(retry_after: int, what: str) -> JSONResponse:
    message = f"too many requests from this {what}; retry after {retry_after} s"
    body = {"errors": [{"message": message, "extensions": {"code": RATE_LIMITED}}]}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(retry_after)})


RefusalHook = Callable[[Scope, str], Awaitable[None]]


class AddressLimit:
    """Per-address limit in front of everything but probes and metrics (pure ASGI)."""

    def __init__(
        self, app: ASGIApp, *, limits: RateLimits, on_refused: RefusalHook | None = None
    ) -> None:
        self.app = app
        self.limits = limits
        # Where a refused request is audited (no principal: the token is not read yet).
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = self.limits.check_address(client[0] if client else "unknown")
        if not wait:
            await self.app(scope, receive, send)
            return
        if self.on_refused is not None:
            await self.on_refused(scope, RATE_LIMITED)
        response = too_many(wait, "address")
        if Headers(scope=scope).get("content-length", "0") != "0":
            # The body is never read: close the connection rather than leave it in the stream.
            response.headers["connection"] = "close"
        await response(scope, receive, send)
