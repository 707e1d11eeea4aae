"""Where a dibx request spends its time: a sampling profile, summed by component.

The profile runs dibx in-process (httpx's ASGI transport: no socket, no uvicorn), so it shows
the app's own cost: token check, GraphQL parse/validate/execute, the compiled query, the
driver's decoding, the audit write. Await time (waiting for Neo4j or the disk) is counted
apart from CPU time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# (substring of the frame's file path or function name, component), first match wins.
_BUCKETS: tuple[tuple[str, str], ...] = (
    ("fsync", "audit write (fsync)"),
    ("/dibx/services/audit", "audit write (fsync)"),
    ("/neo4j/", "neo4j driver (bolt, packstream, records)"),
    ("/graphql/", "graphql-core (parse, validate, execute)"),
    ("/strawberry/", "strawberry (schema, resolvers, extensions)"),
    ("/joserfc/", "token validation"),
    ("/cryptography/", "token validation"),
    ("/dibx/auth/tokens", "token validation"),
    ("/dibx/", "dibx code (compile, resolvers, disclosure)"),
    ("/starlette/", "ASGI/HTTP in-process (starlette, httpx, anyio)"),
    ("/httpx/", "ASGI/HTTP in-process (starlette, httpx, anyio)"),
    ("/anyio/", "ASGI/HTTP in-process (starlette, httpx, anyio)"),
    ("/h11/", "ASGI/HTTP in-process (starlette, httpx, anyio)"),
    ("/json/", "json"),
    ("/asyncio/", "asyncio event loop"),
)
AWAIT = "awaiting (Neo4j round trip, disk, threads)"


def _bucket(frame: Any, inherited: str) -> str:
    path = (frame.file_path or "") + " " + (frame.function or "")
    if frame.function == "fsync":
        return "audit write (fsync)"
    if not frame.file_path or frame.file_path.startswith("<"):
        return inherited  # a built-in: charged to whoever called it
    for needle, name in _BUCKETS:
        if needle in path:
            return name
    return "other"


def breakdown(root: Any) -> dict[str, float]:
    """Seconds per component, from a pyinstrument frame tree (self time of every frame)."""
    totals: dict[str, float] = {}

    def walk(frame: Any, inherited: str) -> None:
        if frame.identifier == "[await]":
            totals[AWAIT] = totals.get(AWAIT, 0.0) + frame.time
            return
        if frame.identifier in ("[self]", "[out-of-context]"):
            totals[inherited] = totals.get(inherited, 0.0) + frame.time
            return
        bucket = inherited if frame.identifier == "[root]" else _bucket(frame, inherited)
        own = frame.time - sum(c.time for c in frame.children)
        if own > 0:
            totals[bucket] = totals.get(bucket, 0.0) + own
        for child in frame.children:
            walk(child, bucket)

    walk(root, "other")
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def _write(path: Path, text: str) -> None:
    path.write_text(text)


async def profile(
    call: Callable[[int], Awaitable[None]], rounds: int, out: Path
) -> dict[str, Any] | None:
    """Profile `rounds` calls; write the call tree to `out`; return the per-component times
    in ms per request. None when pyinstrument is not installed."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    # The same requests without the profiler first: its own overhead inflates what it sees
    # (more for code making many small calls), so shares are the figure to read from it.
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(rounds):
        await call(i)
    plain_cpu = (time.process_time() - cpu) * 1000.0 / rounds
    plain_wall = (time.perf_counter() - wall) * 1000.0 / rounds
    profiler = Profiler(interval=0.001, async_mode="enabled")
    profiler.start()
    for i in range(rounds):
        await call(i)
    session = profiler.stop()
    root = session.root_frame()
    parts = breakdown(root) if root is not None else {}
    per_request = {k: round(v * 1000.0 / rounds, 2) for k, v in parts.items()}
    busy = sum(v for k, v in per_request.items() if k != AWAIT) or 1.0
    shares = {k: round(100.0 * v / busy, 1) for k, v in per_request.items() if k != AWAIT}
    lines = [f"{v:8.2f} ms/request {shares.get(k, 0.0):5.1f}%  {k}" for k, v in per_request.items()]
    text = (
        f"dibx in-process, {rounds} requests; without the profiler: {plain_cpu:.2f} ms CPU and "
        f"{plain_wall:.2f} ms wall per request.\nUnder the profiler, time per request by "
        "component (self time of sampled frames, built-ins charged to their caller; share of "
        "the time not spent awaiting):\n\n"
        + "\n".join(lines)
        + "\n\n"
        + profiler.output_text(unicode=True, color=False, show_all=False)
    )
    _write(out, text)
    return {
        "file": out.name,
        "profiled_ms_per_request": per_request,
        "share_of_busy_percent": shares,
        "cpu_ms_per_request": round(plain_cpu, 2),
        "wall_ms_per_request": round(plain_wall, 2),
        "profiled_cpu_ms_per_request": round(session.cpu_time * 1000.0 / rounds, 2),
    }
