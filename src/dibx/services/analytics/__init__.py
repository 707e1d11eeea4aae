"""Supply-chain and capability-gap analytics over the subgraph the caller may see.

Every analysis fetches through `dibx.graph.supply` (the directory's release predicates,
applied to records, edges and fields inside the Cypher), then computes in Python: so a
result, count or ranking depends only on what the caller may see, and each figure carries
the roll-up of the markings of what it used. Each call validates its input, then runs under
the time limit; depth, node and edge budgets raise LimitExceeded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from dibx.auth.markings import NATIONS
from dibx.auth.release import ReleaseScope
from dibx.errors import Invalid
from dibx.graph import supply
from dibx.graph.driver import Graph, Reads
from dibx.graph.read_cache import ReadCache
from dibx.services.analytics import (
    chain,
    concentration,
    disruption,
    dominators,
    exposure,
    gap,
    network,
    substitutes,
    trade,
)
from dibx.services.analytics.common import Tetragraphs, allied_nations, supplier_ref
from dibx.services.analytics.limits import AnalyticsLimits, too_many, within
from dibx.services.analytics.provenance import Provenance
from dibx.services.memberships import MembershipDirectory

__all__ = ["Analytics", "AnalyticsLimits"]

ROOT_TYPES = ("Supplier", "Capability")
MAX_FIRST = 100
_CODE = re.compile(r"^[A-Z]{3}$")


def check_nations(codes: Sequence[str], field: str) -> frozenset[str]:
    """ISO 3166-1 alpha-3 codes (upper case); the graph need not hold them (e.g. PRK)."""
    upper = [c.strip().upper() for c in codes]
    bad = sorted({c for c in upper if not _CODE.match(c) or c not in NATIONS})
    if bad:
        raise Invalid(f"unknown nation code(s): {', '.join(bad)}", field=field)
    return frozenset(upper)


def check_first(first: int, field: str = "first") -> int:
    if first < 0:
        raise Invalid("must not be negative", field=field)
    if first > MAX_FIRST:
        raise Invalid(f"must be at most {MAX_FIRST}", field=field)
    return first


class Analytics:
    """The analyses. Built once per process; `with_limits` gives one request's service, whose
    reads go through the process's `ReadCache` when it has one (`dibx.graph.read_cache`:
    identical reads for the same release parameters, until the data changes)."""

    def __init__(
        self,
        graph: Graph,
        memberships: MembershipDirectory,
        limits: AnalyticsLimits,
        *,
        cache: ReadCache | None = None,
    ) -> None:
        self.graph = graph
        self.memberships = memberships
        self.limits = limits
        self.cache = cache
        self.reads: Reads = graph

    def with_limits(self, limits: AnalyticsLimits) -> Analytics:
        """This service (built once) under one request's limits (bound to its budget)."""
        request = Analytics(self.graph, self.memberships, limits, cache=self.cache)
        if self.cache is not None:
            request.reads = self.cache.reads()
        return request

    # -- shared ----------------------------------------------------------------------------

    async def _tetragraphs(self, scope: ReleaseScope) -> Tetragraphs:
        # Agreement groups as the caller may know them: a hidden membership is not counted.
        return await self.memberships.released_to(scope)

    def _groups(self, tetragraphs: Tetragraphs) -> dict[str, frozenset[str]]:
        return {g: tetragraphs.get(g, frozenset()) for g in self.limits.allied_groups}

    def _allied(self, tetragraphs: Tetragraphs) -> frozenset[str]:
        members = allied_nations(tetragraphs, self.limits.allied_groups)
        return members - frozenset(self.limits.nations_of_concern)

    async def _network(
        self,
        scope: ReleaseScope,
        root_type: str,
        key: str,
        depth: int,
        *,
        max_nodes: int | None = None,
        control: bool = False,
    ) -> network.Network | None:
        return await network.fetch(
            self.reads,
            scope,
            self.limits,
            root_type=root_type,
            key=key,
            depth=depth,
            max_nodes=max_nodes or self.limits.max_nodes,
            control=control,
        )

    # -- analyses --------------------------------------------------------------------------

    async def capability_gap(
        self, scope: ReleaseScope, key: str, depth: int
    ) -> gap.GapReport | None:
        depth = self.limits.check_depth(depth)

        async def work() -> gap.GapReport | None:
            # Providers are counted per nation in Cypher: only capabilities count as nodes.
            tree = await supply.capability_tree(
                self.reads,
                scope,
                [key],
                depth=depth,
                mode="summary",
                max_nodes=self.limits.max_nodes,
                parallel=self.limits.parallel_reads,
            )
            if tree.overflow:
                raise too_many("capabilities", self.limits.max_nodes)
            if key not in tree.nodes:
                return None
            tetragraphs = await self._tetragraphs(scope)
            return gap.report(
                tree,
                key,
                depth=depth,
                caller_nation=scope.nation,
                groups=self._groups(tetragraphs),
                tetragraphs=tetragraphs,
            )

        return await within(self.limits, work(), connections=self.limits.parallel_reads)

    async def supply_chain(
        self, scope: ReleaseScope, root_type: str, key: str, depth: int, max_nodes: int | None
    ) -> chain.ChainReport | None:
        depth = self.limits.check_depth(depth)
        nodes = self.limits.check_nodes(max_nodes)

        async def work() -> chain.ChainReport | None:
            net = await self._network(scope, root_type, key, depth, max_nodes=nodes)
            if net is None:
                return None
            return chain.report(net, await self._tetragraphs(scope))

        return await within(self.limits, work())

    async def single_points_of_failure(
        self, scope: ReleaseScope, root_type: str, key: str, target: str | None, depth: int
    ) -> dominators.FailureReport | None:
        depth = self.limits.check_depth(depth)

        async def work() -> dominators.FailureReport | None:
            net = await self._network(scope, root_type, key, depth)
            if net is None:
                return None
            return dominators.report(net, target, await self._tetragraphs(scope))

        return await within(self.limits, work())

    async def concentration(
        self, scope: ReleaseScope, key: str
    ) -> concentration.ConcentrationReport | None:
        async def work() -> concentration.ConcentrationReport | None:
            node = await supply.capacity_by_nation(self.reads, scope, key)
            if node is None:
                return None
            tetragraphs = await self._tetragraphs(scope)
            return concentration.report(
                node, groups=self._groups(tetragraphs), tetragraphs=tetragraphs
            )

        return await within(self.limits, work())

    async def exposure(
        self,
        scope: ReleaseScope,
        root_type: str,
        key: str,
        depth: int,
        nations_of_concern: Sequence[str] | None,
        first: int,
    ) -> exposure.ExposureReport | None:
        depth = self.limits.check_depth(depth)
        first = check_first(first)
        concern = (
            check_nations(nations_of_concern, "nationsOfConcern")
            if nations_of_concern is not None
            else frozenset(self.limits.nations_of_concern)
        )

        async def work() -> exposure.ExposureReport | None:
            net = await self._network(scope, root_type, key, depth, control=True)
            if net is None:
                return None
            owner_keys = {
                c.owner for s in net.suppliers.values() for c in s.control if c.nation in concern
            }
            owners = await supply.suppliers_by_key(self.reads, scope, sorted(owner_keys))
            return exposure.report(
                net,
                concern,
                first=first,
                max_steps=self.limits.max_paths,
                tetragraphs=await self._tetragraphs(scope),
                owners=owners,
            )

        return await within(self.limits, work())

    async def disruption(
        self,
        scope: ReleaseScope,
        *,
        nations: Sequence[str],
        suppliers: Sequence[str],
        depth: int,
        first: int,
    ) -> disruption.DisruptionReport:
        depth = self.limits.check_depth(depth)
        first = check_first(first)
        removed_nations = check_nations(nations, "removeNations")
        if not removed_nations and not suppliers:
            raise Invalid("name at least one nation or supplier to remove", field="removeNations")
        limit = self.limits.max_nodes

        async def work() -> disruption.DisruptionReport:
            visible = await supply.suppliers_by_key(self.reads, scope, list(suppliers))
            keys, overflow = await supply.offered_by(
                self.reads,
                scope,
                suppliers=sorted(visible),
                nations=sorted(removed_nations),
                limit=limit,
            )
            if overflow:
                raise too_many("affected capabilities", limit, "remove fewer nations or suppliers")
            tetragraphs = await self._tetragraphs(scope)
            affected = await supply.impacts(
                self.reads,
                scope,
                keys,
                nations=sorted(removed_nations),
                suppliers=sorted(visible),
                allied=sorted(self._allied(tetragraphs) - removed_nations),
                first=first,
                parallel=self.limits.parallel_reads,
            )
            lost = [c.key for c in affected if c.groups and all(g.removed for g in c.groups)]
            required_by = supply.CapabilityTree()
            if lost and depth > 0:
                required_by = await supply.capability_tree(
                    self.reads,
                    scope,
                    lost,
                    depth=depth,
                    direction="required_by",
                    mode="links",
                    max_nodes=limit,
                )
                if required_by.overflow:
                    raise too_many("capabilities", limit)
            return disruption.report(
                affected,
                required_by,
                nations=removed_nations,
                suppliers={k: supplier_ref(n, tetragraphs) for k, n in visible.items()},
                tetragraphs=tetragraphs,
            )

        return await within(self.limits, work(), connections=self.limits.parallel_reads)

    async def substitutes(
        self, scope: ReleaseScope, root_type: str, key: str, first: int
    ) -> substitutes.SubstitutesReport | None:
        first = check_first(first)
        utilisation = self.limits.assumed_utilisation

        async def work() -> substitutes.SubstitutesReport | None:
            exclude: tuple[str, ...] = ()
            root_marking: list[str] = []
            if root_type == "Capability":
                keys = [key]
            else:
                found = await supply.suppliers_by_key(self.reads, scope, [key])
                if key not in found:
                    return None
                exclude = (key,)
                root_marking.append(found[key].marking)
                keys, overflow = await supply.offered_by(
                    self.reads, scope, suppliers=[key], nations=[], limit=self.limits.max_nodes
                )
                if overflow:
                    raise too_many("capabilities", self.limits.max_nodes)
            tetragraphs = await self._tetragraphs(scope)
            allied = self._allied(tetragraphs)
            caps = await supply.candidates(
                self.reads, scope, keys, exclude=exclude, allied=sorted(allied), first=first
            )
            if root_type == "Capability" and not caps:
                return None
            groups = tuple(
                substitutes.candidates(
                    c,
                    allied=allied,
                    exclude=exclude,
                    utilisation=utilisation,
                    first=first,
                    tetragraphs=tetragraphs,
                )
                for c in caps
            )
            total = Provenance(root_marking).add(*(g.marking for g in groups))
            return substitutes.SubstitutesReport(
                root_kind=root_type.upper(),
                root_key=key,
                assumption=substitutes.assumption_text(utilisation),
                groups=groups,
                marking=total.marking(tetragraphs),
            )

        return await within(self.limits, work())

    async def trade_pathway(
        self,
        scope: ReleaseScope,
        key: str,
        destination: str,
        discloses: Callable[[str], bool] = lambda _: True,
    ) -> trade.TradePathway | None:
        """`discloses(marking)`: whether the policy lets a withheld field's marking be said."""
        (dest,) = check_nations([destination], "destination")

        async def work() -> trade.TradePathway | None:
            attrs = await supply.control_attributes(self.reads, scope, key)
            if attrs is None:
                return None
            return trade.assess(attrs, dest, await self._tetragraphs(scope), discloses)

        return await within(self.limits, work())
