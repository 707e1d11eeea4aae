"""Supply-chain reads for analytics: the subgraph a caller may see, with the markings it rests on.

Every read applies the same release predicates as the directory reads (`dibx.graph.release`):
a record or edge that fails its check is not matched at all, and a field that fails comes back
as None (unknown), never as its value. Each value carries the markings it was released under,
so the analyses can mark what they derive from it.

Fetch strategy: breadth-first, one query per tier (`UNWIND $frontier`), so a request of depth d
costs at most d + 1 round trips and each query touches only the frontier's edges. A single
variable-length match would enumerate every path (exponential in depth on a dense graph);
tier-by-tier touches each visible edge once. Each tier query is capped (`LIMIT`) at the
remaining budget plus one, so an over-large request is detected without fetching it whole.

Counting is done in Cypher where only counts are needed: a capability's offers are
aggregated per nation (providers, released capacity, sum of squares, the markings used), so
a capability with thousands of providers costs one small row (gap, concentration,
disruption); rankings (alternatives, substitutes) are ordered and cut in Cypher too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, LiteralString, TypeVar

from dibx.auth.release import ReleaseScope
from dibx.graph.driver import Reads, compiled
from dibx.graph.release import marking_in_force, released, visible

T = TypeVar("T")

# Ownership chains followed for foreign control: majority links, at most this many hops.
CONTROL_HOPS = 3
CONTROL_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Val(Generic[T]):
    """A released value and the markings it rests on (the field's, or the edge's and node's)."""

    value: T
    markings: tuple[str, ...]


# (field, marking) of each field of a record withheld from the caller: its value is None, and
# a result showing that field says so (the schema discloses the marking per policy).
Withheld = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Control:
    """A majority-ownership chain from a supplier to an owner whose nation the caller sees."""

    owner: str
    nation: str
    chain: tuple[str, ...]
    shares: tuple[float, ...]
    markings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SupplierNode:
    key: str
    marking: str
    name: Val[str] | None
    nation: Val[str] | None
    control: tuple[Control, ...] = ()
    withheld: Withheld = ()


@dataclass(frozen=True, slots=True)
class Offer:
    """A visible PROVIDES edge from a visible supplier."""

    supplier: SupplierNode
    marking: str
    capacity: Val[float] | None
    trl: Val[int] | None
    withheld: Withheld = ()


@dataclass(frozen=True, slots=True)
class NationCapacity:
    """A capability's visible offers aggregated in Cypher per nation (None: nation withheld)
    and, for a disruption, per whether the provider is knocked out."""

    nation: str | None
    providers: int
    known: int  # providers whose capacity is released
    capacity: float  # sum of released capacities
    squares: float  # sum of their squares (for HHI)
    markings: tuple[str, ...]  # of every record, edge and released field aggregated
    removed: bool = False


@dataclass(frozen=True, slots=True)
class CapabilityNode:
    key: str
    marking: str
    name: Val[str] | None
    # (other capability, REQUIRES marking), in the direction the tree was walked.
    links: tuple[tuple[str, str], ...]
    # Every visible offer ("offers" reads) or the first few of a ranking ("summary" reads).
    offers: tuple[Offer, ...] = ()
    # Aggregates over every visible offer ("summary" reads).
    groups: tuple[NationCapacity, ...] = ()
    withheld: Withheld = ()


@dataclass(frozen=True, slots=True)
class SupplyLink:
    """A visible SOURCES_FROM edge: `buyer` sources from `seller`."""

    buyer: str
    seller: str
    marking: str
    item: Val[str] | None
    share: Val[float] | None
    sole: Val[bool] | None
    withheld: Withheld = ()


@dataclass
class CapabilityTree:
    nodes: dict[str, CapabilityNode] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)
    overflow: bool = False


@dataclass
class SupplyTree:
    suppliers: dict[str, SupplierNode] = field(default_factory=dict)
    tiers: dict[str, int] = field(default_factory=dict)
    links: list[SupplyLink] = field(default_factory=list)
    overflow: str | None = None  # "nodes" or "edges" when the budget ran out


@dataclass(frozen=True, slots=True)
class ControlAttributes:
    """Export-control attributes of a capability, each None when withheld or not recorded."""

    capability: CapabilityNode
    values: dict[str, Val[Any] | None]
    # (field, marking) of the fields withheld from the caller; the marking is for the schema
    # to disclose or conceal per policy, as for any withheld field.
    withheld: tuple[tuple[str, str], ...]


TRADE_FIELDS = ("jurisdiction", "usml", "eccn", "sme", "etl", "classified", "cdnExcluded")


# --- Cypher fragments (identifiers from this module only; values are $parameters) ----------


def _field(var: str, owner: str, name: str) -> str:
    """[value, marking] when released (value null when not recorded); [null, marking, false]
    when withheld, so the result can say so. Withheld reads as unknown."""
    check = released(var, owner, name)
    marking = marking_in_force(var, owner, name)
    # ELSE also catches a check that is null (no clauses, no default): deny by default.
    return f"CASE WHEN {check} THEN [{var}.`{name}`, {marking}] ELSE [null, {marking}, false] END"


def _nation(var: str) -> str:
    edge, nation = f"{var}_bi", f"{var}_na"
    return (
        f"head(COLLECT {{ MATCH ({var})-[{edge}:BASED_IN]->({nation}:Nation) "
        f"WHERE {visible(edge, 'BASED_IN')} AND {visible(nation, 'Nation')} "
        f"WITH {edge}, {nation} ORDER BY {nation}.code LIMIT 1 "
        f"RETURN [{nation}.code, {marking_in_force(edge, 'BASED_IN')}, "
        f"{marking_in_force(nation, 'Nation')}] }})"
    )


def _control(var: str) -> str:
    """Majority-ownership chains (every link's share released and > 0.5) to owners whose
    nation is visible; each hop, node and share must pass the caller's release check."""
    path, owner, edge, nation = f"{var}_cp", f"{var}_co", f"{var}_cb", f"{var}_cn"
    # List variables are named after `var` too: Cypher refuses to shadow an outer variable.
    r, x = f"{var}_cr", f"{var}_cx"
    links = f"relationships({path})"
    owners = f"nodes({path})[1..]"
    return (
        f"COLLECT {{ MATCH {path} = ({var})-[:SUBSIDIARY_OF*1..{CONTROL_HOPS}]->({owner}:Supplier) "
        f"WHERE all({r} IN {links} WHERE {visible(r, 'SUBSIDIARY_OF')} "
        f"AND {released(r, 'SUBSIDIARY_OF', 'share')} "
        f"AND {r}.share > {CONTROL_SHARE}) "
        f"AND all({x} IN {owners} WHERE {visible(x, 'Supplier')}) "
        f"MATCH ({owner})-[{edge}:BASED_IN]->({nation}:Nation) "
        f"WHERE {visible(edge, 'BASED_IN')} AND {visible(nation, 'Nation')} "
        f"RETURN {{owner: {owner}.id, nation: {nation}.code, "
        f"chain: [{x} IN {owners} | {x}.id], shares: [{r} IN {links} | {r}.share], "
        f"markings: [{r} IN {links} | {marking_in_force(r, 'SUBSIDIARY_OF')}] "
        f"+ [{r} IN {links} | {marking_in_force(r, 'SUBSIDIARY_OF', 'share')}] "
        f"+ [{x} IN {owners} | {marking_in_force(x, 'Supplier')}] "
        f"+ [{marking_in_force(edge, 'BASED_IN')}, {marking_in_force(nation, 'Nation')}]}} }}"
    )


def _supplier(var: str, *, control: bool) -> str:
    parts = [
        f"key: {var}.id",
        f"m: {marking_in_force(var, 'Supplier')}",
        f"name: {_field(var, 'Supplier', 'name')}",
        f"nation: {_nation(var)}",
    ]
    if control:
        parts.append(f"control: {_control(var)}")
    return "{" + ", ".join(parts) + "}"


def _offer(edge: str, sup: str, *, control: bool) -> str:
    return (
        f"{{m: {marking_in_force(edge, 'PROVIDES')}, "
        f"capacity: {_field(edge, 'PROVIDES', 'capacity')}, "
        f"trl: {_field(edge, 'PROVIDES', 'trl')}, "
        f"supplier: {_supplier(sup, control=control)}}}"
    )


def _provides(cap: str, edge: str, sup: str) -> str:
    return (
        f"MATCH ({cap})<-[{edge}:PROVIDES]-({sup}:Supplier) "
        f"WHERE {visible(edge, 'PROVIDES')} AND {visible(sup, 'Supplier')} "
    )


def _offers(cap: str, *, control: bool, limit: str = "$offer_limit") -> str:
    """Every visible offer (up to $offer_limit, so an over-large one is detected), or the
    first `limit` (a literal count or a $parameter)."""
    edge, sup = f"{cap}_p", f"{cap}_s"
    return (
        f"COLLECT {{ {_provides(cap, edge, sup)}"
        f"WITH {edge}, {sup} ORDER BY {sup}.id LIMIT {limit} "
        f"RETURN {_offer(edge, sup, control=control)} }}"
    )


def _amount(edge: str, name: str = "capacity") -> str:
    return f"CASE WHEN {released(edge, 'PROVIDES', name)} THEN toFloat({edge}.{name}) END"


# Conditions on an offer, given the variables of its supplier and of the [code, markings] of the
# nation the caller sees it based in (and, for a ranking, of its released capacity).
OfferTest = Callable[[str, str], str]
RankTest = Callable[[str, str, str], str]


def _removed(sup: str, nat: str) -> str:
    """A provider is knocked out by name, or by the nation the caller sees it based in."""
    return f"({sup}.id IN $suppliers OR coalesce({nat}[0] IN $nations, false))"


def _kept(sup: str, nat: str) -> str:
    return "false"


def _aggregate(
    edge: str, sup: str, nat: str, amount: str, out: str, *, trl: bool, extra: str = ""
) -> str:
    """Offers grouped per (nation, removed): counts, released capacity and its squares, and
    the distinct markings of everything counted (released fields only). `extra` adds
    aggregates to the WITH; the caller RETURNs (`_GROUP` is the group's map)."""
    trl_marking = (
        f"+ collect(DISTINCT CASE WHEN {released(edge, 'PROVIDES', 'trl')} "
        f"THEN {marking_in_force(edge, 'PROVIDES', 'trl')} END) "
        if trl
        else ""
    )
    return (
        f"WITH {nat}[0] AS nation, {out} AS removed, count(*) AS providers, "
        f"count({amount}) AS known, sum({amount}) AS capacity, "
        f"sum({amount} * {amount}) AS squares, "
        f"collect(DISTINCT {marking_in_force(edge, 'PROVIDES')}) "
        f"+ collect(DISTINCT {marking_in_force(sup, 'Supplier')}) "
        f"+ collect(DISTINCT CASE WHEN {amount} IS NOT NULL "
        f"THEN {marking_in_force(edge, 'PROVIDES', 'capacity')} END) "
        f"{trl_marking}"
        f"+ collect(DISTINCT {nat}[1]) + collect(DISTINCT {nat}[2]) AS markings{extra} "
    )


_GROUP = (
    "{nation: nation, removed: removed, providers: providers, known: known, "
    "capacity: capacity, squares: squares, markings: markings}"
)


def _groups(cap: str, *, removed: OfferTest = _kept, trl: bool = False) -> str:
    """Offers aggregated per (nation, removed) in Cypher (see `_aggregate`)."""
    edge, sup, nat, amount, out = (f"{cap}_g{x}" for x in ("p", "s", "n", "a", "r"))
    return (
        f"COLLECT {{ {_provides(cap, edge, sup)}"
        f"WITH {edge}, {sup}, {_nation(sup)} AS {nat}, {_amount(edge)} AS {amount} "
        f"WITH {edge}, {sup}, {nat}, {amount}, "
        f"{removed(sup, nat)} AS {out} "
        f"{_aggregate(edge, sup, nat, amount, out, trl=trl)}RETURN {_GROUP} }}"
    )


def _groups_and_ranked(
    cap: str, *, removed: OfferTest, where: RankTest, limit: str, trl: bool
) -> str:
    """`{_groups(cap)} AS groups, {_ranked(cap)} AS offers` in one pass over the offers.

    Both need every visible offer with the nation its supplier is seen in; the match, its
    release checks and that lookup are most of the cost on a capability with thousands of
    providers. One pass aggregates the offers per (nation, removed) and collects, per group,
    the offers the ranking may pick; the ranking then orders only those. The released TRL
    only orders the ranking, so only the offers it looks at read it.

    The pass aggregates as it streams, grouped per capability node: aggregating a list of
    every offer held in a variable would group by that list, hashing it once per offer
    (quadratic in a capability's offers) and holding every capability's list at once.

    The ranking reads the TRL and sorts only the picks that can make the cut: those whose
    released capacity is at least the `limit`-th best (every pick when fewer than `limit`
    capacities are known among the best: unknown ranks last, level with the cut). Ordering
    by capacity alone costs no reads; the rest of the order only breaks its ties.
    """
    edge, sup, nat, amount, rank, out, row, picks, lists, grouped, cut = (
        f"{cap}_o{x}" for x in ("p", "s", "n", "a", "t", "r", "o", "k", "l", "g", "c")
    )
    pick = f"CASE WHEN {where(sup, nat, amount)} THEN {{p: {edge}, s: {sup}, a: {amount}}} END"
    return (
        f"CALL ({cap}) {{ {_provides(cap, edge, sup)}"
        f"WITH {edge}, {sup}, {_nation(sup)} AS {nat}, {_amount(edge)} AS {amount} "
        f"WITH {edge}, {sup}, {nat}, {amount}, {removed(sup, nat)} AS {out} "
        f"{_aggregate(edge, sup, nat, amount, out, trl=trl, extra=f', collect({pick}) AS {picks}')}"
        f"RETURN collect({_GROUP}) AS {grouped}, collect({picks}) AS {lists} }} "
        f"CALL ({lists}) {{ UNWIND {lists} AS {picks} UNWIND {picks} AS {row} "
        f"WITH {row}.a AS {amount} ORDER BY {amount} IS NULL, {amount} DESC LIMIT {limit} "
        f"RETURN CASE WHEN count({amount}) < {limit} THEN null ELSE min({amount}) END AS {cut} }} "
        f"RETURN {_capability(cap)}, {grouped} AS groups, "
        f"COLLECT {{ UNWIND {lists} AS {picks} UNWIND {picks} AS {row} "
        f"WITH {row} WHERE {cut} IS NULL OR {row}.a >= {cut} "
        f"WITH {row}.p AS {edge}, {row}.s AS {sup}, {row}.a AS {amount} "
        f"WITH {edge}, {sup}, {amount}, {_amount(edge, 'trl')} AS {rank} "
        f"ORDER BY {amount} IS NULL, {amount} DESC, {rank} IS NULL, {rank} DESC, {sup}.id "
        f"LIMIT {limit} RETURN {_offer(edge, sup, control=False)} }} AS offers"
    )


def _capability(var: str) -> str:
    return (
        f"{var}.id AS key, {marking_in_force(var, 'Capability')} AS m, "
        f"{_field(var, 'Capability', 'name')} AS name"
    )


def _capability_tier(direction: str, mode: str, *, control: bool) -> LiteralString:
    arrow = "-[q:REQUIRES]->" if direction == "requires" else "<-[q:REQUIRES]-"
    links = (
        f"COLLECT {{ MATCH (cap){arrow}(k:Capability) "
        f"WHERE {visible('q', 'REQUIRES')} AND {visible('k', 'Capability')} "
        f"WITH q, k ORDER BY k.id RETURN [k.id, {marking_in_force('q', 'REQUIRES')}] }}"
    )
    head = (
        "UNWIND $frontier AS key MATCH (cap:Capability {id: key}) "
        f"WHERE {visible('cap', 'Capability')} "
    )
    if mode == "summary":
        return _written(
            head
            + _summary("cap")
            + f"RETURN {_capability('cap')}, {links} AS links, offers, groups"
        )
    if mode == "offers":
        extra = f"{_offers('cap', control=control)} AS offers, [] AS groups"
    else:
        extra = "[] AS offers, [] AS groups"
    return _written(head + f"RETURN {_capability('cap')}, {links} AS links, {extra}")


def _summary(cap: str) -> str:
    """`groups`: the offers aggregated per nation; `offers`: the one visible offer when
    there is exactly one (a sole source), else none.

    The aggregate is the pass over every offer; the sole source is looked up only where the
    aggregate counted one provider (a lookup of the first two by key on every capability
    matched and checked every offer a second time). Both apply the same release checks, so
    where the aggregate counts one provider the lookup finds exactly that one.
    """
    edge, sup = f"{cap}_p", f"{cap}_s"
    return (
        f"WITH {cap}, {_groups(cap)} AS groups "
        f"CALL ({cap}, groups) {{ WITH * WHERE reduce(n = 0, g IN groups | n + g.providers) = 1 "
        f"{_provides(cap, edge, sup)}"
        f"WITH {edge}, {sup} ORDER BY {sup}.id LIMIT 2 "
        f"RETURN collect({_offer(edge, sup, control=False)}) AS offers }} "
    )


def _supply_tier(*, control: bool) -> LiteralString:
    query = (
        "UNWIND $frontier AS key MATCH (buy:Supplier {id: key})-[r:SOURCES_FROM]->(sel:Supplier) "
        f"WHERE {visible('buy', 'Supplier')} AND {visible('r', 'SOURCES_FROM')} "
        f"AND {visible('sel', 'Supplier')} "
        "WITH buy, r, sel ORDER BY buy.id, sel.id LIMIT $limit "
        f"RETURN buy.id AS buyer, {marking_in_force('r', 'SOURCES_FROM')} AS m, "
        f"{_field('r', 'SOURCES_FROM', 'item')} AS item, "
        f"{_field('r', 'SOURCES_FROM', 'share')} AS share, "
        f"{_field('r', 'SOURCES_FROM', 'sole')} AS sole, "
        f"{_supplier('sel', control=control)} AS seller"
    )
    return _written(query)


def _suppliers(*, control: bool) -> LiteralString:
    return _written(
        "UNWIND $keys AS key MATCH (sup:Supplier {id: key}) "
        f"WHERE {visible('sup', 'Supplier')} "
        f"RETURN {_supplier('sup', control=control)} AS node ORDER BY node.key"
    )


def _written(query: str) -> LiteralString:
    # Built only from the fragments above: identifiers from this module, values as $params.
    return compiled(query)


_CAPABILITY_TIER = {
    (direction, mode, control): _capability_tier(direction, mode, control=control)
    for direction in ("requires", "required_by")
    for mode in ("offers", "summary", "links")
    for control in (True, False)
}
_SUPPLY_TIER = {control: _supply_tier(control=control) for control in (True, False)}
_SUPPLIERS = {control: _suppliers(control=control) for control in (True, False)}

_CAPACITY_BY_NATION = _written(
    "MATCH (cap:Capability {id: $key}) "
    f"WHERE {visible('cap', 'Capability')} "
    f"RETURN {_capability('cap')}, {_groups('cap')} AS groups"
)

# Per capability: offers split by knocked out or not, and the first remaining allied ones.
_IMPACT = _written(
    "UNWIND $keys AS key MATCH (cap:Capability {id: key}) "
    f"WHERE {visible('cap', 'Capability')} "
    + _groups_and_ranked(
        "cap",
        removed=_removed,
        where=lambda sup, nat, _: f"NOT {_removed(sup, nat)} AND {nat}[0] IN $allied",
        limit="$first",
        trl=False,
    )
)

# Per capability: the first allied candidates with capacity to spare (or unknown), and the
# markings of every offer their choice and order rest on.
_CANDIDATES = _written(
    "UNWIND $keys AS key MATCH (cap:Capability {id: key}) "
    f"WHERE {visible('cap', 'Capability')} "
    + _groups_and_ranked(
        "cap",
        removed=_kept,
        where=lambda sup, nat, amount: (
            f"NOT {sup}.id IN $exclude AND {nat}[0] IN $allied "
            f"AND ({amount} IS NULL OR {amount} > 0)"
        ),
        limit="$first",
        trl=True,
    )
    + " ORDER BY key"
)

_TRADE = _written(
    "MATCH (cap:Capability {id: $key}) "
    f"WHERE {visible('cap', 'Capability')} "
    f"RETURN cap.id AS key, {marking_in_force('cap', 'Capability')} AS m, "
    f"{_field('cap', 'Capability', 'name')} AS name, {{"
    + ", ".join(f"`{f}`: {_field('cap', 'Capability', f)}" for f in TRADE_FIELDS)
    + "} AS fields, ["
    + ", ".join(
        f"CASE WHEN NOT {released('cap', 'Capability', f)} "
        f"THEN ['{f}', {marking_in_force('cap', 'Capability', f)}] END"
        for f in TRADE_FIELDS
    )
    + "] AS withheld"
)

# Capabilities offered by the given suppliers or by suppliers based in the given nations,
# each side checked like any read: a hidden supplier, edge or BASED_IN matches nothing.
_OFFERED_BY = _written(
    "CALL () { "
    "UNWIND $suppliers AS key MATCH (sup:Supplier {id: key})-[p:PROVIDES]->(cap:Capability) "
    f"WHERE {visible('sup', 'Supplier')} AND {visible('p', 'PROVIDES')} "
    f"AND {visible('cap', 'Capability')} RETURN cap.id AS key "
    "UNION "
    "UNWIND $nations AS code "
    "MATCH (na:Nation {code: code})<-[b:BASED_IN]-(sup:Supplier)-[p:PROVIDES]->(cap:Capability) "
    f"WHERE {visible('na', 'Nation')} AND {visible('b', 'BASED_IN')} "
    f"AND {visible('sup', 'Supplier')} "
    f"AND {visible('p', 'PROVIDES')} AND {visible('cap', 'Capability')} "
    "RETURN cap.id AS key } "
    "WITH DISTINCT key ORDER BY key LIMIT $limit RETURN collect(key) AS keys"
)


# --- row -> value --------------------------------------------------------------------------


def _val(raw: list[Any] | None) -> Val[Any] | None:
    if raw is None or raw[0] is None:
        return None
    return Val(raw[0], (raw[1],))


def _withheld(row: dict[str, Any], *names: str) -> Withheld:
    """The fields of `row` that came back as [null, marking, false]: withheld from the caller."""
    out = []
    for name in names:
        raw = row.get(name)
        if raw is not None and len(raw) == 3:
            out.append((name, str(raw[1])))
    return tuple(out)


def _float(raw: list[Any] | None) -> Val[float] | None:
    v = _val(raw)
    return None if v is None else Val(float(v.value), v.markings)


def _supplier_node(raw: dict[str, Any]) -> SupplierNode:
    nation = raw["nation"]
    control = tuple(
        sorted(
            (
                Control(
                    owner=c["owner"],
                    nation=c["nation"],
                    chain=tuple(c["chain"]),
                    shares=tuple(float(s) for s in c["shares"]),
                    markings=tuple(c["markings"]),
                )
                for c in raw.get("control") or []
            ),
            key=lambda c: (len(c.chain), c.chain),
        )
    )
    return SupplierNode(
        key=raw["key"],
        marking=raw["m"],
        name=_val(raw["name"]),
        nation=None if nation is None else Val(nation[0], (nation[1], nation[2])),
        control=control,
        withheld=_withheld(raw, "name"),
    )


def _offer_row(raw: dict[str, Any]) -> Offer:
    trl = _val(raw["trl"])
    return Offer(
        supplier=_supplier_node(raw["supplier"]),
        marking=raw["m"],
        capacity=_float(raw["capacity"]),
        trl=None if trl is None else Val(int(trl.value), trl.markings),
        withheld=_withheld(raw, "capacity", "trl"),
    )


def _group(raw: dict[str, Any]) -> NationCapacity:
    return NationCapacity(
        nation=raw["nation"],
        providers=int(raw["providers"]),
        known=int(raw["known"]),
        capacity=float(raw["capacity"] or 0.0),
        squares=float(raw["squares"] or 0.0),
        markings=tuple(sorted(raw["markings"])),
        removed=bool(raw["removed"]),
    )


def _capability_node(row: dict[str, Any]) -> CapabilityNode:
    groups = sorted(
        (_group(g) for g in row.get("groups") or []),
        key=lambda g: (g.nation is None, g.nation or "", g.removed),
    )
    return CapabilityNode(
        key=row["key"],
        marking=row["m"],
        name=_val(row["name"]),
        links=tuple((k, m) for k, m in row.get("links") or []),
        offers=tuple(_offer_row(o) for o in row.get("offers") or []),
        groups=tuple(groups),
        withheld=_withheld(row, "name"),
    )


def _link(buyer: str, row: dict[str, Any], seller: str) -> SupplyLink:
    sole = _val(row["sole"])
    return SupplyLink(
        buyer=buyer,
        seller=seller,
        marking=row["m"],
        item=_val(row["item"]),
        share=_float(row["share"]),
        sole=None if sole is None else Val(bool(sole.value), sole.markings),
        withheld=_withheld(row, "item", "share", "sole"),
    )


# --- reads ---------------------------------------------------------------------------------

# Queries per `parallel` slot in `read_parallel`: more, smaller parts even out capabilities
# whose offer counts differ by orders of magnitude.
_PARTS_PER_SLOT = 2


def capability_nodes(rows: list[dict[str, Any]]) -> tuple[CapabilityNode, ...]:
    return tuple(_capability_node(row) for row in rows)


async def read_parallel(
    graph: Reads,
    query: LiteralString,
    params: dict[str, Any],
    keys_param: str,
    keys: Sequence[str],
    *,
    parallel: int,
) -> list[CapabilityNode]:
    """`query` once per part of `keys` (bound to `keys_param`), up to `parallel` at once;
    each part's rows are capabilities (`capability_nodes`).

    A query runs on one Neo4j thread: a read whose rows are independent per key (one row per
    capability) uses several cores when split. Keys are dealt round robin over the parts,
    which need no knowledge of their sizes (counting offers outside the release checks would
    tell the service about records the caller may not see). Each part is its own read
    transaction, like each tier of a walk. Capabilities come back in no particular order.
    """
    ordered = sorted(set(keys))
    count = max(1, min(len(ordered), parallel * _PARTS_PER_SLOT if parallel > 1 else 1))
    parts = [ordered[i::count] for i in range(count)]
    gate = asyncio.Semaphore(max(1, parallel))

    async def one(part: list[str]) -> tuple[CapabilityNode, ...]:
        async with gate:
            return await graph.read_as(query, {**params, keys_param: part}, capability_nodes)

    tasks = [asyncio.ensure_future(one(part)) for part in parts if part]
    try:
        results = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return [node for nodes in results for node in nodes]


async def capability_tree(
    graph: Reads,
    scope: ReleaseScope,
    roots: Sequence[str],
    *,
    depth: int,
    direction: str = "requires",
    mode: str = "offers",
    control: bool = False,
    max_nodes: int,
    parallel: int = 1,
) -> CapabilityTree:
    """Capabilities reachable from `roots` over visible REQUIRES edges (or, for
    "required_by", the capabilities that require them), tier by tier.

    `mode` says what comes with each capability: "offers" (every visible offer; providers
    count toward `max_nodes`), "summary" (offers aggregated per nation in Cypher, plus the
    first two offers, which name a sole source) or "links" (nothing more). Roots the caller
    may not see are simply absent. At most depth + 1 queries; "summary" reads walk the links
    first, then read the summaries in up to `parallel` queries at once (see `read_parallel`).
    """
    if mode == "summary":
        # Walk the links first (small rows), then read every summary at once, in parallel.
        tree = await capability_tree(
            graph,
            scope,
            roots,
            depth=depth,
            direction=direction,
            mode="links",
            max_nodes=max_nodes,
        )
        if tree.overflow or not tree.nodes:
            return tree
        summaries = await read_parallel(
            graph,
            _CAPABILITY_TIER[(direction, mode, control)],
            {**scope.cypher_params(), "offer_limit": max_nodes + 1},
            "frontier",
            list(tree.nodes),
            parallel=parallel,
        )
        for node in summaries:
            tree.nodes[node.key] = replace(
                tree.nodes[node.key], offers=node.offers, groups=node.groups
            )
        return tree
    tree = CapabilityTree()
    suppliers: set[str] = set()
    frontier = sorted(set(roots))
    tier = 0
    query = _CAPABILITY_TIER[(direction, mode, control)]
    while frontier:
        params = {**scope.cypher_params(), "frontier": frontier, "offer_limit": max_nodes + 1}
        rows = await graph.read(query, params)
        following: set[str] = set()
        for row in rows:
            node = _capability_node(row)
            tree.nodes[node.key] = node
            tree.tiers[node.key] = tier
            if mode == "offers":
                suppliers.update(o.supplier.key for o in node.offers)
            following.update(k for k, _ in node.links)
        if len(tree.nodes) + len(suppliers) > max_nodes:
            tree.overflow = True
            return tree
        if tier >= depth:
            break
        tier += 1
        frontier = sorted(following - tree.nodes.keys())
    return tree


async def suppliers_by_key(
    graph: Reads, scope: ReleaseScope, keys: Sequence[str], *, control: bool = False
) -> dict[str, SupplierNode]:
    """The suppliers among `keys` that the caller may see (hidden ones look missing)."""
    if not keys:
        return {}
    rows = await graph.read(
        _SUPPLIERS[control], {**scope.cypher_params(), "keys": sorted(set(keys))}
    )
    return {row["node"]["key"]: _supplier_node(row["node"]) for row in rows}


async def supply_tree(
    graph: Reads,
    scope: ReleaseScope,
    roots: Sequence[SupplierNode],
    *,
    root_tier: int,
    depth: int,
    max_nodes: int,
    max_edges: int,
    control: bool = False,
    reserved: int = 0,
) -> SupplyTree:
    """Visible SOURCES_FROM edges upstream of `roots`, breadth first, to tier `depth`.

    Roots sit at `root_tier`; a supplier's tier is its distance in the walk. Edges are fetched
    from every supplier below `depth`, so edges back to suppliers already seen are kept.
    `reserved` counts nodes the caller already holds (e.g. the capability at the top).
    """
    tree = SupplyTree()
    for node in roots:
        tree.suppliers[node.key] = node
        tree.tiers[node.key] = root_tier
    if len(tree.suppliers) + reserved > max_nodes:
        tree.overflow = "nodes"
        return tree
    frontier = sorted(tree.suppliers)
    tier = root_tier
    while frontier and tier < depth:
        budget = max_edges - len(tree.links)
        params = {**scope.cypher_params(), "frontier": frontier, "limit": budget + 1}
        rows = await graph.read(_SUPPLY_TIER[control], params)
        if len(rows) > budget:
            tree.overflow = "edges"
            return tree
        found: list[str] = []
        for row in rows:
            seller = _supplier_node(row["seller"])
            tree.links.append(_link(row["buyer"], row, seller.key))
            if seller.key not in tree.suppliers:
                tree.suppliers[seller.key] = seller
                tree.tiers[seller.key] = tier + 1
                found.append(seller.key)
        if len(tree.suppliers) + reserved > max_nodes:
            tree.overflow = "nodes"
            return tree
        tier += 1
        frontier = sorted(found)
    return tree


async def capacity_by_nation(graph: Reads, scope: ReleaseScope, key: str) -> CapabilityNode | None:
    """A capability with its released capacity summed per nation in Cypher (one query)."""
    row = await graph.read_one(_CAPACITY_BY_NATION, {**scope.cypher_params(), "key": key})
    return None if row is None else _capability_node(row)


async def impacts(
    graph: Reads,
    scope: ReleaseScope,
    keys: Sequence[str],
    *,
    nations: Sequence[str],
    suppliers: Sequence[str],
    allied: Sequence[str],
    first: int,
    parallel: int = 1,
) -> list[CapabilityNode]:
    """Per capability, by key: offers aggregated per (nation, knocked out) and the first
    `first` remaining offers from allied nations, by capacity. Up to `parallel` queries at
    once (see `read_parallel`)."""
    params = {
        **scope.cypher_params(),
        "nations": sorted(set(nations)),
        "suppliers": sorted(set(suppliers)),
        "allied": sorted(set(allied)),
        "first": first,
    }
    nodes = await read_parallel(graph, _IMPACT, params, "keys", keys, parallel=parallel)
    return sorted(nodes, key=lambda c: c.key)


async def candidates(
    graph: Reads,
    scope: ReleaseScope,
    keys: Sequence[str],
    *,
    exclude: Sequence[str],
    allied: Sequence[str],
    first: int,
) -> list[CapabilityNode]:
    """Per capability: the first `first` offers from allied nations (other than `exclude`)
    whose capacity is unknown or positive, ranked in Cypher, and the aggregate markings of
    every offer the ranking looked at. One query."""
    params = {
        **scope.cypher_params(),
        "keys": sorted(set(keys)),
        "exclude": sorted(set(exclude)),
        "allied": sorted(set(allied)),
        "first": first,
    }
    return [_capability_node(row) for row in await graph.read(_CANDIDATES, params)]


async def control_attributes(
    graph: Reads, scope: ReleaseScope, key: str
) -> ControlAttributes | None:
    row = await graph.read_one(_TRADE, {**scope.cypher_params(), "key": key})
    if row is None:
        return None
    return ControlAttributes(
        capability=_capability_node(row),
        values={name: _val(row["fields"][name]) for name in TRADE_FIELDS},
        withheld=tuple((w[0], w[1]) for w in row["withheld"] if w is not None),
    )


async def offered_by(
    graph: Reads,
    scope: ReleaseScope,
    *,
    suppliers: Sequence[str],
    nations: Sequence[str],
    limit: int,
) -> tuple[list[str], bool]:
    """Capabilities a visible offer links to the given suppliers or nations; (keys, overflow)."""
    params = {
        **scope.cypher_params(),
        "suppliers": sorted(set(suppliers)),
        "nations": sorted(set(nations)),
        "limit": limit + 1,
    }
    row = await graph.read_one(_OFFERED_BY, params)
    keys = list(row["keys"]) if row is not None else []
    return keys[:limit], len(keys) > limit
