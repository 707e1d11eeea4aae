"""Root reads: one compiled query per GraphQL root field, always under a ReleaseScope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dibx.auth.release import ReleaseScope
from dibx.graph import asof
from dibx.graph.compile import Compiler, connection_node_selections
from dibx.graph.driver import Graph, compiled
from dibx.graph.model import MODEL, Model, NodeType
from dibx.graph.release import dated_holds, field_value, released, visible
from dibx.graph.rows import NodeRow, decode_node
from dibx.graph.selection import Selected

KEY = "key"  # sorts by the record's key; any other sort names a sortable field


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class SupplierFilter:
    nations: tuple[str, ...] | None = None
    agreement: str | None = None
    as_of: date | None = None
    capability: str | None = None
    name_contains: str | None = None


@dataclass(frozen=True, slots=True)
class CapabilityFilter:
    area: str | None = None
    name_contains: str | None = None
    provided_in: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Page:
    total: int | None
    items: list[NodeRow]
    offset: int
    has_next: bool


def _supplier_where(c: Compiler, f: SupplierFilter) -> tuple[list[str], list[str]]:
    """(anchoring patterns, conditions). A capability or nation filter becomes a pattern
    from an indexed node, so the planner starts there instead of testing every supplier."""
    anchors: list[str] = []
    where: list[str] = []
    if f.capability:
        anchors.append(
            f"(k0:Capability {{id: {c.param(f.capability)}}})<-[p0:PROVIDES]-(n0:Supplier)"
        )
        where += [visible("k0", "Capability"), visible("p0", "PROVIDES")]
    if f.nations:
        anchors.append("(n0:Supplier)-[b0:BASED_IN]->(x0:Nation)")
        where += [f"x0.code IN {c.param(list(f.nations))}", visible("b0", "BASED_IN")]
    if f.agreement:
        # The membership is read as the caller may see it: a hidden edge is absent and a
        # withheld date establishes nothing (see `dated_holds`).
        as_of = c.param(f.as_of or c.as_of)
        where.append(
            "EXISTS { MATCH (n0)-[b:BASED_IN]->(x:Nation)-[m:MEMBER_OF]->(a:Agreement) "
            f"WHERE a.code = {c.param(f.agreement)} AND {visible('b', 'BASED_IN')} "
            f"AND {visible('x', 'Nation')} AND {visible('m', 'MEMBER_OF')} "
            f"AND {visible('a', 'Agreement')} AND {dated_holds('m', 'MEMBER_OF', as_of)} }}"
        )
    if f.name_contains:
        # A withheld name reads as null, so a search can never match on what is withheld.
        where.append(
            f"toLower({field_value('n0', 'Supplier', 'name')}) "
            f"CONTAINS {c.param(f.name_contains.lower())}"
        )
    return anchors, where


def _supplier_where_at(c: Compiler, f: SupplierFilter, model: Model) -> list[str]:
    """The supplier filter under `asOf`: each condition over the records and edges as they
    stood (`dibx.graph.asof`), as EXISTS subqueries from the supplier (`r0`, state `n0`)."""
    assert c.at is not None
    supplier = model.nodes["Supplier"]
    rels = supplier.relations
    where: list[str] = []
    if f.capability:
        rel = asof.relation(
            model, supplier, "r0", "n0", rels["capabilities"], "p0", "kr0", "k0", c.at
        )
        where.append(f"EXISTS {{ {rel} AND k0.id = {c.param(f.capability)} }}")
    based = asof.relation(model, supplier, "r0", "n0", rels["nation"], "b0", "xr0", "x0", c.at)
    if f.nations:
        where.append(f"EXISTS {{ {based} AND x0.code IN {c.param(list(f.nations))} }}")
    if f.agreement:
        as_of = c.param(f.as_of or c.as_of)
        where.append(
            f"EXISTS {{ {based} AND EXISTS {{ MATCH (x0)-[m:MEMBER_OF]->(a:Agreement) "
            f"WHERE a.code = {c.param(f.agreement)} AND {visible('m', 'MEMBER_OF')} "
            f"AND {visible('a', 'Agreement')} AND {dated_holds('m', 'MEMBER_OF', as_of)} }} }}"
        )
    if f.name_contains:
        where.append(
            f"toLower({field_value('n0', 'Supplier', 'name')}) "
            f"CONTAINS {c.param(f.name_contains.lower())}"
        )
    return where


def _capability_where(c: Compiler, f: CapabilityFilter, model: Model = MODEL) -> list[str]:
    where: list[str] = []
    if f.area:
        where.append(f"{field_value('n0', 'Capability', 'area')} = {c.param(f.area)}")
    if f.name_contains:
        where.append(
            f"toLower({field_value('n0', 'Capability', 'name')}) "
            f"CONTAINS {c.param(f.name_contains.lower())}"
        )
    if f.provided_in and c.at is not None:
        cap, sup = model.nodes["Capability"], model.nodes["Supplier"]
        providers = asof.relation(
            model, cap, "r0", "n0", cap.relations["providers"], "p", "sr", "s", c.at
        )
        based = asof.relation(model, sup, "sr", "s", sup.relations["nation"], "b", "xr", "x", c.at)
        where.append(
            f"EXISTS {{ {providers} {based} AND x.code IN {c.param(list(f.provided_in))} }}"
        )
    elif f.provided_in:
        where.append(
            "EXISTS { MATCH (n0)<-[p:PROVIDES]-(s:Supplier)-[b:BASED_IN]->(x:Nation) "
            f"WHERE x.code IN {c.param(list(f.provided_in))} "
            f"AND {visible('p', 'PROVIDES')} AND {visible('s', 'Supplier')} "
            f"AND {visible('b', 'BASED_IN')} }}"
        )
    return where


def _order(node_type: NodeType, sorts: tuple[Sort, ...]) -> str:
    """ORDER BY keys: nulls last in both directions, then the key, so every order is total.

    Cypher sorts nulls last ascending but first descending; `<expr> IS NULL` ahead of the
    value keeps them last either way, as the schema promises.
    """
    keys = []
    for sort in sorts:
        direction = "DESC" if sort.descending else "ASC"
        if sort.field == KEY:
            keys.append(f"n0.{node_type.key} {direction}")
            continue
        if sort.field not in {f.name for f in node_type.sortable()}:
            raise ValueError(f"{node_type.name} cannot be sorted by {sort.field}")
        # Sorting reads the field as the caller sees it: withheld sorts as null.
        expr = field_value("n0", node_type.name, sort.field)
        keys += [f"{expr} IS NULL ASC", f"{expr} {direction}"]
    keys.append(f"n0.{node_type.key} ASC")
    return ", ".join(keys)


def _index_sortable(node_type: NodeType, sorts: tuple[Sort, ...]) -> bool:
    """One ascending sort on a marked field: the page can be read from the field's index."""
    if len(sorts) != 1:
        return False
    sort = sorts[0]
    return sort.field != KEY and not sort.descending and sort.field in node_type.names


def _split_page(
    c: Compiler,
    node_type: NodeType,
    name: str,
    where: list[str],
    projection: str,
    skip: str,
    limit: str,
    cap: int,
) -> str:
    """The page of `ORDER BY <field as seen> ASC, key ASC` in two parts, in one query.

    Ascending order puts nulls last, so that order is: the records whose field is released
    and non-null, by (field, key), then those whose field is null or withheld, by key. The
    head is read from the field's index in order and stops at the page; the tail is read
    only when the head page is short, and only then is the head counted (to place the tail
    offset) if the page starts past the head.
    """
    var, key = "n0", node_type.key
    check = released(var, node_type.name, name)
    head_match = (
        f"MATCH ({var}:{node_type.label}) WHERE {var}.{name} IS NOT NULL AND {check} AND "
        + " AND ".join(where)
    )
    tail_match = (
        f"MATCH ({var}:{node_type.label}) "
        f"WHERE ({var}.{name} IS NULL OR NOT coalesce({check}, false)) AND " + " AND ".join(where)
    )
    # A check that is null (no default) withholds, as in the CASE of `field_value`.
    # Each part runs only when needed: the UNWIND of an empty list stops it before its scan.
    # SKIP and LIMIT cannot read variables: the tail is read by key up to the furthest row
    # the page could need (offset + first + 1) and sliced.
    cap_param = c.param(cap)
    return (
        f"CALL () {{ {head_match} WITH DISTINCT {var} ORDER BY {var}.{name} ASC, {var}.{key} ASC "
        f"SKIP {skip} LIMIT {limit} RETURN collect({projection}) AS head }} "
        f"CALL (head) {{ UNWIND CASE WHEN size(head) = 0 AND {skip} > 0 THEN [1] ELSE [] END "
        f"AS needed {head_match} RETURN count(DISTINCT {var}) AS headTotal }} "
        f"WITH head, CASE WHEN size(head) > 0 THEN 0 "
        f"ELSE CASE WHEN {skip} > headTotal THEN {skip} - headTotal ELSE 0 END END AS tailFrom "
        f"WITH head, tailFrom, tailFrom + {limit} - size(head) AS tailTo "
        f"CALL (head, tailFrom, tailTo) {{ "
        f"UNWIND CASE WHEN size(head) < {limit} THEN [1] ELSE [] END AS needed "
        f"{tail_match} WITH DISTINCT {var}, tailFrom, tailTo ORDER BY {var}.{key} ASC "
        f"LIMIT {cap_param} WITH tailFrom, tailTo, collect({var}) AS tailNodes "
        f"UNWIND tailNodes[tailFrom..tailTo] AS {var} RETURN collect({projection}) AS tail }} "
        f"WITH head + tail AS items "
    )


def _compiler(
    scope: ReleaseScope, nested_limit: int, model: Model, at: datetime | None
) -> Compiler:
    """The query's compiler; with `at` (aware), a time-travel read whose dated edges (agreement
    memberships) default to that day. The caller's release rights stay today's."""
    if at is None:
        return Compiler(as_of=scope.as_of, nested_limit=nested_limit, model=model)
    c = Compiler(as_of=at.date(), nested_limit=nested_limit, model=model)
    c.at = c.param(at)
    c.records["n0"] = "r0"
    return c


async def list_nodes(
    graph: Graph,
    scope: ReleaseScope,
    type_name: str,
    selections: list[Selected],
    *,
    offset: int,
    first: int,
    nested_limit: int,
    want_total: bool,
    sorts: tuple[Sort, ...] = (),
    supplier_filter: SupplierFilter | None = None,
    capability_filter: CapabilityFilter | None = None,
    nation_codes: tuple[str, ...] | None = None,
    model: Model = MODEL,
    at: datetime | None = None,
) -> Page:
    """A page of records; with `at`, as the graph stood then (`dibx.graph.asof`)."""
    node_type = model.nodes[type_name]
    c = _compiler(scope, nested_limit, model, at)
    where = [visible("n0", node_type.name)]
    filter_anchors: list[str] = []
    if supplier_filter is not None and c.at is not None:
        where += _supplier_where_at(c, supplier_filter, model)
    elif supplier_filter is not None:
        filter_anchors, supplier_where = _supplier_where(c, supplier_filter)
        where += supplier_where
    anchors = filter_anchors or [f"(n0:{node_type.label})"]
    if capability_filter is not None:
        where += _capability_where(c, capability_filter, model)
    if nation_codes:
        where.append(f"n0.code IN {c.param(list(nation_codes))}")
    if c.at is not None:
        # Every record that was ever current, as it stood: its state in force (if any).
        match = (
            asof.all_records(node_type, "r0")
            + asof.state_of(node_type, "r0", "n0", c.at)
            + "AND "
            + " AND ".join(where)
            + " WITH DISTINCT n0, r0"
        )
    else:
        # Anchors never repeat a supplier (one PROVIDES per pair, one BASED_IN per supplier);
        # DISTINCT keeps counts right should the data ever hold parallel edges.
        match = (
            " ".join(f"MATCH {a}" for a in anchors)
            + " WHERE "
            + " AND ".join(where)
            + " WITH DISTINCT n0"
        )
    # `first: 0` asks only whether there is a next page (and maybe the total): one row
    # past the offset answers it, and that row needs no projection.
    projection = (
        c.node("n0", node_type, connection_node_selections(selections)) if first > 0 else "true"
    )
    skip, limit = c.param(offset), c.param(first + 1)
    # The split reads the whole label in index order; a filter's anchor pattern already
    # narrows the records, so those pages sort what the anchor found.
    if c.at is None and not filter_anchors and _index_sortable(node_type, sorts):
        query = _split_page(
            c, node_type, sorts[0].field, where, projection, skip, limit, offset + first + 1
        )
    else:
        query = (
            f"CALL () {{ {match} ORDER BY {_order(node_type, sorts)} "
            f"SKIP {skip} LIMIT {limit} RETURN collect({projection}) AS items }} "
        )
    if want_total:
        query += f"CALL () {{ {match} RETURN count(n0) AS total }} RETURN items, total"
    else:
        query += "RETURN items, null AS total"
    row = await graph.read_one(compiled(query), {**scope.cypher_params(), **c.params})
    assert row is not None  # an aggregate always returns one row
    items = row["items"]
    return Page(
        total=row["total"],
        items=[decode_node(i) for i in items[:first]],
        offset=offset,
        has_next=len(items) > first,
    )


async def get_node(
    graph: Graph,
    scope: ReleaseScope,
    type_name: str,
    key: str,
    selections: list[Selected],
    *,
    nested_limit: int,
    model: Model = MODEL,
    at: datetime | None = None,
) -> NodeRow | None:
    """A record by key, or None: a hidden record looks exactly like a missing one (and,
    with `at`, one that did not exist then)."""
    node_type = model.nodes[type_name]
    c = _compiler(scope, nested_limit, model, at)
    if c.at is not None:
        query = (
            asof.record_by_key(node_type, "r0", c.param(key))
            + asof.state_of(node_type, "r0", "n0", c.at)
            + f"AND {visible('n0', node_type.name)} "
            f"RETURN {c.node('n0', node_type, selections)} AS item"
        )
    else:
        query = (
            f"MATCH (n0:{node_type.label} {{{node_type.key}: {c.param(key)}}}) "
            f"WHERE {visible('n0', node_type.name)} "
            f"RETURN {c.node('n0', node_type, selections)} AS item"
        )
    row = await graph.read_one(compiled(query), {**scope.cypher_params(), **c.params})
    return None if row is None else decode_node(row["item"])
