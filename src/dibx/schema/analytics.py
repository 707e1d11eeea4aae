"""Supply-chain and capability-gap analytics: root fields, each needing `supply_chain:read`.

Every analysis runs on the subgraph the caller may see (records, edges and fields released
to it), so its figures, counts and rankings do not change when hidden data changes. Each
result has a `marking`: the roll-up of the markings of everything it used; it also joins the
response banner. A root that is absent or hidden gives null, as a lookup by id does. A result
field left null by a withheld value is listed under `extensions.releasability.withheld` with
its path and marking, as a directory field is (the policy may conceal the marking).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from enum import Enum
from typing import Annotated, Any, Protocol, TypeVar

import strawberry
from strawberry.extensions import FieldExtension
from strawberry.types import Info

from dibx.errors import Invalid
from dibx.schema.context import Context
from dibx.schema.fields import withhold
from dibx.schema.ids import decode_id, encode_id
from dibx.services.analytics import (
    Analytics,
    chain,
    concentration,
    disruption,
    dominators,
    gap,
    substitutes,
    trade,
)
from dibx.services.analytics import exposure as exposure_service
from dibx.services.analytics.common import CapabilityRef, SupplierRef

MARKING = "Combined marking of every record, edge and field this figure was derived from."
NAME = "Null when withheld from you."

# -- shared -------------------------------------------------------------------------------


class _SaysWithheld(FieldExtension):
    """A null result field whose input was withheld joins the response's withheld list, under
    the caller's path and aliases and the policy's disclosure rule, as a directory field does.
    The object carries `withheld_`: result field (Python name) -> marking of what was withheld.
    """

    def resolve(
        self, next_: Callable[..., Any], source: Any, info: Info[Context, Any], **kwargs: Any
    ) -> Any:
        value = next_(source, info, **kwargs)
        if value is None:
            marking = source.withheld_.get(info.python_name)
            if marking is not None:
                withhold(info, marking)
        return value


def said(description: str | None = None) -> Any:
    """A nullable result field that says when it is null because withheld."""
    return strawberry.field(description=description, extensions=[_SaysWithheld()])


def _withheld() -> Any:
    return field(default_factory=dict)


@strawberry.type(description="A supplier as an analysis used it.")
class SupplierSummary:
    withheld_: strawberry.Private[dict[str, str]] = _withheld()
    id: strawberry.ID
    key: str
    name: str | None = said(NAME)
    nation: str | None = strawberry.field(
        description="Where it is based; null when that is withheld from you."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A capability as an analysis used it.")
class CapabilitySummary:
    withheld_: strawberry.Private[dict[str, str]] = _withheld()
    id: strawberry.ID
    key: str
    name: str | None = said(NAME)
    marking: str = strawberry.field(description=MARKING)


def _supplier(ref: SupplierRef) -> SupplierSummary:
    return SupplierSummary(
        id=strawberry.ID(encode_id("Supplier", ref.key)),
        key=ref.key,
        name=ref.name,
        nation=ref.nation,
        marking=ref.marking,
        withheld_=dict(ref.withheld),
    )


def _capability(ref: CapabilityRef) -> CapabilitySummary:
    return CapabilitySummary(
        id=strawberry.ID(encode_id("Capability", ref.key)),
        key=ref.key,
        name=ref.name,
        marking=ref.marking,
        withheld_=dict(ref.withheld),
    )


# -- capabilityGap --------------------------------------------------------------------------


@strawberry.type(description="Providers of a capability based in one nation.")
class NationCoverage:
    nation: str | None = strawberry.field(description="Null: providers whose nation is withheld.")
    providers: int
    capacity: float | None = strawberry.field(
        description="Sum of the capacities released to you; null if none is."
    )
    capacity_unknown: int = strawberry.field(description="Providers whose capacity is withheld.")


@strawberry.type(description="Providers of a capability in the member nations of an agreement.")
class GroupCoverage:
    group: str
    providers: int
    capacity: float | None
    has_provider: bool


@strawberry.type(description="Who provides one capability, and where the gaps are.")
class CapabilityCoverage:
    capability: CapabilitySummary
    tier: int = strawberry.field(description="REQUIRES links from the capability asked about.")
    required_by: list[str] = strawberry.field(description="Keys of capabilities requiring it.")
    requires: list[str]
    providers: int = strawberry.field(description="Providers visible to you.")
    total_capacity: float | None
    capacity_unknown: int
    by_nation: list[NationCoverage]
    by_agreement: list[GroupCoverage]
    groups_without_provider: list[str] = strawberry.field(
        description="Agreements (NTIB, AUKUS, RDP_MOU, NATO, SOSA) with no member provider."
    )
    domestic_provider: bool = strawberry.field(description="A provider is based in your nation.")
    sole_source: SupplierSummary | None = strawberry.field(
        description="The only provider, when exactly one is visible to you."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A capability and everything it requires, to a depth.")
class CapabilityGapReport:
    capability: CapabilityCoverage
    inputs: list[CapabilityCoverage]
    sole_sourced: list[CapabilitySummary]
    without_provider: list[CapabilitySummary]
    depth: int
    marking: str = strawberry.field(description=MARKING)


def _coverage(g: gap.CapabilityGap) -> CapabilityCoverage:
    return CapabilityCoverage(
        capability=_capability(g.capability),
        tier=g.tier,
        required_by=list(g.required_by),
        requires=list(g.requires),
        providers=g.providers,
        total_capacity=g.total_capacity,
        capacity_unknown=g.capacity_unknown,
        by_nation=[
            NationCoverage(
                nation=n.nation,
                providers=n.providers,
                capacity=n.capacity,
                capacity_unknown=n.capacity_unknown,
            )
            for n in g.by_nation
        ],
        by_agreement=[
            GroupCoverage(
                group=c.group,
                providers=c.providers,
                capacity=c.capacity,
                has_provider=c.has_provider,
            )
            for c in g.by_group
        ],
        groups_without_provider=list(g.groups_without_provider),
        domestic_provider=g.domestic_provider,
        sole_source=_supplier(g.sole_source) if g.sole_source else None,
        marking=g.marking,
    )


# -- supplyChain ----------------------------------------------------------------------------


@strawberry.enum
class SupplyNodeKind(Enum):
    SUPPLIER = "SUPPLIER"
    CAPABILITY = "CAPABILITY"


@strawberry.enum
class SupplyEdgeKind(Enum):
    SOURCES_FROM = "SOURCES_FROM"
    PROVIDES = "PROVIDES"


@strawberry.type(description="A node of the drawn supply tree.")
class SupplyNode:
    withheld_: strawberry.Private[dict[str, str]] = _withheld()
    id: strawberry.ID
    key: str
    kind: SupplyNodeKind
    name: str | None = said(NAME)
    nation: str | None
    tier: int = strawberry.field(description="Links from the root (the root is tier 0).")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A supply link: `from` depends on `to` (edges point upstream).")
class SupplyEdge:
    withheld_: strawberry.Private[dict[str, str]] = _withheld()
    from_: strawberry.ID = strawberry.field(name="from")
    to: strawberry.ID
    kind: SupplyEdgeKind
    tier: int = strawberry.field(description="The buyer's tier + 1.")
    item: str | None = said()
    share: float | None = said(
        "Share of the buyer's need (SOURCES_FROM), or the provider's share of the "
        "capability's released capacity (PROVIDES); null when withheld."
    )
    sole: bool | None = said()
    capacity: float | None = said("PROVIDES only.")
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="The visible upstream supply tree, as nodes and edges.")
class SupplyChainGraph:
    root: SupplyNode
    depth: int
    node_count: int
    edge_count: int
    nodes: list[SupplyNode]
    edges: list[SupplyEdge]
    marking: str = strawberry.field(description=MARKING)


def _global_id(node: chain.ChainNode) -> strawberry.ID:
    kind = "Capability" if node.kind == "CAPABILITY" else "Supplier"
    return strawberry.ID(encode_id(kind, node.key))


def _chain_node(n: chain.ChainNode) -> SupplyNode:
    return SupplyNode(
        id=_global_id(n),
        key=n.key,
        kind=SupplyNodeKind(n.kind),
        name=n.name,
        nation=n.nation,
        tier=n.tier,
        marking=n.marking,
        withheld_=dict(n.withheld),
    )


def _chain(r: chain.ChainReport) -> SupplyChainGraph:
    return SupplyChainGraph(
        root=_chain_node(r.root),
        depth=r.depth,
        node_count=len(r.nodes),
        edge_count=len(r.edges),
        nodes=[_chain_node(n) for n in r.nodes],
        edges=[
            SupplyEdge(
                from_=_global_id(e.source),
                to=_global_id(e.target),
                kind=SupplyEdgeKind(e.kind),
                tier=e.tier,
                item=e.item,
                share=e.share,
                sole=e.sole,
                capacity=e.capacity,
                marking=e.marking,
                withheld_=dict(e.withheld),
            )
            for e in r.edges
        ],
        marking=r.marking,
    )


# -- singlePointsOfFailure -------------------------------------------------------------------


@strawberry.type(description="A supplier whose loss cuts supply paths.")
class PointOfFailure:
    supplier: SupplierSummary
    tier: int
    dominates: int = strawberry.field(
        description="Suppliers all of whose supply paths from the root pass through this one."
    )


@strawberry.type(description="Dominators of the visible supply graph under a root.")
class SinglePointsOfFailureReport:
    root: strawberry.ID
    target: strawberry.ID | None
    target_reachable: bool = strawberry.field(
        description="False when the target is not upstream of the root as far as you can see."
    )
    suppliers: list[PointOfFailure] = strawberry.field(
        description=(
            "Suppliers on every supply path from the root to the target (or to every input: "
            "a supplier with no visible supplier within the depth), nearest first."
        )
    )
    nations: list[str] = strawberry.field(
        description="Nations whose suppliers, removed together, cut every such path."
    )
    critical: list[PointOfFailure] = strawberry.field(
        description="Suppliers that dominate others, most dominated first (top 25)."
    )
    inputs: int
    node_count: int
    depth: int
    method: str
    marking: str = strawberry.field(description=MARKING)


METHOD = (
    "Immediate dominators (networkx) of the visible supply graph from a virtual root, to the "
    "target or to a virtual sink joined to every input; nations by removal and reachability."
)


def _point(p: dominators.PointOfFailure) -> PointOfFailure:
    return PointOfFailure(supplier=_supplier(p.supplier), tier=p.tier, dominates=p.dominates)


# -- concentration ----------------------------------------------------------------------------


@strawberry.enum
class ConcentrationLevel(Enum):
    UNCONCENTRATED = "UNCONCENTRATED"
    MODERATELY_CONCENTRATED = "MODERATELY_CONCENTRATED"
    HIGHLY_CONCENTRATED = "HIGHLY_CONCENTRATED"


@strawberry.type
class NationCapacityShare:
    nation: str | None = strawberry.field(description="Null: providers whose nation is withheld.")
    providers: int
    capacity: float | None = strawberry.field(description="Null when none is released to you.")
    capacity_unknown: int
    share: float | None = strawberry.field(description="Of the capacity whose nation you see.")


@strawberry.type
class GroupCapacityShare:
    group: str
    capacity: float
    share: float | None = strawberry.field(
        description="Of all released capacity; a lower bound when some nations are withheld."
    )


@strawberry.type(description="Herfindahl-Hirschman index (0-10,000) of released capacity.")
class ConcentrationReport:
    capability: CapabilitySummary
    providers: int
    providers_counted: int = strawberry.field(description="Providers whose capacity you see.")
    capacity_unknown: int
    total_capacity: float
    capacity_unknown_nation: float
    hhi_by_nation: float | None
    hhi_by_supplier: float | None
    level_by_nation: ConcentrationLevel | None
    level_by_supplier: ConcentrationLevel | None
    by_nation: list[NationCapacityShare]
    allied: list[GroupCapacityShare] = strawberry.field(
        description="Share held in member nations of NTIB, AUKUS, RDP_MOU, NATO, SOSA today."
    )
    marking: str = strawberry.field(description=MARKING)


def _level(value: str | None) -> ConcentrationLevel | None:
    return ConcentrationLevel(value) if value else None


def _concentration(r: concentration.ConcentrationReport) -> ConcentrationReport:
    return ConcentrationReport(
        capability=_capability(r.capability),
        providers=r.providers,
        providers_counted=r.providers_counted,
        capacity_unknown=r.capacity_unknown,
        total_capacity=r.total_capacity,
        capacity_unknown_nation=r.capacity_unknown_nation,
        hhi_by_nation=r.hhi_by_nation,
        hhi_by_supplier=r.hhi_by_supplier,
        level_by_nation=_level(r.level_by_nation),
        level_by_supplier=_level(r.level_by_supplier),
        by_nation=[
            NationCapacityShare(
                nation=n.nation,
                providers=n.providers,
                capacity=n.capacity,
                capacity_unknown=n.capacity_unknown,
                share=n.share,
            )
            for n in r.by_nation
        ],
        allied=[
            GroupCapacityShare(group=a.group, capacity=a.capacity, share=a.share) for a in r.allied
        ],
        marking=r.marking,
    )


# -- exposure ---------------------------------------------------------------------------------


@strawberry.enum
class ExposureVia(Enum):
    BASED_IN = "BASED_IN"
    OWNERSHIP = "OWNERSHIP"


@strawberry.type(description="A supply path from the root to a supplier of concern.")
class ExposurePath:
    suppliers: list[SupplierSummary] = strawberry.field(
        description="From the root's first supplier down to the supplier of concern."
    )
    tier: int
    nation: str
    via: ExposureVia
    share: float | None = strawberry.field(
        description="Product of the shares along the path; null if any is withheld."
    )
    owner: SupplierSummary | None = strawberry.field(
        description="For OWNERSHIP: the controlling owner (majority chain)."
    )
    owner_chain: list[str]
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class NationExposure:
    nation: str
    paths: int
    nearest_tier: int
    max_share: float | None


@strawberry.type(description="Where a supply chain reaches nations of concern.")
class ExposureReport:
    root: strawberry.ID
    nations_of_concern: list[str]
    depth: int
    reached: bool
    nearest_tier: int | None
    max_share: float | None
    path_count: int
    nations: list[NationExposure]
    paths: list[ExposurePath] = strawberry.field(
        description="The first paths by share (highest first), then tier."
    )
    marking: str = strawberry.field(description=MARKING)


def _exposure(r: exposure_service.ExposureReport, root: strawberry.ID) -> ExposureReport:
    return ExposureReport(
        root=root,
        nations_of_concern=list(r.nations_of_concern),
        depth=r.depth,
        reached=r.reached,
        nearest_tier=r.nearest_tier,
        max_share=r.max_share,
        path_count=r.path_count,
        nations=[
            NationExposure(
                nation=n.nation, paths=n.paths, nearest_tier=n.nearest_tier, max_share=n.max_share
            )
            for n in r.nations
        ],
        paths=[
            ExposurePath(
                suppliers=[_supplier(s) for s in p.suppliers],
                tier=p.tier,
                nation=p.nation,
                via=ExposureVia(p.via),
                share=p.share,
                owner=_supplier(p.owner) if p.owner else None,
                owner_chain=list(p.owner_chain),
                marking=p.marking,
            )
            for p in r.paths
        ],
        marking=r.marking,
    )


# -- disruption -------------------------------------------------------------------------------


@strawberry.type
class AlternativeProvider:
    withheld_: strawberry.Private[dict[str, str]] = _withheld()
    supplier: SupplierSummary
    capacity: float | None = said()


@strawberry.type(description="What one capability loses.")
class CapabilityImpact:
    capability: CapabilitySummary
    providers_before: int
    providers_after: int
    capacity_before: float
    capacity_after: float
    capacity_lost: float
    capacity_lost_share: float | None
    capacity_unknown_removed: int = strawberry.field(
        description="Removed providers whose capacity is withheld from you."
    )
    lost_every_provider: bool
    allied_alternatives: list[AlternativeProvider] = strawberry.field(
        description="Remaining providers in allied nations, by capacity."
    )
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="A capability that requires, at some depth, a lost one.")
class ImpairedCapability:
    capability: CapabilitySummary
    lost_inputs: list[str]
    tier: int
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="Knock-out of nations and suppliers, then what remains reachable.")
class DisruptionReport:
    removed_nations: list[str]
    removed_suppliers: list[SupplierSummary] = strawberry.field(
        description="The named suppliers you may see (others are ignored, as if absent)."
    )
    capabilities: list[CapabilityImpact]
    lost: list[CapabilitySummary]
    impaired: list[ImpairedCapability]
    marking: str = strawberry.field(description=MARKING)


def _disruption(r: disruption.DisruptionReport) -> DisruptionReport:
    return DisruptionReport(
        removed_nations=list(r.removed_nations),
        removed_suppliers=[_supplier(s) for s in r.removed_suppliers],
        capabilities=[
            CapabilityImpact(
                capability=_capability(i.capability),
                providers_before=i.providers_before,
                providers_after=i.providers_after,
                capacity_before=i.capacity_before,
                capacity_after=i.capacity_after,
                capacity_lost=i.capacity_lost,
                capacity_lost_share=i.capacity_lost_share,
                capacity_unknown_removed=i.capacity_unknown_removed,
                lost_every_provider=i.lost_every_provider,
                allied_alternatives=[
                    AlternativeProvider(
                        supplier=_supplier(a.supplier),
                        capacity=a.capacity,
                        withheld_=dict(a.withheld),
                    )
                    for a in i.allied_alternatives
                ],
                marking=i.marking,
            )
            for i in r.capabilities
        ],
        lost=[_capability(c) for c in r.lost],
        impaired=[
            ImpairedCapability(
                capability=_capability(i.capability),
                lost_inputs=list(i.lost_inputs),
                tier=i.tier,
                marking=i.marking,
            )
            for i in r.impaired
        ],
        marking=r.marking,
    )


# -- substitutes ------------------------------------------------------------------------------


@strawberry.type
class Substitute:
    withheld_: strawberry.Private[dict[str, str]] = _withheld()
    rank: int
    supplier: SupplierSummary
    capacity: float | None = said()
    spare_capacity: float | None = said("Capacity x (1 - assumed utilisation); see `assumption`.")
    trl: int | None = said()
    marking: str = strawberry.field(description=MARKING)


@strawberry.type
class SubstituteGroup:
    capability: CapabilitySummary
    candidates: list[Substitute]
    marking: str = strawberry.field(description=MARKING)


@strawberry.type(description="Allied suppliers that could substitute, ranked.")
class SubstitutesReport:
    root: strawberry.ID
    assumption: str
    groups: list[SubstituteGroup] = strawberry.field(
        description="One per capability: the one asked about, or each the supplier provides."
    )
    marking: str = strawberry.field(description=MARKING)


def _substitutes(r: substitutes.SubstitutesReport, root: strawberry.ID) -> SubstitutesReport:
    return SubstitutesReport(
        root=root,
        assumption=r.assumption,
        groups=[
            SubstituteGroup(
                capability=_capability(g.capability),
                candidates=[
                    Substitute(
                        rank=c.rank,
                        supplier=_supplier(c.supplier),
                        capacity=c.capacity,
                        spare_capacity=c.spare_capacity,
                        trl=c.trl,
                        marking=c.marking,
                        withheld_=dict(c.withheld),
                    )
                    for c in g.candidates
                ],
                marking=g.marking,
            )
            for g in r.groups
        ],
        marking=r.marking,
    )


# -- tradePathway -----------------------------------------------------------------------------


@strawberry.enum
class TradeOutcome(Enum):
    EXEMPTION_MAY_APPLY = "EXEMPTION_MAY_APPLY"
    LICENCE_REQUIRED = "LICENCE_REQUIRED"
    UNDETERMINED = "UNDETERMINED"
    NOT_AN_EXPORT = "NOT_AN_EXPORT"


@strawberry.type
class TradeAttribute:
    name: str
    value: str
    marking: str


@strawberry.type(description="Advisory only: whether an ITAR exemption could cover a transfer.")
class TradePathway:
    capability: CapabilitySummary
    destination: str
    outcome: TradeOutcome
    exemption: str | None = strawberry.field(description="The exemption considered, if any.")
    reasons: list[str]
    relied_on: list[TradeAttribute] = strawberry.field(
        description="The released attributes the outcome rests on."
    )
    undetermined: list[str] = strawberry.field(
        description="Attributes the outcome needs that are withheld from you or not recorded."
    )
    advisory: bool
    notice: str
    marking: str = strawberry.field(description=MARKING)


def _trade(r: trade.TradePathway) -> TradePathway:
    return TradePathway(
        capability=_capability(r.capability),
        destination=r.destination,
        outcome=TradeOutcome(r.outcome),
        exemption=r.exemption,
        reasons=list(r.reasons),
        relied_on=[
            TradeAttribute(name=a.name, value=a.value, marking=a.marking) for a in r.relied_on
        ],
        undetermined=list(r.undetermined),
        advisory=r.advisory,
        notice=r.notice,
        marking=r.marking,
    )


# -- root fields ------------------------------------------------------------------------------


def _service(info: Info[Context, None]) -> Analytics:
    ctx = info.context
    return Analytics(ctx.directory.graph, ctx.directory.memberships, ctx.analytics)


def _root(value: strawberry.ID, field: str) -> tuple[str, str]:
    type_name, key = decode_id(value, field=field)
    if type_name not in ("Supplier", "Capability"):
        raise Invalid(f"is a {type_name} id, expected a Supplier or Capability id", field=field)
    return type_name, key


class _Marked(Protocol):
    marking: str


R = TypeVar("R", bound=_Marked)


def _released(info: Info[Context, None], result: R) -> R:
    # The derived result is a released portion: its marking joins the response banner.
    info.context.disclosure.release(result.marking)
    return result


# `root` is reserved in strawberry resolvers (the parent object): the Python name differs.
RootArg = Annotated[
    strawberry.ID,
    strawberry.argument(name="root", description="Global id of a Supplier or a Capability."),
]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        description=(
            "Providers of a capability and of everything it requires (REQUIRES, to `depth`), "
            "by nation and agreement; gaps and sole sources. Null if not visible to you."
        )
    )
    async def capability_gap(
        self,
        info: Info[Context, None],
        capability: strawberry.ID,
        depth: int = 3,
    ) -> CapabilityGapReport | None:
        _, key = decode_id(capability, expected="Capability", field="capability")
        r = await _service(info).capability_gap(info.context.scope, key, depth)
        if r is None:
            return None
        return _released(
            info,
            CapabilityGapReport(
                capability=_coverage(r.capability),
                inputs=[_coverage(g) for g in r.inputs],
                sole_sourced=[_capability(c) for c in r.sole_sourced],
                without_provider=[_capability(c) for c in r.without_provider],
                depth=r.depth,
                marking=r.marking,
            ),
        )

    @strawberry.field(
        description=(
            "The upstream supply tree of a supplier or capability as nodes and edges with "
            "tiers, for drawing. LIMIT_EXCEEDED past `maxNodes` visible nodes."
        )
    )
    async def supply_chain(
        self,
        info: Info[Context, None],
        start: RootArg,
        depth: int = 3,
        max_nodes: int | None = None,
    ) -> SupplyChainGraph | None:
        type_name, key = _root(start, "root")
        r = await _service(info).supply_chain(info.context.scope, type_name, key, depth, max_nodes)
        return None if r is None else _released(info, _chain(r))

    @strawberry.field(
        description=(
            "Suppliers and nations on every supply path from a supplier or capability to its "
            "inputs (or to `target`): dominators of the visible supply graph."
        )
    )
    async def single_points_of_failure(
        self,
        info: Info[Context, None],
        start: RootArg,
        target: strawberry.ID | None = None,
        depth: int | None = None,
    ) -> SinglePointsOfFailureReport | None:
        type_name, key = _root(start, "root")
        goal = decode_id(target, expected="Supplier", field="target")[1] if target else None
        levels = info.context.analytics.max_depth if depth is None else depth
        r = await _service(info).single_points_of_failure(
            info.context.scope, type_name, key, goal, levels
        )
        if r is None:
            return None
        return _released(
            info,
            SinglePointsOfFailureReport(
                root=start,
                target=target,
                target_reachable=r.target_reachable,
                suppliers=[_point(p) for p in r.suppliers],
                nations=list(r.nations),
                critical=[_point(p) for p in r.critical],
                inputs=r.inputs,
                node_count=r.node_count,
                depth=r.depth,
                method=METHOD,
                marking=r.marking,
            ),
        )

    @strawberry.field(
        description=(
            "Herfindahl-Hirschman index of a capability's released capacity by nation and by "
            "supplier, and the share held in allied groups today."
        )
    )
    async def concentration(
        self, info: Info[Context, None], capability: strawberry.ID
    ) -> ConcentrationReport | None:
        _, key = decode_id(capability, expected="Capability", field="capability")
        r = await _service(info).concentration(info.context.scope, key)
        return None if r is None else _released(info, _concentration(r))

    @strawberry.field(
        description=(
            "How many tiers down, along which paths and for what share a supply chain reaches "
            "nations of concern, by location or by majority ownership."
        )
    )
    async def exposure(
        self,
        info: Info[Context, None],
        start: RootArg,
        depth: int | None = None,
        nations_of_concern: Annotated[
            list[str] | None,
            strawberry.argument(description="Default: the server's list (CHN, IRN, PRK, RUS)."),
        ] = None,
        first: int = 50,
    ) -> ExposureReport | None:
        type_name, key = _root(start, "root")
        levels = info.context.analytics.max_depth if depth is None else depth
        r = await _service(info).exposure(
            info.context.scope, type_name, key, levels, nations_of_concern, first
        )
        return None if r is None else _released(info, _exposure(r, start))

    @strawberry.field(
        description=(
            "What is lost if nations or suppliers drop out: capabilities that lose every "
            "provider or some capacity, remaining allied providers, and capabilities that "
            "require a lost one (to `depth` REQUIRES links)."
        )
    )
    async def disruption(
        self,
        info: Info[Context, None],
        remove_nations: list[str] | None = None,
        remove_suppliers: list[strawberry.ID] | None = None,
        depth: int = 3,
        first: Annotated[
            int, strawberry.argument(description="Allied alternatives listed per capability.")
        ] = 10,
    ) -> DisruptionReport:
        keys = [
            decode_id(s, expected="Supplier", field="removeSuppliers")[1]
            for s in remove_suppliers or []
        ]
        r = await _service(info).disruption(
            info.context.scope,
            nations=remove_nations or [],
            suppliers=keys,
            depth=depth,
            first=first,
        )
        return _released(info, _disruption(r))

    @strawberry.field(
        description=(
            "Allied suppliers with spare capacity that provide a capability (or each "
            "capability a supplier provides), ranked."
        )
    )
    async def substitutes(
        self, info: Info[Context, None], start: RootArg, first: int = 10
    ) -> SubstitutesReport | None:
        type_name, key = _root(start, "root")
        r = await _service(info).substitutes(info.context.scope, type_name, key, first)
        return None if r is None else _released(info, _substitutes(r, start))

    @strawberry.field(
        description=(
            "Advisory only: whether ITAR 126.7 (AUKUS) or 126.5 (Canada) could cover a "
            "transfer to `destination`, from the attributes released to you."
        )
    )
    async def trade_pathway(
        self, info: Info[Context, None], capability: strawberry.ID, destination: str
    ) -> TradePathway | None:
        _, key = decode_id(capability, expected="Capability", field="capability")
        ctx = info.context
        r = await _service(info).trade_pathway(ctx.scope, key, destination, ctx.policy.discloses)
        return None if r is None else _released(info, _trade(r))
