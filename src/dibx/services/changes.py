"""The change feed: what changed after a cursor, as far as one caller may know (docs/changes.md).

This is the read service behind the `changes` query and the `changes` subscription. Its
Python API is stable; a subscription polls `read` with the cursor of its last delivery:

    feed = ChangeFeed(graph, sealer, model=MODEL, retention_days=7, max_page_size=100)
    page = await feed.read(scope, after=None, first=50)      # from the oldest retained event
    for event in page.events:                                 # ChangeEvent, oldest first
        deliver(event, event.cursor)                          # resume after this one
    page = await feed.read(scope, after=page.end_cursor, first=50)

* `read(scope, *, after, first, types, kinds, ids) -> ChangePage` raises `Invalid` (bad
  `first`, a cursor not sealed for this caller and these arguments), `CursorExpired`
  (`CURSOR_EXPIRED`: the cursor is older than retention; resync from a fresh read) and the
  driver's `Unavailable` / `TimedOut`.
* `ChangePage.events`: `ChangeEvent`s in commit order; `.end_cursor`: resume after everything
  this page considered (never None); `.has_next_page`: more events the caller may see were
  already committed (read again at once).
* `ChangeEvent`: `type` (Supplier, Capability, PROVIDES, ...), `kind` (CREATED, UPDATED,
  RETIRED), `key` (records) or `start` / `end` (edges; `start_type` / `end_type` say of what),
  `marking` (the record's or edge's; None on RETIRED), `fields` (`FieldValue`: field, value,
  released, marking), `at` (commit time, UTC) and `cursor`.
* `compact(now=None) -> int`: drop events past retention from the feed (history stays).
* `mark_membership_dates(today=None) -> int`: events for dated memberships that started or
  ended by today with nothing committed (run with compaction).
* `last_seq() -> int` and `position(scope, after, *, types, kinds, ids) -> Position`: for
  a poller serving many subscribers, read a page only when `last_seq()` has reached a
  subscriber's `position` (the first event not yet read: a `seq` and an ordinal inside it,
  since a membership event fans out into many events of one `seq`). Internal numbers:
  never send them to a caller.

Cursors are sealed (`dibx.graph.cursors.Sealer`), bound to the caller's nation and the groups
that do not follow its memberships (`ReleaseScope.standing_groups`: a cursor outlives a
membership starting or ending, which is what the feed then reports) and to the arguments
(types, kinds, ids), and hold a position in the log, the time its age counts from and a random
salt: two cursors never compare equal, so a cursor says nothing about
events the caller may not see, not even that some passed (`end_cursor` moves past them).
A cursor expires `retention_days` after the time of its place in the log: the commit of the
event it follows (an event's cursor, a full page's end), the cursor a page of nothing was
read from, or the read that reached everything committed. Events are kept for retention plus
`COMMIT_GRACE` after their commit, so a cursor that has not expired never misses one, however
late it was handed out (a backlog read days after it committed).
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dibx.auth.release import ReleaseScope
from dibx.errors import DibxError, Invalid
from dibx.graph import membership_clock, outbox
from dibx.graph.changes import CREATED, RETIRED_KIND, UPDATED, FeedReader
from dibx.graph.cursors import Sealer
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, Model
from dibx.services.budget import RequestBudget

KINDS = (CREATED, UPDATED, RETIRED_KIND)
DEFAULT_FIRST = 50
# How long before its commit an event's `committedAt` may be stamped (the transaction's
# tail: its audit hook and COMMIT): compaction keeps events this much longer than retention.
COMMIT_GRACE = timedelta(hours=1)
EXPIRED_MESSAGE = "the cursor is older than the change retention: resync from a fresh read"
CONNECTION = "changes"
_PARTS = 4  # seq, ordinal, issued at (epoch seconds), salt
# Where a reader stands: the first (seq, ordinal) not yet read. Ordinal 0 is an event's own
# record or edge; 1.. the records a membership event shows its nation (dibx.graph.fanout).
Position = tuple[int, int]
START: Position = (0, 0)


class CursorExpired(DibxError):
    """A cursor older than retention: events after it may have been compacted."""

    code = "CURSOR_EXPIRED"


@dataclass(frozen=True, slots=True)
class FieldValue:
    field: str
    value: Any  # None when withheld or empty
    released: bool
    marking: str | None


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    type: str
    kind: str
    key: str | None
    start: str | None
    end: str | None
    start_type: str | None
    end_type: str | None
    marking: str | None
    fields: list[FieldValue]
    at: datetime | None
    cursor: str


@dataclass(frozen=True, slots=True)
class Positioned:
    """An event with its position in the log (never shown: cursors carry it sealed)."""

    seq: int
    ordinal: int
    event: ChangeEvent

    @property
    def position(self) -> Position:
        return (self.seq, self.ordinal)


@dataclass(frozen=True, slots=True)
class FeedSlice:
    items: list[Positioned]
    end: Position
    more: bool


@dataclass(frozen=True, slots=True)
class ChangePage:
    events: list[ChangeEvent]
    end_cursor: str
    has_next_page: bool


def _now() -> datetime:
    return datetime.now(UTC)


def _after(row: dict[str, Any]) -> Position:
    """The position just after an event read from the feed."""
    return (int(row["seq"]), int(row["ordinal"]) + 1)


def _viewer(scope: ReleaseScope) -> str:
    """Whom a feed cursor is for: the caller's nation and its groups that do not follow
    memberships. A feed position holds no value the caller saw, only where in the log it
    stands, so a membership that starts or ends must not void it: resuming after it is how
    the caller learns what the membership changed."""
    return json.dumps([scope.nation, sorted(scope.standing_groups())])


def _plain(value: Any) -> Any:
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


class ChangeFeed:
    def __init__(
        self,
        graph: Graph,
        sealer: Sealer,
        *,
        model: Model = MODEL,
        retention_days: int = 7,
        max_page_size: int = 100,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.graph = graph
        self.sealer = sealer
        self.model = model
        self.retention = timedelta(days=retention_days)
        self.max_page_size = max_page_size
        self.clock = clock
        self.reader = FeedReader(graph, model)

    @property
    def types(self) -> tuple[str, ...]:
        """Every type the feed carries (`types` takes a subset)."""
        return self.reader.types

    def _connection(
        self,
        types: Sequence[str] | None,
        kinds: Sequence[str] | None,
        ids: Sequence[str] | None,
    ) -> str:
        def norm(xs: Sequence[str] | None) -> list[str] | None:
            return None if xs is None else sorted(set(xs))

        return json.dumps([CONNECTION, norm(types), norm(kinds), norm(ids)])

    def _seal(
        self, scope: ReleaseScope, connection: str, at: Position, since: datetime | None = None
    ) -> str:
        """A cursor at `at`, which expires retention after `since` (default: now): when the
        events after that place may start being compacted."""
        issued = int((since or self.clock()).timestamp())
        parts = [at[0], at[1], issued, secrets.randbits(62)]
        return self.sealer.seal(_viewer(scope), connection, parts)

    def _open(self, scope: ReleaseScope, connection: str, token: str) -> tuple[Position, datetime]:
        """The cursor's position, and the time it counts its age from."""
        parts = self.sealer.open(_viewer(scope), connection, token, field="after", size=_PARTS)
        seq, ordinal, issued, _salt = parts
        if (
            not isinstance(seq, int)
            or not isinstance(ordinal, int)
            or not isinstance(issued, int)
            or seq < 0
            or ordinal < 0
        ):
            raise Invalid("is not a cursor of this list", field="after")
        since = datetime.fromtimestamp(issued, UTC)
        if since < self.clock() - self.retention:
            raise CursorExpired(EXPIRED_MESSAGE, field="after")
        return (seq, ordinal), since

    def _check(
        self,
        first: int | None,
        types: Sequence[str] | None,
        kinds: Sequence[str] | None,
    ) -> int:
        size = DEFAULT_FIRST if first is None else first
        if size < 0:
            raise Invalid("must not be negative", field="first")
        if size > self.max_page_size:
            raise Invalid(f"must be at most {self.max_page_size}", field="first")
        for t in types or ():
            if t not in self.types:
                raise Invalid(f"no such type {t!r}; one of {', '.join(self.types)}", field="types")
        for k in kinds or ():
            if k not in KINDS:
                raise Invalid(f"no such kind {k!r}; one of {', '.join(KINDS)}", field="kinds")
        return size

    async def read(
        self,
        scope: ReleaseScope,
        *,
        after: str | None = None,
        first: int | None = None,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        budget: RequestBudget | None = None,
    ) -> ChangePage:
        """Events after `after` (None: from the oldest retained), at most `first`, that the
        caller may see. `ids` are `Type:key` strings (an edge matches either end). A request's
        `budget` is charged the page's size, as any read, and a page of its heavy cost or more
        passes the heavy-work gate."""
        size = self._check(first, types, kinds)
        connection = self._connection(types, kinds, ids)
        position, since = START, None
        if after is not None:
            position, since = self._open(scope, connection, after)
        async with _spend(budget, size):
            found = await self.read_from(
                scope, position, first=size, types=types, kinds=kinds, ids=ids
            )
        # The end cursor is as old as its place: a full page ends after its last event (as
        # old as that event), an empty one where it started; a page that read everything
        # committed ends where the events still to come begin (now).
        if not found.more:
            since = None
        elif found.items:
            since = found.items[-1].event.at
        end = self._seal(scope, connection, found.end, since)
        return ChangePage([item.event for item in found.items], end, found.more)

    def position(
        self,
        scope: ReleaseScope,
        after: str | None,
        *,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> Position:
        """The position a cursor stands at (`START` for None), checked as `read` checks it
        (`Invalid`, `CursorExpired`): the subscription (`dibx.schema.live`) starts from it.
        Internal, like `last_seq`."""
        self._check(None, types, kinds)
        if after is None:
            return START
        return self._open(scope, self._connection(types, kinds, ids), after)[0]

    async def read_from(
        self,
        scope: ReleaseScope,
        position: Position,
        *,
        first: int,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> FeedSlice:
        """`read` from a log position: the events with their positions, the position the read
        reached, and whether more are committed. The subscription poller reads this way, once
        for every subscriber of the same caller and arguments (`dibx.services.live`)."""
        connection = self._connection(types, kinds, ids)
        page = await self.reader.page(
            scope, at=position, limit=first + 1, types=types, kinds=kinds, ids=ids
        )
        more = len(page.events) > first
        rows = page.events[:first]
        # A full page ends just after its last event (which may sit inside a membership's
        # fan-out); otherwise everything up to `top` was considered (events the caller may
        # not see included), and the next read starts after it. (`first: 0` stays.)
        last = _after(rows[-1]) if rows else position
        end = last if more else max((page.top + 1, 0), position)
        items = [
            Positioned(int(row["seq"]), int(row["ordinal"]), self._event(scope, connection, row))
            for row in rows
        ]
        return FeedSlice(items, end, more)

    def _event(self, scope: ReleaseScope, connection: str, row: dict[str, Any]) -> ChangeEvent:
        edge = self.model.edges.get(row["type"])
        return ChangeEvent(
            type=row["type"],
            kind=row["kind"],
            key=row.get("key"),
            start=row.get("start"),
            end=row.get("end"),
            start_type=edge.start if edge is not None else None,
            end_type=edge.end if edge is not None else None,
            marking=row.get("marking"),
            fields=[
                FieldValue(
                    field=f["field"],
                    value=None if f.get("value") is None else _plain(f["value"][0]),
                    released=f.get("value") is not None,
                    marking=f.get("marking"),
                )
                for f in row.get("fields") or []
            ],
            at=row.get("at"),
            # As old as the event: what commits after it may be compacted retention later.
            cursor=self._seal(scope, connection, _after(row), row.get("at")),
        )

    async def warm(self) -> None:
        """Have Neo4j plan the feed's query now (at start), not on a caller's first read."""
        await self.reader.warm()

    async def last_seq(self) -> int:
        """The highest event number committed (one cheap read): a poller serving many
        subscribers reads pages only when it moved past their `position`. Never show it to a
        caller: it counts events the caller may not see."""
        return await outbox.last_seq(self.graph)

    async def mark_membership_dates(self, today: date | None = None) -> int:
        """Write an event for each membership that started or ended by `today` (UTC) with
        nothing committed (`dibx.graph.membership_clock`): its nation's callers then get
        what it shows or hides. Returns how many."""
        return await membership_clock.tick(
            self.graph, today or self.clock().date(), model=self.model
        )

    async def compact(self, now: datetime | None = None) -> int:
        """Remove events older than retention (plus `COMMIT_GRACE`) from the feed."""
        cutoff = (now or self.clock()) - self.retention - COMMIT_GRACE
        return await outbox.compact(self.graph, cutoff)


__all__ = [
    "COMMIT_GRACE",
    "KINDS",
    "ChangeEvent",
    "ChangeFeed",
    "ChangePage",
    "CursorExpired",
    "FeedSlice",
    "FieldValue",
    "Position",
    "Positioned",
]


@contextlib.asynccontextmanager
async def _spend(budget: RequestBudget | None, cost: int) -> AsyncIterator[None]:
    """Charge a read to the request's budget; heavy reads hold a heavy-work slot (as the
    directory's reads do, `dibx.services.directory`)."""
    if budget is None:
        yield
        return
    budget.charge(cost)
    if budget.is_heavy(cost):
        async with budget.heavy():
            yield
    else:
        yield
