"""The `changes` subscription: the `changes` query's events, pushed as they commit.

Same arguments (less `first`), same events, same rules: each event comes from the feed's own
release-filtered read (`dibx.services.changes.ChangeFeed`, through the process's poller in
`dibx.services.live`), for the caller's release scope at delivery time, and is turned into a
`Change` by the query's own code. Each event carries its cursor; a client that subscribes
again with the cursor of the last event it received misses nothing and gets nothing twice,
and `changes(after: thatCursor)` lists the same events. Without `after` the subscription
starts, like the query, at the oldest change kept. Served over graphql-transport-ws only
(dibx.app.live, docs/subscriptions.md).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Hashable
from dataclasses import dataclass
from typing import Annotated

import strawberry
from strawberry.types import Info

from dibx.auth.principal import SUPPLIER_READ
from dibx.auth.release import ReleaseScope
from dibx.errors import Invalid
from dibx.schema.changes import Change, ChangeFilter, ChangeType, _change, _feed, _ids
from dibx.schema.context import Context
from dibx.schema.scopes import root_subscription
from dibx.services.changes import ChangeFeed, Position
from dibx.services.disclosure import Disclosure
from dibx.services.live import Interest, Slice


@strawberry.type(description="Pushed over graphql-transport-ws on /graphql.")
class Subscription:
    @root_subscription(
        scope=SUPPLIER_READ,
        description="The changes you may see, as they commit, after a cursor: the events of "
        "the `changes` query, each with its cursor. Resubscribe with the last cursor you "
        "received to resume without loss or repeats.",
    )
    async def changes(
        self,
        info: Info[Context, None],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="Start after this cursor (omit: from the oldest change kept)."
            ),
        ] = None,
        types: Annotated[
            list[ChangeType] | None,
            strawberry.argument(description="Only changes of these types."),
        ] = None,
        filter: Annotated[
            ChangeFilter | None, strawberry.argument(description="Only changes that match.")
        ] = None,
    ) -> AsyncGenerator[Change, None]:
        ctx = info.context
        session = ctx.live
        if session is None:
            raise Invalid("subscriptions are served over graphql-transport-ws on /graphql")
        feed = _feed(ctx)
        wanted = Wanted.of(types, filter)
        position = feed.position(ctx.scope, after, **wanted.arguments())
        principal_scopes = ctx.principal.scopes

        async def interest() -> Interest:
            scope = await session.scope_now()
            key: Hashable = (
                scope.nation,
                scope.groups,
                scope.as_of,
                scope.policy_version,
                principal_scopes,
                wanted,
            )

            async def read(at: Position, first: int) -> Slice:
                return await _read(feed, scope, at, first, wanted)

            return Interest(key, read)

        subscriber = session.hub.subscribe(interest, position, session.on_drop)
        try:
            async for item in subscriber.events():
                # Each event is a response of its own: its banner covers only what it releases.
                ctx.disclosure = Disclosure()
                session.delivered += 1
                change = _change(ctx, item.event)  # type: ignore[attr-defined]
                session.released += sum(ctx.disclosure.released.values())
                session.withheld += sum(1 for f in change.fields if not f.released)
                yield change
        finally:
            session.hub.unsubscribe(subscriber)


@dataclass(frozen=True, slots=True)
class Wanted:
    """The subscription's arguments in the feed's terms; hashable: part of the key that
    groups subscribers who read the same events."""

    types: tuple[str, ...] | None
    kinds: tuple[str, ...] | None
    ids: tuple[str, ...] | None

    @classmethod
    def of(cls, types: list[ChangeType] | None, filter: ChangeFilter | None) -> Wanted:
        ids = kinds = None
        if filter is not None:
            found = _ids(filter.ids)
            ids = None if found is None else tuple(sorted(set(found)))
            if filter.kinds is not None:
                kinds = tuple(sorted({k.name for k in filter.kinds}))
        named = None if types is None else tuple(sorted({str(t.value) for t in types}))
        return cls(named, kinds, ids)

    def arguments(self) -> dict[str, list[str] | None]:
        def listed(xs: tuple[str, ...] | None) -> list[str] | None:
            return None if xs is None else list(xs)

        return {"types": listed(self.types), "kinds": listed(self.kinds), "ids": listed(self.ids)}


async def _read(
    feed: ChangeFeed, scope: ReleaseScope, at: Position, first: int, wanted: Wanted
) -> Slice:
    found = await feed.read_from(scope, at, first=first, **wanted.arguments())
    return Slice(found.items, found.end, found.more)
