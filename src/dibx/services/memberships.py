"""Who belongs to which agreement on a date: the source of a caller's groups.

Memberships are small, public reference data that change rarely, so they are cached per
process for `ttl` seconds; a change in the graph reaches callers within that time without
rewriting any marked data (NZL joining the NTIB widens what NZL callers see at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date

from dibx.graph import reference
from dibx.graph.driver import Graph


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

    async def refresh(self) -> None:
        self._rows = await reference.memberships(self._graph)
        self._nations, self._agreements = await reference.codes(self._graph)
        self._loaded_at = self._clock()

    def invalidate(self) -> None:
        self._loaded_at = None

    async def _fresh(self) -> None:
        if self._loaded_at is None or self._clock() - self._loaded_at > self._ttl:
            await self.refresh()

    async def groups_of(self, nation: str, as_of: date) -> frozenset[str]:
        await self._fresh()
        return frozenset(
            m.agreement
            for m in self._rows
            if m.nation == nation and m.since <= as_of and (m.until is None or m.until > as_of)
        )

    async def tetragraphs(self, as_of: date) -> dict[str, frozenset[str]]:
        """Agreement code -> member nations on `as_of`, to expand REL TO lists when combining."""
        await self._fresh()
        table: dict[str, set[str]] = {}
        for m in self._rows:
            if m.since <= as_of and (m.until is None or m.until > as_of):
                table.setdefault(m.agreement, set()).add(m.nation)
        return {code: frozenset(members) for code, members in table.items()}

    async def nations(self) -> frozenset[str]:
        await self._fresh()
        return self._nations

    async def agreements(self) -> frozenset[str]:
        await self._fresh()
        return self._agreements
