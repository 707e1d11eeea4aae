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
* `last_seq() -> int` and `position(scope, after, *, types, kinds, ids) -> int`: for a
  poller serving many subscribers, read a page only when `last_seq()` is past a
  subscriber's `position`. Internal numbers: never send them to a caller.

Cursors are sealed (`dibx.graph.cursors.Sealer`), bound to the caller's nation and groups and
to the arguments (types, kinds, ids), and hold a position in the log, the time they were
issued and a random salt: two cursors never compare equal, so a cursor says nothing about
events the caller may not see, not even that some passed (`end_cursor` moves past them).
A cursor expires `retention_days` after it was issued; events are kept for that long plus
`COMMIT_GRACE`, so a cursor that has not expired never misses one.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dibx.auth.release import ReleaseScope
from dibx.errors import DibxError, Invalid
from dibx.graph import outbox
from dibx.graph.changes import CREATED, RETIRED_KIND, UPDATED, FeedReader
from dibx.graph.cursors import Sealer, viewer
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, Model

KINDS = (CREATED, UPDATED, RETIRED_KIND)
DEFAULT_FIRST = 50
# How long before its commit an event's `committedAt` may be stamped (the transaction's
# tail: its audit hook and COMMIT): compaction keeps events this much longer than retention.
COMMIT_GRACE = timedelta(hours=1)
EXPIRED_MESSAGE = "the cursor is older than the change retention: resync from a fresh read"
CONNECTION = "changes"
_PARTS = 3  # seq, issued at (epoch seconds), salt


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
class ChangePage:
    events: list[ChangeEvent]
    end_cursor: str
    has_next_page: bool


def _now() -> datetime:
    return datetime.now(UTC)


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

    def _seal(self, scope: ReleaseScope, connection: str, seq: int) -> str:
        issued = int(self.clock().timestamp())
        return self.sealer.seal(viewer(scope), connection, [seq, issued, secrets.randbits(62)])

    def _open(self, scope: ReleaseScope, connection: str, token: str) -> int:
        parts = self.sealer.open(viewer(scope), connection, token, field="after", size=_PARTS)
        seq, issued, _salt = parts
        if not isinstance(seq, int) or not isinstance(issued, int) or seq < 0:
            raise Invalid("is not a cursor of this list", field="after")
        if datetime.fromtimestamp(issued, UTC) < self.clock() - self.retention:
            raise CursorExpired(EXPIRED_MESSAGE, field="after")
        return seq

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
    ) -> ChangePage:
        """Events after `after` (None: from the oldest retained), at most `first`, that the
        caller may see. `ids` are `Type:key` strings (an edge matches either end)."""
        size = self._check(first, types, kinds)
        connection = self._connection(types, kinds, ids)
        position = 0 if after is None else self._open(scope, connection, after)
        page = await self.reader.page(
            scope, after=position, limit=size + 1, types=types, kinds=kinds, ids=ids
        )
        more = len(page.events) > size
        rows = page.events[:size]
        events = [self._event(scope, connection, row) for row in rows]
        # A full page ends at its last event; otherwise everything up to `top` was considered
        # (events the caller may not see included), and the next read starts after it.
        # (`first: 0` stays where it was.)
        last = int(rows[-1]["seq"]) if rows else position
        end = last if more else max(page.top, position)
        return ChangePage(events, self._seal(scope, connection, end), more)

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
            cursor=self._seal(scope, connection, int(row["seq"])),
        )

    async def warm(self) -> None:
        """Have Neo4j plan the feed's query now (at start), not on a caller's first read."""
        await self.reader.warm()

    async def last_seq(self) -> int:
        """The highest event number committed (one cheap read): a poller serving many
        subscribers reads pages only when it moved past their `position`. Never show it to a
        caller: it counts events the caller may not see."""
        return await outbox.last_seq(self.graph)

    def position(
        self,
        scope: ReleaseScope,
        after: str | None,
        *,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> int:
        """The event number a cursor stands at (0 for None), checked as `read` checks it
        (`Invalid`, `CursorExpired`). Internal, like `last_seq`."""
        if after is None:
            return 0
        return self._open(scope, self._connection(types, kinds, ids), after)

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
    "FieldValue",
]
