"""What one request may spend, and how much heavy work may run at once.

Limits used to apply per root field, so 30 aliases multiplied them by 30. A `RequestBudget`
is made per request and shared by all its root fields: the records their reads may fetch
(`max_cost`, charged before each read) and the time their analyses may take (`analytics_s`,
counted from the start of the request).

Heavy work (every analysis, and reads that could fetch `heavy_cost` records or more) passes
the process-wide `HeavyWork` gate:

- one request runs its heavy root fields one after another;
- one subject runs at most `per_subject` heavy requests at a time; one more is refused at
  once (`Busy`, HTTP 429), not queued: a client flooding the service waits on itself;
- the process holds at most `concurrency` driver connections for heavy work at a time. An
  operation takes a slot per connection it uses at once (one for a read; `parallel_reads`
  for an analysis that splits its reads), so the rest of the pool stays free for light
  requests. An operation waits at most `wait_s` for its slots, then is refused (`Busy`, 429).

The subject, not the token id, is the key: a client can mint new tokens at will.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

from dibx.errors import Busy, LimitExceeded


class HeavyWork:
    def __init__(self, *, concurrency: int, per_subject: int, wait_s: float) -> None:
        if not 1 <= per_subject <= concurrency:
            raise ValueError("need 1 <= per_subject <= concurrency")
        self.concurrency = concurrency
        self.per_subject = per_subject
        self.wait_s = wait_s
        # Slots are taken all at once or not at all: two operations each holding part of
        # what they need would wait on each other.
        self._freed = asyncio.Condition()
        self._running: dict[str, int] = {}  # subject -> heavy operations running or queued
        self.held = 0  # slots in use now (a metric)

    @contextlib.asynccontextmanager
    async def slot(self, subject: str, weight: int = 1) -> AsyncIterator[None]:
        """Hold `weight` slots (the connections the operation uses at once; at most
        `concurrency`) while the block runs."""
        weight = max(1, min(weight, self.concurrency))
        mine = self._running.get(subject, 0)
        if mine >= self.per_subject:
            raise Busy(
                f"you already have {mine} heavy request(s) running; retry when one has finished"
            )
        self._running[subject] = mine + 1
        try:
            try:
                async with asyncio.timeout(self.wait_s), self._freed:
                    await self._freed.wait_for(lambda: self.held + weight <= self.concurrency)
                    self.held += weight
            except TimeoutError:
                raise Busy("the service is busy with heavy work; retry shortly") from None
            try:
                yield
            finally:
                self.held -= weight
                async with self._freed:
                    self._freed.notify_all()
        finally:
            left = self._running[subject] - 1
            if left:
                self._running[subject] = left
            else:
                del self._running[subject]


class RequestBudget:
    def __init__(
        self,
        *,
        max_cost: int = 20_000,
        analytics_s: float = 10.0,
        heavy_cost: int = 1_000,
        gate: HeavyWork | None = None,
        subject: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_cost = max_cost
        self.analytics_s = analytics_s
        self.heavy_cost = heavy_cost
        self.spent = 0
        # Set when the gate refused heavy work: the response then says 429, not 200.
        self.refused = False
        self._gate = gate
        self._subject = subject
        self._clock = clock
        self._started = clock()
        self._one_at_a_time = asyncio.Lock()

    def charge(self, cost: int) -> None:
        """Count `cost` records against the request; refuse the read that would go over."""
        if self.spent + cost > self.max_cost:
            raise LimitExceeded(
                f"this request could fetch up to {self.spent + cost} records in all (its root "
                f"fields and aliases together), over the limit of {self.max_cost}: ask for "
                "fewer fields or smaller pages, or split the request",
                limit="cost",
                maximum=self.max_cost,
                measured=self.spent + cost,
            )
        self.spent += cost

    def analytics_left(self) -> float:
        return self.analytics_s - (self._clock() - self._started)

    def is_heavy(self, cost: int) -> bool:
        return cost >= self.heavy_cost

    @contextlib.asynccontextmanager
    async def heavy(self, connections: int = 1) -> AsyncIterator[None]:
        """Hold heavy-work slots for the caller's subject (one per driver connection the
        work uses at once) while the block runs."""
        if self._gate is None:
            yield
            return
        async with self._one_at_a_time:
            try:
                async with self._gate.slot(self._subject, connections):
                    yield
            except Busy:
                self.refused = True
                raise
