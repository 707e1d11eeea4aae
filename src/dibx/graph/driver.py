"""The one place that holds the Neo4j driver and sends Cypher.

Reads go through `execute_read` (so a cluster can route them to followers), writes through
`execute_write`; both retry transient errors, so the work functions are idempotent and
consume their results inside the transaction. Every query is counted, which is how the tests
prove that a GraphQL root field costs exactly one round trip.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, LiteralString

import neo4j
from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction

from dibx.errors import Unavailable


@dataclass
class QueryStats:
    """Counts queries sent; read by tests and exported as a metric."""

    reads: int = 0
    writes: int = 0
    last: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.reads + self.writes

    def record(self, kind: str, query: str) -> None:
        if kind == "read":
            self.reads += 1
        else:
            self.writes += 1
        # Keep only a short tail: enough for a test or an on-call engineer to see what ran.
        self.last.append(query)
        del self.last[:-20]


def compiled(query: str) -> LiteralString:
    """Mark query text built by dibx.graph as written, not formatted from input.

    Compiled text holds only identifiers from dibx.graph.model (or shipped migration files)
    and $parameter names; every value travels as a parameter.
    """
    return query  # the one place that vouches for compiled text (mypy reads LiteralString as str)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds; the driver's defaults (30 s connect, 60 s acquire, 30 s of retries) made a
    request hang for about a minute when Neo4j was down. Short ones fail fast with 503."""

    connect: float = 3.0
    acquire: float = 5.0
    retry: float = 3.0


def connect(
    uri: str,
    user: str,
    password: str,
    *,
    timeouts: Timeouts = Timeouts(),
    pool_size: int = 50,
) -> AsyncDriver:
    auth = (user, password) if password else None
    # Server notifications (e.g. "label does not exist" on an empty database) are not errors
    # for compiled reads; keep the log for what matters.
    return AsyncGraphDatabase.driver(
        uri,
        auth=auth,
        max_connection_pool_size=pool_size,
        connection_timeout=timeouts.connect,
        connection_acquisition_timeout=timeouts.acquire,
        max_transaction_retry_time=timeouts.retry,
        notifications_min_severity="OFF",
    )


# Neo4j down, restarting or saturated, after the driver's own retries: the caller may retry.
_UNAVAILABLE = (
    neo4j.exceptions.ServiceUnavailable,
    neo4j.exceptions.SessionExpired,
    neo4j.exceptions.ConnectionPoolError,
    neo4j.exceptions.TransientError,
)


@contextlib.contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Driver errors that mean "Neo4j cannot be reached" become `Unavailable` (HTTP 503)."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise Unavailable("the database is unavailable; try again shortly") from exc


class Graph:
    """Thin wrapper over an AsyncDriver bound to one database."""

    def __init__(self, driver: AsyncDriver, database: str) -> None:
        self.driver = driver
        self.database = database
        self.stats = QueryStats()

    async def read(
        self, query: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        self.stats.record("read", query)

        async def work(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
            result = await tx.run(query, dict(params or {}))
            # Rows are maps and lists already: skip the deep copy `record.data()` would make.
            return [dict(zip(record.keys(), record, strict=True)) async for record in result]

        with unavailable_as_error():
            async with self.driver.session(
                database=self.database, default_access_mode=neo4j.READ_ACCESS
            ) as session:
                return await session.execute_read(work)

    async def read_one(
        self, query: LiteralString, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        rows = await self.read(query, params)
        return rows[0] if rows else None

    async def write(
        self, query: LiteralString, params: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        self.stats.record("write", query)

        async def work(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
            result = await tx.run(query, dict(params or {}))
            # Rows are maps and lists already: skip the deep copy `record.data()` would make.
            return [dict(zip(record.keys(), record, strict=True)) async for record in result]

        with unavailable_as_error():
            async with self.driver.session(database=self.database) as session:
                return await session.execute_write(work)

    async def ping(self) -> bool:
        try:
            await self.driver.verify_connectivity()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
            return False
        return True

    async def close(self) -> None:
        await self.driver.close()
