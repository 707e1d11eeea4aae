"""Rows of release-checked reads, kept for identical reads until the data changes.

Why: a nation-wide `disruption` or a deep `capabilityGap` reads every visible offer of the
capabilities involved, seconds of Neo4j CPU at 200,000 suppliers (bench/README), and
dashboards ask for the same analysis again and again while nothing changes.

Why it cannot release anything the database would not:

* The key is the Cypher text and every parameter, the caller's release parameters
  included (`ReleaseScope.cypher_params`: groups and policy defaults). An entry answers only
  the identical statement with identical parameters: the release decision stays the one the
  Cypher made for exactly those groups.
* An entry is served only while the data generation (`dibx.graph.generation`) is the one
  read before the entry was computed; every dibx writer moves it in its own transaction.
  A request reads the generation once, before its first read, and keeps it: an entry
  computed while a write committed is filed under the generation before that write, so the
  first request after the commit does not find it.
* A graph without a generation (no counter yet) is read, never cached.
* An identical read of the same generation that is already running is waited for rather
  than sent again (a dashboard's refresh after a write asks the same thing many times at
  once). If that read fails or its request gives up, each waiter reads for itself.
* Every entry expires after `max_age_s`, which bounds what a write from outside dibx (an
  operator's Cypher moves no generation) can leave stale.
* Rows are kept pickled, so no request can change another's copy; `read_as` keeps what its
  `parse` made of them instead, which must be immutable (frozen dataclasses and tuples), and
  keys it by the parse function too.

Entries are evicted least recently used first, within `max_bytes`: an entry counts the size
of its rows pickled, a parsed one `PARSED` times that (what it holds in memory); one larger
than an eighth of the bound is not kept. Errors are never kept.
Each API process has its own cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import pickle
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, LiteralString, TypeVar

from dibx.graph import generation
from dibx.graph.driver import Graph, Rows, first_row
from dibx.graph.generation import Generation

# Outcomes `observe` is told of, one per read: served from the cache, read and kept, served
# by an identical read that was running already, read because the graph has no generation
# (or caching is off).
HIT, MISS, SHARED, UNCACHED = "hit", "miss", "shared", "uncached"
OUTCOMES = (HIT, MISS, SHARED, UNCACHED)


class _Abandoned(Exception):
    """What waiters of a running read get when it fails or is cancelled: they read alone."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Entry:
    generation: Generation
    stored_at: float
    value: Any  # pickled rows (`read`) or an immutable parse of them (`read_as`)
    size: int


def _canonical(value: Any) -> Any:
    """A value whose pickle is the same for equal parameters: maps sorted by key, and
    containers tagged, so that a list and a map of the same items never share a key."""
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _canonical(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(_canonical(v) for v in value))
    return value


def key_of(query: str, params: Mapping[str, Any], parse: str = "") -> bytes:
    """The cache key of one read: a digest of its text, every parameter and the name of the
    function that parses its rows (none: the rows themselves)."""
    raw = pickle.dumps((query, _canonical(params), parse), protocol=pickle.HIGHEST_PROTOCOL)
    return hashlib.blake2b(raw, digest_size=32).digest()


class ReadCache:
    """Rows of identical reads, per data generation; `reads()` gives one request's view."""

    def __init__(
        self,
        graph: Graph,
        *,
        max_bytes: int,
        max_age_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.graph = graph
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.clock = clock
        self.observe: Callable[[str], None] | None = None
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._bytes = 0
        # Reads running now, by key: an identical read (same generation) waits for it.
        self._flying: dict[bytes, tuple[Generation, asyncio.Future[Any]]] = {}

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0 and self.max_age_s > 0

    @property
    def stored_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def reads(self) -> CachedReads:
        """A view for one request: it reads the generation once, before its first read."""
        return CachedReads(self)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    def _noted(self, outcome: str) -> None:
        if self.observe is not None:
            self.observe(outcome)

    def _get(self, key: bytes, current: Generation) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.generation != current or self.clock() - entry.stored_at > self.max_age_s:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def _put(self, key: bytes, current: Generation, value: Any, size: int) -> None:
        if size > self.max_bytes // 8:
            return
        self._drop(key)
        self._entries[key] = _Entry(current, self.clock(), value, size)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: bytes) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.size


_OFF = object()

# What a parsed entry holds in memory, per byte of its rows pickled: frozen dataclasses,
# tuples and their strings as Python objects (a nation-wide disruption at 200k suppliers:
# 21.6 MB measured with tracemalloc for 6.2 MB of pickled rows, about 3.5).
PARSED = 4


def _pickled(rows: Rows) -> bytes:
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


class CachedReads:
    """`Graph.read` and `read_one` through a `ReadCache`, for one request."""

    def __init__(self, cache: ReadCache) -> None:
        self.cache = cache
        self._generation: Generation | None = None
        self._read = False
        self._lock = asyncio.Lock()

    async def generation(self) -> Generation | None:
        async with self._lock:  # parallel reads of one request share one reading
            if not self._read:
                self._generation = generation.of(await self.cache.graph.read_one(generation.READ))
                self._read = True
        return self._generation

    async def read(
        self,
        query: LiteralString,
        params: Mapping[str, Any] | None = None,
        *,
        tx_timeout: float | None = None,
    ) -> Rows:
        data, fresh = await self._cached(query, params, tx_timeout, "", _pickled)
        if data is _OFF:
            return await self.cache.graph.read(query, params, tx_timeout=tx_timeout)
        if fresh is not None:  # read by this request: its own, the cache keeps a copy
            return fresh
        # Bytes this process pickled from rows Neo4j returned: never from outside.
        rows: Rows = pickle.loads(data)  # noqa: S301
        return rows

    read_one = first_row

    async def read_as(
        self, query: LiteralString, params: Mapping[str, Any], parse: Callable[[Rows], T]
    ) -> T:
        name = f"{parse.__module__}.{parse.__qualname__}"
        value, _ = await self._cached(query, params, None, name, parse)
        if value is _OFF:
            return await self.cache.graph.read_as(query, params, parse)
        kept: T = value
        return kept

    async def _cached(
        self,
        query: LiteralString,
        params: Mapping[str, Any] | None,
        tx_timeout: float | None,
        name: str,
        keep: Callable[[Rows], Any],
    ) -> tuple[Any, Rows | None]:
        """What `keep` made of the rows, from the cache or read and kept, and the rows when
        this request read them itself; `_OFF` when it reads without the cache (the caller
        then reads itself)."""
        cache = self.cache
        current = await self.generation() if cache.enabled else None
        if current is None:
            cache._noted(UNCACHED)
            return _OFF, None
        key = key_of(query, params or {}, name)
        entry = cache._get(key, current)
        if entry is not None:
            cache._noted(HIT)
            return entry.value, None
        flight = cache._flying.get(key)
        if flight is not None and flight[0] == current:
            try:
                # Shielded: a waiter giving up (its time limit) must not cancel the future
                # the running read completes for the others.
                value = await asyncio.shield(flight[1])
            except _Abandoned:
                pass  # the read waited for failed or was cancelled: read for this request
            else:
                cache._noted(SHARED)
                return value, None
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        cache._flying[key] = (current, done)
        try:
            rows = await cache.graph.read(query, params, tx_timeout=tx_timeout)
            value = keep(rows)
            size = len(value) if isinstance(value, bytes) else PARSED * len(_pickled(rows))
            cache._put(key, current, value, size)
            done.set_result(value)
        except BaseException:
            done.set_exception(_Abandoned())
            done.exception()  # retrieved: nobody may be waiting
            raise
        finally:
            if cache._flying.get(key, (None, None))[1] is done:
                del cache._flying[key]
        cache._noted(MISS)
        return value, rows
