"""The one place that holds the Neo4j driver and sends Cypher.

Reads run as one auto-commit statement each in a read session (so a cluster can route them
to followers), retried here as the driver retries managed transactions; writes go through
`execute_write`. Both retry transient errors, so the work is idempotent and consumes its
results inside the session or transaction. A write that must be audited before it commits passes
`before_commit`: it runs in an explicit transaction instead (see `Graph.write`). Every
query is counted, which is how the tests prove that a GraphQL root field costs exactly one
round trip. All Cypher (reads, writes, migrations, seeding) goes through `Graph`.

Every transaction carries a server-side timeout (`DIBX_NEO4J_TX_TIMEOUT`; a call may pass its
own, e.g. `NO_TIMEOUT` for bulk loads) so a runaway query is stopped by Neo4j itself, and the
request id (`request_context`) as transaction metadata, so `SHOW TRANSACTIONS` and the query
log name the request a query ran for.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, LiteralString, Protocol, TypeVar

import neo4j
import structlog
from neo4j import AsyncDriver, AsyncGraphDatabase, AsyncManagedTransaction, AsyncTransaction

from dibx.errors import MemoryLimit, TimedOut, Unavailable

Rows = list[dict[str, Any]]
R = TypeVar("R")
# Runs inside a write transaction after its statement, before COMMIT; raising rolls it back.
BeforeCommit = Callable[[Rows], Awaitable[None]]
# Attempts of a hooked write; only failures before the hook ran are retried (see Graph.write).
WRITE_ATTEMPTS = 3
# Seconds a transaction may run on the server unless the caller says otherwise.
DEFAULT_TX_TIMEOUT = 30.0
# Neo4j reads a zero timeout as "no limit": for bulk loads whose batches may take long.
NO_TIMEOUT = 0.0
# The first pause before a read is retried (then doubled), as the driver's managed
# transactions begin.
_FIRST_RETRY_DELAY = 1.0

# The request the current task serves, sent with every transaction as metadata.
_REQUEST_ID: ContextVar[str | None] = ContextVar("dibx_request_id", default=None)


def current_request_id() -> str | None:
    return _REQUEST_ID.get()


@contextlib.contextmanager
def request_context(request_id: str) -> Iterator[None]:
    """Tag every transaction sent inside the block with `request_id`."""
    token = _REQUEST_ID.set(request_id)
    try:
        yield
    finally:
        _REQUEST_ID.reset(token)


log = structlog.get_logger("dibx.graph")


@dataclass
class QueryStats:
    """Counts queries sent; read by tests and exported as a metric. `observe`, if set, gets
    each transaction's kind and duration in seconds (retries included), failed ones too."""

    reads: int = 0
    writes: int = 0
    # Transactions of `Graph.transaction` run again after a transient error, and how many
    # of them per error (the server's code, e.g. `...Transaction.DeadlockDetected`, or the
    # driver's exception class): a deadlock is a bug in lock order, a saturated memory pool
    # or a leader switch is not.
    retried: dict[str, int] = field(default_factory=dict)
    on_retry: Callable[[str], None] | None = None  # gets each retry's code (a metric)
    last: list[str] = field(default_factory=list)
    observe: Callable[[str, float], None] | None = None

    @property
    def total(self) -> int:
        return self.reads + self.writes

    @property
    def retries(self) -> int:
        return sum(self.retried.values())

    def note_retry(
        self,
        error: neo4j.exceptions.Neo4jError | neo4j.exceptions.DriverError,
        statement: str | None = None,
    ) -> None:
        """Counts a retried write by its code; logs it with the statement that failed."""
        code = getattr(error, "code", None) or type(error).__name__
        self.retried[code] = self.retried.get(code, 0) + 1
        if self.on_retry is not None:
            self.on_retry(code)
        log.warning(
            "write transaction retried",
            code=code,
            error=str(error)[:300],
            statement=" ".join((statement or "").split())[:200],
        )

    def record(self, kind: str, query: str) -> None:
        if kind == "read":
            self.reads += 1
        else:
            self.writes += 1
        # Keep only a short tail: enough for a test or an on-call engineer to see what ran.
        self.last.append(query)
        del self.last[:-20]

    @contextlib.contextmanager
    def timed(self, kind: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            if self.observe is not None:
                self.observe(kind, time.perf_counter() - start)


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


# Client errors that mean the server stopped the transaction, not that the query is wrong:
# a transaction waiting for a lock when Neo4j shuts down (or its timeout ends the wait).
_TERMINATED = frozenset({"Neo.ClientError.Transaction.LockClientStopped"})

# Transient errors that mean the transaction asked for more memory than Neo4j allows: the pool
# of all transactions (`dbms.memory.transaction.total.max`) or one's (`db.memory.transaction.max`).
_MEMORY = frozenset(
    {
        "Neo.TransientError.General.MemoryPoolOutOfMemoryError",
        "Neo.TransientError.General.TransactionMemoryLimit",
    }
)


def _timed_out(exc: neo4j.exceptions.Neo4jError) -> bool:
    # Neo.ClientError.Transaction.TransactionTimedOut[ClientConfiguration]: the server stopped
    # a transaction that ran past its timeout.
    return "TransactionTimedOut" in (exc.code or "")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    # The error itself, then what caused it: closing a failed transaction raises
    # ResultFailedError with the real failure (DatabaseUnavailable, ...) as its cause.
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


@contextlib.contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Driver errors that mean "Neo4j cannot be reached" become `Unavailable` (HTTP 503); a
    transaction stopped by its server-side timeout becomes `TimedOut`; one refused memory
    becomes `MemoryLimit` (an `Unavailable` that says so). The error's causes
    count too (a restart surfaces as ResultFailedError caused by DatabaseUnavailable)."""
    try:
        yield
    except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
        for cause in _causes(exc):
            if isinstance(cause, neo4j.exceptions.Neo4jError) and _timed_out(cause):
                raise TimedOut("the query ran past its time limit and was stopped") from exc
            if getattr(cause, "code", None) in _MEMORY:
                # Not Neo4j's message: how much memory a read held depends on what it
                # touched, withheld records included. Logs may carry it (`__cause__`).
                raise MemoryLimit(
                    "the database refused the transaction more memory: all transactions "
                    "at once passed its transaction memory limit"
                ) from exc
            if isinstance(cause, _UNAVAILABLE) or getattr(cause, "code", None) in _TERMINATED:
                raise Unavailable("the database is unavailable; try again shortly") from exc
        raise


def listed(rows: Rows) -> Rows:
    """The rows of a statement that returns them as one list: `... RETURN collect({...}) AS
    rows`. Bulk reads (an import batch's, an export page) are written so: as records, each
    row cost the async driver several awaited socket reads and event-loop turns, most of a
    re-import's client CPU (cProfile, bench/README "Collected reads"), while one record
    holding the list is decoded in one call."""
    return list(rows[0]["rows"]) if rows else []


async def _rows(result: neo4j.AsyncResult) -> Rows:
    # Rows are maps and lists already: skip the deep copy `record.data()` would make.
    return [dict(zip(record.keys(), record, strict=True)) async for record in result]


class TxRunner:
    """Runs statements inside one explicit write transaction (`Graph.transaction`)."""

    def __init__(self, graph: Graph, tx: AsyncTransaction) -> None:
        self._graph, self._tx = graph, tx
        self.last: str | None = None  # the statement sent last (a retry's log names it)

    async def run(self, query: LiteralString, params: Mapping[str, Any] | None = None) -> Rows:
        self._graph.stats.record("write", query)
        self.last = query
        return await _rows(await self._tx.run(query, dict(params or {})))


async def first_row(
    reads: Reads,
    query: LiteralString,
    params: Mapping[str, Any] | None = None,
    *,
    tx_timeout: float | None = None,
) -> dict[str, Any] | None:
    """`read_one` of every `Reads`: the first row of `read`, or None."""
    rows = await reads.read(query, params, tx_timeout=tx_timeout)
    return rows[0] if rows else None


class Reads(Protocol):
    """What a service that only reads needs of the graph: `Graph` itself, or one request's
    cached view of it (`dibx.graph.read_cache`)."""

    async def read(
        self,
        query: LiteralString,
        params: Mapping[str, Any] | None = None,
        *,
        tx_timeout: float | None = None,
    ) -> Rows: ...

    async def read_one(
        self,
        query: LiteralString,
        params: Mapping[str, Any] | None = None,
        *,
        tx_timeout: float | None = None,
    ) -> dict[str, Any] | None: ...

    async def read_as(
        self, query: LiteralString, params: Mapping[str, Any], parse: Callable[[Rows], R]
    ) -> R:
        """`parse(read(query, params))`; `parse` must return an immutable value (a cached
        view keeps it for the next identical read)."""
        ...


class Graph:
    """Thin wrapper over an AsyncDriver bound to one database.

    `tx_timeout` (seconds) is the server-side timeout of every transaction; a call may pass
    `tx_timeout` instead (`NO_TIMEOUT` for none). `retry_s` bounds the retries of a read
    (default: `Timeouts().retry`, as `connect` gives the driver for managed transactions).
    """

    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        *,
        tx_timeout: float = DEFAULT_TX_TIMEOUT,
        retry_s: float | None = None,
    ) -> None:
        self.driver = driver
        self.database = database
        self.tx_timeout = tx_timeout
        # How long a read is retried (as `connect`'s `Timeouts.retry` bounds managed ones).
        self.retry_s = Timeouts().retry if retry_s is None else retry_s
        self.stats = QueryStats()

    def _tx_config(self, tx_timeout: float | None) -> dict[str, Any]:
        request_id = current_request_id()
        return {
            "timeout": self.tx_timeout if tx_timeout is None else tx_timeout,
            "metadata": None if request_id is None else {"requestId": request_id},
        }

    async def read(
        self,
        query: LiteralString,
        params: Mapping[str, Any] | None = None,
        *,
        tx_timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        self.stats.record("read", query)
        config = self._tx_config(tx_timeout)
        statement = neo4j.Query(query, timeout=config["timeout"], metadata=config["metadata"])
        with self.stats.timed("read"), unavailable_as_error():
            return await self._read_retried(statement, dict(params or {}))

    async def _read_retried(self, statement: neo4j.Query, params: dict[str, Any]) -> Rows:
        """One statement as an auto-commit read: RUN and PULL in one round trip, no BEGIN or
        COMMIT (a managed transaction's cost nearly doubles the driver's CPU per read). The
        statement is one read, so it is as atomic as a transaction. Retried as the driver
        retries a managed transaction: errors it calls retryable, with doubling delays,
        until `retry_s` is spent."""
        deadline = time.monotonic() + self.retry_s
        delay = _FIRST_RETRY_DELAY
        while True:
            try:
                async with self.driver.session(
                    database=self.database, default_access_mode=neo4j.READ_ACCESS
                ) as session:
                    return await _rows(await session.run(statement, params))
            except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as exc:
                if not exc.is_retryable() or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # jitter, as the driver adds
            delay *= 2

    read_one = first_row

    async def read_as(
        self, query: LiteralString, params: Mapping[str, Any], parse: Callable[[Rows], R]
    ) -> R:
        return parse(await self.read(query, params))

    async def write(
        self,
        query: LiteralString,
        params: Mapping[str, Any] | None = None,
        *,
        before_commit: BeforeCommit | None = None,
        tx_timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """Run one write statement in one transaction and return its rows.

        With `before_commit`, the hook gets the rows after the statement ran and before COMMIT
        (e.g. to make the write's audit record durable); if it raises, the transaction rolls
        back and nothing is written.
        """
        if before_commit is not None:
            # The single-statement case of `transaction`: the same retry and hook rules.
            given = dict(params or {})

            async def one(tx: TxRunner) -> Rows:
                return await tx.run(query, given)

            return await self.transaction(one, before_commit=before_commit, tx_timeout=tx_timeout)
        self.stats.record("write", query)
        config = self._tx_config(tx_timeout)

        @neo4j.unit_of_work(**config)
        async def work(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
            result = await tx.run(query, dict(params or {}))
            # Rows are maps and lists already: skip the deep copy `record.data()` would make.
            return [dict(zip(record.keys(), record, strict=True)) async for record in result]

        with self.stats.timed("write"), unavailable_as_error():
            async with self.driver.session(database=self.database) as session:
                return await session.execute_write(work)

    async def transaction(
        self,
        work: Callable[[TxRunner], Awaitable[Rows]],
        *,
        before_commit: BeforeCommit,
        tx_timeout: float | None = None,
    ) -> Rows:
        """Run several write statements (`work`, given a runner) as one transaction, then
        `before_commit` with the rows `work` returned, then COMMIT. Any exception from `work`
        or the hook rolls everything back. Transient failures of `work` (a deadlock between
        concurrent writers) rerun it in a fresh transaction, as `write` does, only while the
        hook has not run."""
        # An explicit transaction, not execute_write: a managed transaction reruns its whole
        # work function after a transient error, so a hook inside it could run for attempts
        # that never commit, and a hook outside it would run after COMMIT. Once the hook has
        # run, any failure (COMMIT included) is raised to the caller.
        config = self._tx_config(tx_timeout)
        with self.stats.timed("write"):
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                with unavailable_as_error():
                    async with self.driver.session(database=self.database) as session:
                        tx: AsyncTransaction | None = None
                        runner: TxRunner | None = None
                        try:
                            try:
                                tx = await session.begin_transaction(**config)
                                runner = TxRunner(self, tx)
                                rows = await work(runner)
                            except (
                                neo4j.exceptions.Neo4jError,
                                neo4j.exceptions.DriverError,
                            ) as e:
                                if attempt < WRITE_ATTEMPTS and e.is_retryable():
                                    self.stats.note_retry(e, runner.last if runner else None)
                                    await asyncio.sleep(0.05 * attempt)
                                    continue
                                raise
                            await before_commit(rows)
                            await tx.commit()
                            return rows
                        finally:
                            if tx is not None and not tx.closed():
                                # ROLLBACK. After a failure it raises again, which would hide
                                # the real error and stop the retry; the server rolls back a
                                # transaction whose connection is gone.
                                with contextlib.suppress(
                                    neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError
                                ):
                                    await tx.close()
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def ping(self) -> bool:
        try:
            await self.driver.verify_connectivity()
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError):
            return False
        return True

    async def close(self) -> None:
        await self.driver.close()
