"""Who belongs to which agreement on a date: a caller's groups, and what it may know of others.

Two uses, two views (see `dibx.graph.reference`):

* `groups_of` reads the raw memberships. A caller's groups are the system's determination of
  what its nation belongs to, the ground every release decision stands on; they are policy
  facts, not a disclosure, and must not depend on how the membership data is marked (a
  NOFORN marking on GBR's own AUKUS membership must not take AUKUS data away from GBR).
* `released_to` is what a caller may know about every nation's memberships: hidden edges are
  absent and a withheld date establishes nothing. Everything that shapes a response uses it:
  agreement groups in analytics and the expansion of REL TO tetragraphs in banners, where a
  raw table would let a combined marking reveal a membership withheld from the caller.

Memberships are small reference data that change rarely, so both are cached per process for
`ttl` seconds; a change in the graph reaches callers within that time without rewriting any
marked data (NZL joining the NTIB widens what NZL callers see at once).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date

from dibx.auth.release import ReleaseScope
from dibx.graph import reference
from dibx.graph.driver import Graph

Table = dict[str, frozenset[str]]
# Distinct release scopes (groups, date, policy) kept; callers share a handful of them.
_RELEASED_CACHE = 256


class MembershipDirectory:
    def __init__(
        self, graph: Graph, *, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._graph = graph
        self._ttl = ttl
        self._clock = clock
        self._loaded_at: float | None = None
        self._rows: list[reference.Membership] = []
        self._nations: frozenset[str] = frozenset()
        self._agreements: frozenset[str] = frozenset()
        self._released: dict[tuple[frozenset[str], date, str], Table] = {}
        # One load at a time: a burst of requests on a cold or expired cache (a fresh process
        # behind a load balancer, the graphql-http audit's 60 requests at once) used to send
        # every request's own copy of these reads to Neo4j, exhausting the pool into 503s.
        self._loading = asyncio.Lock()

    async def refresh(self) -> None:
        self._rows = await reference.memberships(self._graph)
        self._nations, self._agreements = await reference.codes(self._graph)
        self._released = {}
        self._loaded_at = self._clock()

    def invalidate(self) -> None:
        self._loaded_at = None

    def _stale(self) -> bool:
        return self._loaded_at is None or self._clock() - self._loaded_at > self._ttl

    async def _fresh(self) -> None:
        if self._stale():
            async with self._loading:
                if self._stale():  # another request may have loaded it while this one waited
                    await self.refresh()

    async def groups_of(self, nation: str, as_of: date) -> frozenset[str]:
        """The agreements `nation` belongs to on `as_of`: raw data, for access decisions only."""
        await self._fresh()
        return frozenset(
            m.agreement
            for m in self._rows
            if m.nation == nation and m.since <= as_of and (m.until is None or m.until > as_of)
        )

    async def released_to(self, scope: ReleaseScope) -> Table:
        """Agreement code -> member nations on `scope.as_of`, as far as the caller may see."""
        await self._fresh()
        key = (scope.groups, scope.as_of, scope.policy_version)
        table = self._released.get(key)
        if table is None:
            async with self._loading:
                table = self._released.get(key)
                if table is None:
                    table = await reference.released_members(self._graph, scope)
                    if len(self._released) >= _RELEASED_CACHE:
                        self._released.clear()
                    self._released[key] = table
        return table

    async def nations(self) -> frozenset[str]:
        await self._fresh()
        return self._nations

    async def agreements(self) -> frozenset[str]:
        await self._fresh()
        return self._agreements
