"""Draining on SIGTERM, as an orchestrator or a rolling restart stops a replica.

1. SIGTERM: /readyz answers 503 at once and every response says `Connection: close`, while
   the server still accepts and serves for `drain_delay_s` (the load balancer notices and
   stops sending; pooled keep-alive connections are handed back closed, not cut mid-request).
2. Then uvicorn's own shutdown: the listening socket closes (new connections are refused),
   idle connections close, requests in flight get up to `grace_s` to finish, the rest are
   cancelled; the app's lifespan closes the Neo4j driver; the process exits 0.

SIGINT (Ctrl-C) skips the delay. A second signal stops waiting for requests in flight.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType

import structlog
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("dibx.shutdown")


class Drain:
    """Whether this process is shutting down; set once, never cleared."""

    def __init__(self) -> None:
        self.started = False

    def begin(self) -> None:
        self.started = True


class DrainAware:
    """While draining, each response closes its connection (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.drain.started:
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with the drain delay before its graceful shutdown."""

    def __init__(self, config: uvicorn.Config, *, drain: Drain, delay_s: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.delay_s = delay_s
        self._stop_at: float | None = None
        self._announced = False

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn's own version raises the signal again once stopped, so a drained stop would
        # end as "killed by SIGTERM"; a stop that was asked for and completed exits 0 here.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.drain.started and self.delay_s > 0:
            self.drain.begin()
            self._stop_at = time.monotonic() + self.delay_s
            return
        self.drain.begin()
        if self.should_exit:
            self.force_exit = True  # asked twice: stop waiting for requests in flight
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        # Logged here, on the loop: a signal handler may interrupt a write to the same stream.
        if self.drain.started and not self._announced:
            self._announced = True
            log.info(
                "draining", delay_s=self.delay_s, grace_s=self.config.timeout_graceful_shutdown
            )
        if self._stop_at is not None and time.monotonic() >= self._stop_at:
            self.should_exit = True
        return await super().on_tick(counter)
