"""Admission of large GraphQL documents: parsing and validating is the API's own CPU cost.

graphql-core parses and validates in pure Python, on the event loop, at a cost that grows with
the document (a 30-alias nested document costs tens of milliseconds here, even when the
request budget then refuses it). A flood of such documents from many tokens would hold the
loop and starve small, cheap requests. Bodies over `threshold` bytes therefore take one of
`concurrency` slots for their whole request; small bodies (almost every real query) never
wait. A large body that finds no slot within `wait_s` is refused with 429, before any parse.
The body size is a proxy known before any parsing, which is the point: it costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from dibx.errors import Busy


class LargeDocuments:
    def __init__(self, *, threshold: int, concurrency: int, wait_s: float) -> None:
        self.threshold = threshold
        self.wait_s = wait_s
        self._slots = asyncio.Semaphore(concurrency)
        self.waiting = 0  # a metric: large bodies queued for a slot now

    @contextlib.asynccontextmanager
    async def admit(self, size: int) -> AsyncIterator[None]:
        if size <= self.threshold:
            yield
            return
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise Busy(
                f"too many large documents (over {self.threshold} bytes) are being processed; "
                "retry shortly, or send a smaller document"
            ) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
