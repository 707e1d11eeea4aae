"""Directory reads: suppliers, capabilities, nations and agreements, as the caller may see them.

Validates what the caller asked for (page sizes, reference codes) before any query, charges
what the read could fetch to the request's budget, then hands the graph layer one compiled
read per root field (as heavy work when it could fetch many records).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from dibx.auth.release import ReleaseScope
from dibx.errors import Invalid, LimitExceeded
from dibx.graph import reads
from dibx.graph.cursors import Sealer, Window, open_window, viewer
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, Model
from dibx.graph.reads import CapabilityFilter, Page, Sort, SupplierFilter
from dibx.graph.rows import NodeRow
from dibx.graph.selection import Selected
from dibx.services.budget import RequestBudget
from dibx.services.memberships import MembershipDirectory

# History starts at the epoch (a baseline state's validFrom): earlier reads as the epoch.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_of_time(at: datetime | None) -> datetime | None:
    """The time of an `asOf` read: a time without a zone is UTC; one before the epoch reads
    as the epoch (seeded data as first stewarded, nothing created through the API). A
    future time reads as now: the current state of each record is open-ended."""
    if at is None:
        return None
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    try:
        return max(aware.astimezone(UTC), EPOCH)
    except OverflowError:
        # Before year 1 or after year 9999 once in UTC: the epoch, or a future time.
        return EPOCH if aware.year == 1 else datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A page as asked: `first` records after `after`, or `last` before `before`.

    `connection` names the list and its order (root field, filter, sort): a cursor opens
    only on the connection, and for the nation, that it was handed out for.
    """

    connection: str
    want_total: bool
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


class Directory:
    def __init__(
        self,
        graph: Graph,
        memberships: MembershipDirectory,
        *,
        max_page_size: int,
        max_cost: int = 20_000,
        model: Model = MODEL,
        cursors: Sealer | None = None,
    ) -> None:
        self.graph = graph
        # Seals the cursors handed out; a deployment derives it from the server secret.
        self.cursors = cursors or Sealer.ephemeral()
        # The model the served schema was built from; reads compile against it.
        self.model = model
        self.memberships = memberships
        self.max_page_size = max_page_size
        self.max_cost = max_cost
        # A relation's default page size by field name (the largest where names repeat).
        self._nested_defaults: dict[str, int] = {}
        for node in model.nodes.values():
            for key, rel in node.relations.items():
                if rel.many:
                    self._nested_defaults[key] = max(rel.first, self._nested_defaults.get(key, 0))
        # Set on the per-request copy (`for_request`): root fields share one budget.
        self.budget: RequestBudget | None = None

    def for_request(self, budget: RequestBudget) -> Directory:
        bound = copy.copy(self)
        bound.budget = budget
        return bound

    @contextlib.asynccontextmanager
    async def _spend(self, cost: int) -> AsyncIterator[None]:
        if self.budget is None:
            yield
            return
        self.budget.charge(cost)
        if self.budget.is_heavy(cost):
            async with self.budget.heavy():
                yield
        else:
            yield

    def check_page(self, first: int, field: str = "first") -> None:
        if first < 0:
            raise Invalid("must not be negative", field=field)
        if first > self.max_page_size:
            raise Invalid(f"must be at most {self.max_page_size}", field=field)

    def window(
        self, scope: ReleaseScope, page: PageRequest, parts: int, default: int = 20
    ) -> Window:
        """The page asked for, with its cursor opened (`Invalid` if it is not one of this
        connection's, or if the arguments mix directions)."""
        return open_window(
            self.cursors,
            viewer(scope),
            page.connection,
            first=page.first,
            after=page.after,
            last=page.last,
            before=page.before,
            default=default,
            max_size=self.max_page_size,
            parts=parts,
        )

    def check_nested(self, selections: list[Selected], rows: int = 1) -> int:
        """Every nested `first` is bounded like a root page size, and the rows the whole
        selection could fetch (page sizes multiplied down each path) by `max_cost`; returns
        those rows."""
        cost = self._check(selections, rows)
        if cost > self.max_cost:
            raise LimitExceeded(
                f"this selection could fetch up to {cost} records, over the limit of "
                f"{self.max_cost}: ask for smaller pages (first) or fewer nested levels",
                limit="cost",
                maximum=self.max_cost,
                measured=cost,
            )
        return cost

    def _check(self, selections: list[Selected], rows: int) -> int:
        cost = 0
        for sel in selections:
            name, first = "first", sel.arg("first")
            if first is None and sel.arg("last") is not None:
                name, first = "last", sel.arg("last")
            if first is None and "first" in dict(sel.args):
                # A relation's page without a size takes the relation's default.
                first = self._nested_defaults.get(sel.name)
            below = rows
            if isinstance(first, int):
                self.check_page(first, field=f"{sel.name}.{name}")
                below = rows * max(first, 1)
                cost += below
            cost += self._check(list(sel.children), below)
        return cost

    async def _check_nations(self, codes: tuple[str, ...] | None, field: str) -> None:
        if not codes:
            return
        known = await self.memberships.nations()
        unknown = sorted(set(codes) - known)
        if unknown:
            raise Invalid(f"unknown nation code(s): {', '.join(unknown)}", field=field)

    async def _check_agreement(self, code: str | None, field: str) -> None:
        if code is not None and code not in await self.memberships.agreements():
            known = ", ".join(sorted(await self.memberships.agreements()))
            raise Invalid(f"unknown agreement {code!r}; known: {known}", field=field)

    async def page(
        self,
        scope: ReleaseScope,
        type_name: str,
        selections: list[Selected],
        page: PageRequest,
        *,
        sorts: tuple[Sort, ...] = (),
        supplier_filter: SupplierFilter | None = None,
        capability_filter: CapabilityFilter | None = None,
        nation_codes: tuple[str, ...] | None = None,
        default: int = 20,
        at: datetime | None = None,
    ) -> Page:
        node_type = self.model.nodes[type_name]
        window = self.window(scope, page, reads.position_size(node_type, sorts), default)
        cost = window.size + self.check_nested(selections, max(window.size, 1))
        if supplier_filter is not None:
            await self._check_nations(supplier_filter.nations, "filter.nations")
            await self._check_agreement(supplier_filter.agreement, "filter.agreement")
        if capability_filter is not None:
            await self._check_nations(capability_filter.provided_in, "filter.providedIn")
        await self._check_nations(nation_codes, "codes")
        async with self._spend(cost):
            return await reads.list_nodes(
                self.graph,
                scope,
                type_name,
                selections,
                window=window,
                nested_limit=self.max_page_size,
                want_total=page.want_total,
                sorts=sorts,
                supplier_filter=supplier_filter,
                capability_filter=capability_filter,
                nation_codes=nation_codes,
                model=self.model,
                cursors=self.cursors,
                at=as_of_time(at),
            )

    async def get(
        self,
        scope: ReleaseScope,
        type_name: str,
        key: str,
        selections: list[Selected],
        at: datetime | None = None,
    ) -> NodeRow | None:
        cost = 1 + self.check_nested(selections)
        async with self._spend(cost):
            return await reads.get_node(
                self.graph,
                scope,
                type_name,
                key,
                selections,
                nested_limit=self.max_page_size,
                model=self.model,
                cursors=self.cursors,
                at=as_of_time(at),
            )
