"""What /metrics exports, named as Prometheus users expect.

Counters end in `_total`, durations are histograms in seconds, labels have bounded values:
routes are the known paths or `other`, GraphQL operation names are the first
`MAX_OPERATIONS` distinct names seen (then `other`; unnamed ones `anonymous`, requests
refused before their document was read `unknown`), and rejection reasons a fixed set. The
process and GC collectors of prometheus_client come along (memory, CPU, open files,
collections). Each API process has its own registry: Prometheus scrapes every replica.

Several workers behind one port (`dibx serve --workers N`): a scrape reaches one worker, so
the workers share their counters and histograms through the client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR, set by the supervisor, fresh per start): /metrics answers their
sums over every worker. What is read at scrape time (the process, platform and GC
collectors, `dibx_cypher_queries_total`, `dibx_heavy_work`) can only describe the worker
that answers: those series carry its `worker` label (pid), so they are never mistaken for
the node's totals.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from dibx.graph.driver import QueryStats
from dibx.graph.read_cache import OUTCOMES

MAX_OPERATIONS = 100
ROUTES = frozenset({"/graphql", "/healthz", "/readyz", "/metrics", "/oauth/token", "/imports"})
# Why a request was refused: a missing or bad token, a scope it lacks, an authorization rule
# beyond scopes, a limit (size, depth, cost, rate, heavy work), or a malformed request.
REASONS = ("token", "scope", "forbidden", "limit", "validation")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
_VALIDATION = frozenset(
    {"BAD_REQUEST", "BAD_USER_INPUT", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}
)
_LIMITS = frozenset({"LIMIT_EXCEEDED", "PAYLOAD_TOO_LARGE", "RATE_LIMITED"})
# Query latencies run from milliseconds (a lookup) to the 30 s transaction timeout.
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def rejection_reason(status: int | None, codes: Iterable[str]) -> str | None:
    """The `reason` label of a refused request, or None if it was not refused."""
    codes = set(codes)
    if status == 401:
        return "token"
    if "INSUFFICIENT_SCOPE" in codes:
        return "scope"
    if "FORBIDDEN" in codes:
        return "forbidden"
    if status in (413, 429) or codes & _LIMITS:
        return "limit"
    if codes & _VALIDATION:
        return "validation"
    return None


class _QueryCounts(Collector):
    """Cypher queries sent, read from the Graph's own counters at scrape time."""

    def __init__(self, stats: Callable[[], QueryStats]) -> None:
        self.stats = stats

    def collect(self) -> Iterable[Metric]:
        stats = self.stats()
        family = CounterMetricFamily(
            "dibx_cypher_queries", "Cypher queries sent to Neo4j", labels=["kind"]
        )
        family.add_metric(["read"], stats.reads)
        family.add_metric(["write"], stats.writes)
        yield family


class _ThisWorker(Collector):
    """Scrape-time values of the worker answering, labelled with its pid (several workers)."""

    def __init__(self, stats: Callable[[], QueryStats], heavy_held: Callable[[], int]) -> None:
        self.stats, self.heavy_held = stats, heavy_held
        self.worker = str(os.getpid())

    def collect(self) -> Iterable[Metric]:
        stats = self.stats()
        queries = CounterMetricFamily(
            "dibx_cypher_queries",
            "Cypher queries sent to Neo4j by the worker answering",
            labels=["kind", "worker"],
        )
        queries.add_metric(["read", self.worker], stats.reads)
        queries.add_metric(["write", self.worker], stats.writes)
        yield queries
        heavy = GaugeMetricFamily(
            "dibx_heavy_work",
            "Heavy-work slots (Neo4j connections) held in the worker answering now",
            labels=["worker"],
        )
        heavy.add_metric([self.worker], self.heavy_held())
        yield heavy


def multiprocess() -> bool:
    """Workers share their metrics (the supervisor of `dibx serve --workers N` set it up)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Metrics:
    def __init__(self, stats: Callable[[], QueryStats], heavy_held: Callable[[], int]) -> None:
        self.registry = registry = CollectorRegistry()
        self.shared = multiprocess()
        if self.shared:
            # What /metrics answers: every worker's counters and histograms, summed, and the
            # scrape-time values of this worker under its own label.
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed)  # type: ignore[no-untyped-call]
            self.exposed.register(_ThisWorker(stats, heavy_held))
        else:
            self.exposed = registry
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
            registry.register(_QueryCounts(stats))
        self.http_requests = Counter(
            "dibx_http_requests", "HTTP requests answered", ["route", "status"], registry=registry
        )
        self.http_duration = Histogram(
            "dibx_http_request_duration_seconds",
            "HTTP request duration, until the response was sent",
            ["route"],
            buckets=_SECONDS,
            registry=registry,
        )
        self.graphql_duration = Histogram(
            "dibx_graphql_request_duration_seconds",
            "GraphQL request duration until audited, by operation name and outcome",
            ["operation", "outcome"],
            buckets=_SECONDS,
            registry=registry,
        )
        self.neo4j_duration = Histogram(
            "dibx_neo4j_query_duration_seconds",
            "Neo4j transaction duration, retries included",
            ["kind"],
            buckets=_SECONDS,
            registry=registry,
        )
        self.write_retries = Counter(
            "dibx_neo4j_write_retries",
            "Write transactions run again after a transient error, by its code",
            ["code"],
            registry=registry,
        )
        self.analytics_reads = Counter(
            "dibx_analytics_reads",
            "Reads of the analyses: served from the read cache (hit), read and kept (miss), "
            "answered by an identical read already running (shared), read without the cache "
            "(uncached: no data generation yet, or caching off)",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self.analytics_reads.labels(outcome)
        self.rejections = Counter(
            "dibx_rejections", "Requests refused, by reason", ["reason"], registry=registry
        )
        for reason in REASONS:  # present from the start: rate() and alerts need a series
            self.rejections.labels(reason)
        self.withheld = Counter(
            "dibx_withheld_values",
            "Values withheld from visible records (null in the response, listed in extensions)",
            registry=registry,
        )
        self.audit_failures = Counter(
            "dibx_audit_failures",
            "Audit records the sink could not take (each refused its request or write)",
            registry=registry,
        )
        if not self.shared:
            Gauge(
                "dibx_heavy_work",
                "Heavy-work slots (Neo4j connections) held now",
                registry=registry,
            ).set_function(heavy_held)
        # Each worker plans the trusted reads at start (dibx.app.warm); /readyz answers 503
        # meanwhile, which the Neo4j alert must not take for an outage.
        self.warming = Gauge(
            "dibx_warming",
            "1 while the trusted reads are being planned at start (/readyz: 503 warming)",
            registry=registry,
            multiprocess_mode="livemax",
        )
        self._operations: set[str] = set()
        self._lock = threading.Lock()

    def scrape(self) -> bytes:
        return generate_latest(self.exposed)

    def route(self, path: str) -> str:
        if path.startswith("/imports/"):  # one label for every job, not one per id
            return "/imports/{id}"
        return path if path in ROUTES else "other"

    def operation(self, name: object) -> str:
        if name is None:
            return "anonymous"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            return "other"
        with self._lock:
            if name in self._operations:
                return name
            if len(self._operations) < MAX_OPERATIONS:
                self._operations.add(name)
                return name
        return "other"

    def audited(self, record: Mapping[str, Any]) -> None:
        """Count what a request's audit record says: rejection, withheld values, duration."""
        codes = [c for c in record.get("error_codes") or () if isinstance(c, str)]
        reason = rejection_reason(record.get("status"), codes)
        if reason is not None:
            self.rejections.labels(reason).inc()
        withheld = record.get("withheld")
        if isinstance(withheld, int) and withheld > 0:
            self.withheld.inc(withheld)
        duration = record.get("duration_ms")
        if isinstance(duration, int | float):
            operation = (
                self.operation(record.get("operation"))
                if record.get("operation_type") is not None
                else "unknown"
            )
            outcome = str(record.get("outcome") or "unknown")
            self.graphql_duration.labels(operation, outcome).observe(duration / 1000)
