"""Bounds and defaults every analysis runs under, and the errors that say when one is hit.

Limits are checked on what the caller may see only (a hidden supplier never counts toward
a node limit), so an error never reveals that hidden data exists.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from dibx.errors import Invalid, LimitExceeded
from dibx.services.budget import RequestBudget

T = TypeVar("T")

ALLIED_GROUPS = ("NTIB", "AUKUS", "RDP_MOU", "NATO", "SOSA")
NATIONS_OF_CONCERN = ("CHN", "IRN", "PRK", "RUS")


@dataclass(frozen=True, slots=True)
class AnalyticsLimits:
    max_depth: int = 8
    max_nodes: int = 5_000
    max_edges: int = 20_000
    # Simple paths an exposure walk may follow before it gives up (paths grow exponentially).
    max_paths: int = 100_000
    time_limit_s: float = 10.0
    # Queries one analysis may run at once where its reads split by capability (gap,
    # disruption): each Neo4j query runs on one thread, so this is how many cores it can use.
    parallel_reads: int = 2
    nations_of_concern: tuple[str, ...] = NATIONS_OF_CONCERN
    allied_groups: tuple[str, ...] = ALLIED_GROUPS
    # Planning assumption for substitutes: share of nominal capacity in use (no utilisation
    # data is held), so spare = capacity x (1 - utilisation).
    assumed_utilisation: float = 0.8
    # The request's budget, once bound: its analyses share one clock and pass the heavy-work
    # gate. Unbound (a service used directly), each analysis gets `time_limit_s` of its own.
    budget: RequestBudget | None = field(default=None, compare=False)

    def bound(self, budget: RequestBudget) -> AnalyticsLimits:
        return replace(self, budget=budget)

    def check_depth(self, depth: int, field: str = "depth") -> int:
        if depth < 0:
            raise Invalid("must not be negative", field=field)
        if depth > self.max_depth:
            raise _over(field, "analyticsDepth", self.max_depth, depth)
        return depth

    def check_nodes(self, max_nodes: int | None, field: str = "maxNodes") -> int:
        if max_nodes is None:
            return self.max_nodes
        if max_nodes < 1:
            raise Invalid("must be at least 1", field=field)
        if max_nodes > self.max_nodes:
            raise _over(field, "analyticsNodes", self.max_nodes, max_nodes)
        return max_nodes


def _over(field: str, limit: str, maximum: int, asked: int) -> LimitExceeded:
    """An argument over its bound, named as a document's limits are (`limit`, `maximum`,
    `measured`)."""
    return LimitExceeded(
        f"must be at most {maximum}", field=field, limit=limit, maximum=maximum, measured=asked
    )


def too_many(
    what: str, limit: int, hint: str = "lower depth or pick a narrower root"
) -> LimitExceeded:
    # Counting stops at the bound: how far past it the graph goes is not measured.
    return LimitExceeded(
        f"the visible subgraph has more than {limit} {what}; {hint}",
        limit="analytics" + "".join(w[:1].upper() + w[1:] for w in what.split()),
        maximum=limit,
    )


async def within(
    limits: AnalyticsLimits, work: Coroutine[Any, Any, T], *, connections: int = 1
) -> T:
    """Run `work` as heavy work under the time limit (what is left of the request's, when
    bound); on expiry it is cancelled (which also abandons the Neo4j transaction: the driver
    drops the connection) and the caller gets LimitExceeded. Waiting for heavy-work slots
    (`connections`: the reads `work` runs at once) counts against the time."""
    budget = limits.budget
    left = limits.time_limit_s if budget is None else budget.analytics_left()
    if left <= 0:
        work.close()
        raise LimitExceeded(
            f"the request's analyses took longer than {limits.time_limit_s:g} s in all; "
            "run fewer analyses per request",
            limit="analyticsSeconds",
            maximum=math.ceil(limits.time_limit_s),
        )
    try:
        async with asyncio.timeout(left):
            if budget is None:
                return await work
            async with budget.heavy(connections):
                return await work
    except TimeoutError:
        raise LimitExceeded(
            f"the analyses of this request took longer than {limits.time_limit_s:g} s; "
            "lower depth, narrow them or run fewer per request",
            limit="analyticsSeconds",
            maximum=math.ceil(limits.time_limit_s),
        ) from None
    finally:
        work.close()  # never started when the gate refused it; a no-op once it has run
