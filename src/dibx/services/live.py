"""Live delivery of the change feed to subscribers: one poller per API process.

No in-process bus: every API process reads the outbox in Neo4j itself, so a write through any
replica reaches subscribers on every other one. Each process runs ONE poller (while it has
subscribers) that reads the newest committed `seq` every `interval_s`; when it moved, the
subscribers are grouped by what they read (`Interest.key`: release scope, token scopes, types,
filter), and ONE read of the feed per group, from the group's lowest position, serves every
member; each member takes the events after its own position. The read is the feed's own
release-filtered read (`dibx.services.changes`), so a subscription releases exactly what the
`changes` query would for the same cursor: there is no second release logic here.

Positions are `seq` numbers, never shown: a subscriber sees only the sealed cursor of each event
it receives. A member's position also moves past events its group cannot see, so hidden changes
cost nothing and show nowhere. Events are committed in `seq` order (the outbox's counter lock),
so a read that returns fewer events than it asked for has covered everything up to the head it
was started after.

Backpressure: each subscriber has a bounded queue of `queue_size` events. A member the poller
has events for that do not fit in its queue (its client has not taken the last `queue_size`
events) is dropped: `Subscriber.dropped` says why, `on_drop` tells the transport, which closes
the socket (code 1013 Try Again Later, see dibx.app.live). The client resumes with the cursor of
the last event it received and misses nothing. Memory per process is therefore bounded by
`max_subscribers` x `queue_size` events, whatever clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from dibx.auth.release import ReleaseScope
from dibx.errors import Busy

log = structlog.get_logger("dibx.live")

BEHIND = "subscriber fell behind"


Position = tuple[int, int]  # (seq, ordinal): a membership event fans out inside one seq


class Positioned(Protocol):
    """An event of the feed: its `position` orders it (never shown to a client)."""

    @property
    def position(self) -> Position: ...


@dataclass(frozen=True, slots=True)
class Slice:
    """One read of the feed: `items` from the position read from, in order; `end` the first
    position not yet considered (hidden events included); `more` if the read stopped at its
    size with more committed."""

    items: Sequence[Positioned]
    end: Position
    more: bool


Read = Callable[[Position, int], Awaitable[Slice]]


@dataclass(frozen=True, slots=True)
class Interest:
    """What a subscriber reads now: `read(position, first)` is the feed's release-filtered
    read for its caller; subscribers with equal `key` read the same events."""

    key: Hashable
    read: Read


@dataclass(frozen=True, slots=True)
class LiveLimits:
    interval_s: float = 0.2
    queue_size: int = 1000  # events held per subscriber before it is dropped
    page_size: int = 200  # events per read of the feed
    max_subscribers: int = 2000  # per process


@dataclass(eq=False)
class Subscriber:
    """One subscription: its position, its queue, and how to find out what it reads now
    (`interest` is asked again at every round, so a membership that starts or ends, or a new
    day, changes its release scope while it runs)."""

    interest: Callable[[], Awaitable[Interest]]
    position: Position  # the first event not yet queued
    queue_size: int
    on_drop: Callable[[str], None] = lambda reason: None
    queue: deque[Positioned] = field(default_factory=deque)
    dropped: str | None = None
    delivered: int = 0
    high_water: int = 0  # the most events its queue ever held (at most queue_size)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, events: Sequence[Positioned]) -> bool:
        """Queue the events after this subscriber's position; False if they do not fit."""
        fresh = [e for e in events if e.position >= self.position]
        if len(self.queue) + len(fresh) > self.queue_size:
            return False
        self.queue.extend(fresh)
        self.high_water = max(self.high_water, len(self.queue))
        if fresh:
            self._ready.set()
        return True

    def drop(self, reason: str) -> None:
        if self.dropped is None:
            self.dropped = reason
            self.queue.clear()  # what it could not take is freed now; it resumes by cursor
            self._ready.set()
            self.on_drop(reason)

    async def events(self) -> AsyncIterator[Positioned]:
        """The events in order, until it is dropped or the consumer stops."""
        while self.dropped is None:
            if not self.queue:
                self._ready.clear()
                await self._ready.wait()
                continue
            event = self.queue.popleft()
            self.delivered += 1
            yield event


class LiveHub:
    """The poller of one process and its subscribers."""

    def __init__(self, head: Callable[[], Awaitable[int]], limits: LiveLimits) -> None:
        """`head()` is the newest committed `seq` (dibx.graph.outbox.last_seq)."""
        if not 1 <= limits.page_size <= limits.queue_size:
            raise ValueError("the page size must be 1..queue size")
        self._head = head
        self.limits = limits
        self._subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.rounds = 0  # rounds that read the feed (tests and /metrics watch these)
        self.reads = 0  # reads of the feed, one per group per page

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    async def head(self) -> int:
        return await self._head()

    def subscribe(
        self,
        interest: Callable[[], Awaitable[Interest]],
        position: Position,
        on_drop: Callable[[str], None] = lambda reason: None,
    ) -> Subscriber:
        if len(self._subscribers) >= self.limits.max_subscribers:
            raise Busy(
                "this API process serves as many subscriptions as it may; retry later or "
                "on another replica",
                limit="subscriptions",
                maximum=self.limits.max_subscribers,
            )
        subscriber = Subscriber(interest, position, self.limits.queue_size, on_drop)
        self._subscribers.add(subscriber)
        if self._task is None or self._task.done():
            # Its own context: the poller's reads are no subscriber's request.
            self._task = asyncio.create_task(
                self._run(), name="dibx-live-poller", context=contextvars.Context()
            )
        self._wake.set()  # a new subscriber may have a backlog: do not wait for the tick
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while self._subscribers:
            started = time.monotonic()
            try:
                await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Neo4j may be away a while: keep polling
                log.warning("live_round_failed", error=str(exc))
            self._wake.clear()
            wait = self.limits.interval_s - (time.monotonic() - started)
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)

    async def round(self) -> None:
        """One poll: read the head, then serve each group that is behind it."""
        live = [s for s in self._subscribers if s.dropped is None]
        if not live:
            return
        head = await self._head()
        behind = [s for s in live if s.position[0] <= head]
        if not behind:
            return
        self.rounds += 1
        groups: dict[Hashable, tuple[Interest, list[Subscriber]]] = {}
        for subscriber in behind:
            interest = await subscriber.interest()
            groups.setdefault(interest.key, (interest, []))[1].append(subscriber)
        await asyncio.gather(*(self._serve(i, members) for i, members in groups.values()))

    async def _serve(self, interest: Interest, members: list[Subscriber]) -> None:
        page = self.limits.page_size
        # Read page after page while some member has room for a whole one: a member that is
        # catching up gets at most its queue's worth per round.
        while members:
            start = min(m.position for m in members)
            batch = await interest.read(start, page)
            self.reads += 1
            for member in members:
                if member.dropped is not None:
                    continue
                if member.offer(batch.items):
                    member.position = max(member.position, batch.end)
                else:
                    member.drop(BEHIND)
            if not batch.more:
                return
            members = [
                m for m in members if m.dropped is None and m.queue_size - len(m.queue) >= page
            ]


@dataclass(eq=False)
class LiveSession:
    """What a subscription resolver needs from its socket: the hub, the caller's release scope
    as of now (memberships and the date can change while a socket is open), and how to end the
    socket when its subscriber is dropped. Made by the transport (dibx.app.live)."""

    hub: LiveHub
    scope_now: Callable[[], Awaitable[ReleaseScope]]
    on_drop: Callable[[str], None]
    delivered: int = 0
    released: int = 0  # marked values released over the subscription (its audit record)
    withheld: int = 0
    error_codes: set[str] = field(default_factory=set)  # of the errors it answered
    refused: bool = False  # by a request error (validation, a limit) before it ran
