"""Several API processes behind one port: `dibx serve --workers N` (a pre-fork).

The supervisor (the `dibx serve` process) starts or finds Neo4j once, binds the socket,
then spawns N workers that each build their own runtime (driver, caches, rate-limit
buckets) and serve on the inherited socket; the kernel spreads connections over them.

What that means for state kept in a process:
* Neo4j: started once by the supervisor; the workers get its URI (DIBX_NEO4J_URI).
* Memberships cache: per worker, each with its own expiry; a write that invalidates it does
  so in the worker that made it, the others follow within the cache's lifetime.
* Rate limits: buckets per worker, each at rate / DIBX_RATE_INSTANCES, so DIBX_RATE_INSTANCES
  must count every worker of every replica; the supervisor refuses to start with fewer
  instances than workers (rate limits on), which would admit N times the rate.
* Metrics: shared through prometheus_client's multiprocess mode (dibx.app.metrics), in a
  directory made fresh for each start and removed at exit.
* Audit: every worker appends to the same sink; the file sink writes a record in one
  locked append (dibx.services.audit.FileSink), so records never interleave.

SIGTERM and SIGINT are passed on to every worker, which drain as a single server does; if a
worker dies, the supervisor stops the others and exits non-zero for the orchestrator to act.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from types import FrameType

import structlog
import uvicorn

from dibx import config

log = structlog.get_logger("dibx.serve")
METRICS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def check(settings: config.Settings, workers: int) -> None:
    """Refuse a worker count the rate limits were not declared for."""
    limited = settings.rate_per_token > 0 or settings.rate_per_address > 0
    if workers > 1 and limited and settings.rate_instances < workers:
        raise config.ConfigError(
            f"--workers {workers} keeps rate-limit buckets per worker: set DIBX_RATE_INSTANCES "
            f"to the API processes in all (replicas x workers, at least {workers})"
        )


def server(settings: config.Settings) -> uvicorn.Server:
    """The server of one process: its runtime, app and draining shutdown."""
    from dibx.app import build_runtime, create_app
    from dibx.app.shutdown import DrainingServer

    runtime = build_runtime(settings)
    return DrainingServer(
        uvicorn.Config(
            create_app(runtime),
            host=settings.host,
            port=settings.port,
            log_config=None,
            log_level=settings.log_level,
            timeout_graceful_shutdown=settings.shutdown.grace_s,
            # A WebSocket message is held to the limit of an HTTP body (dibx.app.live).
            ws_max_size=settings.max_body_bytes,
        ),
        drain=runtime.drain,
        delay_s=settings.shutdown.drain_delay_s,
    )


def _worker(sock: socket.socket) -> None:
    """A worker's life, in a fresh (spawned) interpreter: settings from the environment the
    supervisor set, log lines marked with the worker's pid."""
    from dibx import logs

    settings = config.load()
    logs.configure(settings.log_level)
    structlog.contextvars.bind_contextvars(worker=os.getpid())
    server(settings).run(sockets=[sock])


def listener(settings: config.Settings) -> socket.socket:
    """The socket every worker serves on.

    uvicorn's `bind_socket` leaves the socket's `proto` at 0. Accepted connections inherit
    it, and asyncio sets TCP_NODELAY only where `proto` is IPPROTO_TCP: with Nagle's
    algorithm on, every keep-alive response after the first waited about 40 ms for the
    client's delayed ACK (uvicorn issue 3149; one process is not affected, as asyncio
    builds its listener from getaddrinfo). The workers inherit the `proto` set here.
    """
    # log_config=None: uvicorn's loggers keep the JSON handler of dibx.logs.
    bind = uvicorn.Config("dibx", host=settings.host, port=settings.port, log_config=None)
    sock = bind.bind_socket()
    if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto != socket.IPPROTO_TCP:
        sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    return sock


def supervise(settings: config.Settings, workers: int) -> int:
    """Run `workers` processes on the configured address until they stop; 0 if all stopped
    cleanly after a signal."""
    sock = listener(settings)
    metrics_dir = tempfile.mkdtemp(prefix="dibx-metrics-")
    os.environ[METRICS_DIR] = metrics_dir  # read by prometheus_client when a worker imports it
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_worker, args=(sock,), name=f"dibx-worker-{i}", daemon=False)
        for i in range(workers)
    ]
    stopping = False

    def forward(sig: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, sig)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for child in children:
            child.start()
        log.info("workers_started", workers=[c.pid for c in children])
        while any(c.is_alive() for c in children):
            if not stopping and any(c.exitcode is not None for c in children):
                dead = [(c.pid, c.exitcode) for c in children if c.exitcode is not None]
                log.error("worker_exited", workers=dead)
                forward(signal.SIGTERM, None)
            time.sleep(0.2)
        for child in children:
            child.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        os.environ.pop(METRICS_DIR, None)
    return 0 if stopping and all(c.exitcode == 0 for c in children) else 1
