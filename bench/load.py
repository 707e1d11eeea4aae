"""A bounded closed-loop load generator: N workers, each sends its next request when the last
one is answered. Warm-up requests run first, at the same concurrency, and are not recorded.

Bounded twice: at most `requests` measured requests, and no new request after `max_seconds`.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

Call = Callable[[int], Awaitable[None]]  # the i-th request; raises on any failure


@dataclass
class Measurement:
    way: str
    operation: str
    concurrency: int
    requests: int  # measured (completed or failed) requests
    errors: int
    wall_seconds: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    first_error: str | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    truncated: bool = False  # stopped by max_seconds before `requests`
    # CPU seconds each process used during the measured window (neo4j, dibx, node, client).
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the successful requests' latencies, in ms."""
        if not self.latencies_ms:
            return math.nan
        ordered = sorted(self.latencies_ms)
        rank = max(1, math.ceil(p / 100 * len(ordered)))
        return ordered[rank - 1]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def mean(self) -> float:
        return sum(self.latencies_ms) / len(self.latencies_ms) if self.latencies_ms else math.nan

    @property
    def throughput(self) -> float:
        """Successful requests per second over the measured window."""
        ok = self.requests - self.errors
        return ok / self.wall_seconds if self.wall_seconds > 0 else math.nan

    def cpu_ms_per_request(self, process: str) -> float:
        if process not in self.cpu_seconds or not self.requests:
            return math.nan
        return self.cpu_seconds[process] * 1000.0 / self.requests

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latencies_ms"]
        data["cpu_ms_per_request"] = {
            k: round(self.cpu_ms_per_request(k), 3) for k in self.cpu_seconds
        }
        data.update(
            p50_ms=round(self.p50, 3),
            p99_ms=round(self.p99, 3),
            mean_ms=round(self.mean, 3),
            throughput_rps=round(self.throughput, 2),
        )
        return data


def loadavg() -> tuple[float, float, float]:
    try:
        with open("/proc/loadavg", encoding="ascii") as fh:
            one, five, fifteen = fh.read().split()[:3]
        return (float(one), float(five), float(fifteen))
    except (OSError, ValueError):
        return (math.nan, math.nan, math.nan)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc; NaN if unreadable."""
    if pid == os.getpid():
        return time.process_time()
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, ValueError, IndexError):
        return math.nan


def descendants(pid: int) -> list[int]:
    """The processes `pid` started, and theirs (`dibx serve --workers N`'s workers), from
    /proc; none if the kernel does not list children."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                children = [int(c) for c in fh.read().split()]
        except (OSError, ValueError):
            continue
        for child in children:
            found += [child, *descendants(child)]
    return found


def cpu_snapshot(pids: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds per named process, a server's descendants included: a worker's time
    counts toward its supervisor's name while both run. The load generator is counted
    alone: the servers it started are its children."""
    return {
        name: sum(
            process_cpu_seconds(p) for p in (pid, *(descendants(pid) if pid != os.getpid() else ()))
        )
        for name, pid in pids.items()
    }


async def _drive(
    call: Call, count: int, concurrency: int, deadline: float, record: bool, m: Measurement
) -> None:
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            if time.monotonic() > deadline:
                m.truncated = record
                return
            start = time.perf_counter()
            try:
                await call(i)
            except Exception as exc:  # noqa: BLE001 - a failed request is counted, not fatal
                if record:
                    m.errors += 1
                    m.requests += 1
                    m.first_error = m.first_error or f"{type(exc).__name__}: {exc}"[:500]
                continue
            if record:
                m.latencies_ms.append((time.perf_counter() - start) * 1000.0)
                m.requests += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def measure(
    way: str,
    operation: str,
    call: Call,
    *,
    requests: int,
    concurrency: int,
    warmup: int,
    max_seconds: float,
    pids: Mapping[str, int] | None = None,
) -> Measurement:
    m = Measurement(way, operation, concurrency, 0, 0, 0.0)
    # Warm-up: plans cached, pools filled, JIT warm; bounded by a share of the time budget.
    await _drive(call, warmup, concurrency, time.monotonic() + max_seconds / 4, False, m)
    m.load_before = loadavg()
    cpu_before = cpu_snapshot(pids or {})
    start = time.perf_counter()
    await _drive(call, requests, concurrency, time.monotonic() + max_seconds, True, m)
    m.wall_seconds = time.perf_counter() - start
    cpu_after = cpu_snapshot(pids or {})
    m.cpu_seconds = {k: round(cpu_after[k] - cpu_before[k], 4) for k in cpu_before}
    m.load_after = loadavg()
    return m
