"""Root reads: one compiled query per GraphQL root field, always under a ReleaseScope."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dibx.auth.release import ReleaseScope
from dibx.graph import asof
from dibx.graph.compile import Compiler, connection_node_selections
from dibx.graph.cursors import Key, Part, Sealer, Window, beyond, order_by, viewer
from dibx.graph.driver import Graph, compiled
from dibx.graph.model import MODEL, Model, NodeType
from dibx.graph.release import dated_holds, field_value, released, visible
from dibx.graph.rows import NodeRow, decode_node
from dibx.graph.selection import Selected
from dibx.graph.templates import TEMPLATES, Compiled, opens_a_cursor

KEY = "key"  # sorts by the record's key; any other sort names a sortable field
RECORD_KEY = "key"  # the parameter holding the key of the record `get_node` reads


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
    # Each item's position (sort values as the caller sees them, then its key): its cursor.
    positions: list[tuple[Part, ...]]
    has_next: bool
    has_previous: bool


def _supplier_where(
    c: Compiler, f: SupplierFilter
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(anchoring patterns, conditions, hoisted values). A capability or nation filter
    becomes a pattern from an indexed node, so the planner starts there instead of testing
    every supplier. A hoisted value (variable, subquery returning it) does not depend on the
    supplier: it is computed once before the walk instead of once per candidate row."""
    anchors: list[str] = []
    where: list[str] = []
    hoisted: list[tuple[str, str]] = []
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
        # The member nations (as the caller may see them) are the same for every supplier:
        # found once, then each supplier only needs its visible BASED_IN edge into that list.
        as_of = c.param(f.as_of or c.as_of)
        hoisted.append(
            (
                "members0",
                "MATCH (x:Nation)-[m:MEMBER_OF]->(a:Agreement) "
                f"WHERE a.code = {c.param(f.agreement)} AND {visible('x', 'Nation')} "
                f"AND {visible('m', 'MEMBER_OF')} AND {visible('a', 'Agreement')} "
                f"AND {dated_holds('m', 'MEMBER_OF', as_of)} "
                "RETURN collect(DISTINCT x) AS members0",
            )
        )
        where.append(
            "EXISTS { MATCH (n0)-[b:BASED_IN]->(x:Nation) "
            f"WHERE x IN members0 AND {visible('b', 'BASED_IN')} }}"
        )
    if f.name_contains:
        # A withheld name reads as null, so a search can never match on what is withheld.
        where.append(
            f"toLower({field_value('n0', 'Supplier', 'name')}) "
            f"CONTAINS {c.param(f.name_contains.lower())}"
        )
    return anchors, where, hoisted


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


@dataclass(frozen=True, slots=True)
class _Segment:
    """A run of the order read by one index-friendly query; the order is its segments in turn."""

    pattern: str
    where: tuple[str, ...]
    keys: tuple[Key, ...]
    distinct: bool
    # What a row carries on: the record too (`r0`) when `n0` is its state under `asOf`.
    carry: str = "n0"


def sort_keys(node_type: NodeType, sorts: tuple[Sort, ...]) -> tuple[Key, ...]:
    """The order as keyset keys: each sort field as the caller sees it (withheld reads as
    null and sorts last), then the record's key, so every order is total."""
    keys: list[Key] = []
    sortable = {f.name for f in node_type.sortable()}
    for sort in sorts:
        if sort.field == KEY:
            return (*keys, Key(f"n0.{node_type.key}", sort.descending))
        if sort.field not in sortable:
            raise ValueError(f"{node_type.name} cannot be sorted by {sort.field}")
        keys.append(Key(field_value("n0", node_type.name, sort.field), sort.descending, True))
    return (*keys, Key(f"n0.{node_type.key}"))


def position_size(node_type: NodeType, sorts: tuple[Sort, ...]) -> int:
    """How many parts a cursor of this order holds."""
    return len(sort_keys(node_type, sorts))


def _index_sortable(node_type: NodeType, sorts: tuple[Sort, ...]) -> bool:
    """One sort on a marked field: the page can be read from the field's index (forwards
    or backwards)."""
    if len(sorts) != 1:
        return False
    sort = sorts[0]
    return sort.field != KEY and sort.field in node_type.names


def _segments(
    node_type: NodeType,
    sorts: tuple[Sort, ...],
    anchors: list[str],
    where: list[str],
    at: tuple[Part, ...] | None,
) -> tuple[list[_Segment], int, tuple[Part, ...] | None]:
    """The order's segments, the one `at` falls in, and `at` as that segment's parts.

    One sort on a field, with no filter anchor, is read in two runs from indexes: the
    records whose field is released and non-null, by (field, key), from the field's index;
    then those whose field is null or withheld (last in both directions), by key. Any other
    order is one run.
    """
    var, key = "n0", node_type.key
    if anchors or not _index_sortable(node_type, sorts):
        keys = sort_keys(node_type, sorts)
        pattern = " ".join(f"MATCH {a}" for a in anchors or [f"({var}:{node_type.label})"])
        # Only a filter's anchor patterns can meet a record twice.
        return [_Segment(pattern, tuple(where), keys, bool(anchors))], 0, at
    name = sorts[0].field
    check = released(var, node_type.name, name)
    pattern = f"MATCH ({var}:{node_type.label})"
    head = _Segment(
        pattern,
        (f"{var}.{name} IS NOT NULL", check, *where),
        (Key(f"{var}.{name}", sorts[0].descending), Key(f"{var}.{key}")),
        False,
    )
    # A check that is null (no default) withholds, as in the CASE of `field_value`.
    tail = _Segment(
        pattern,
        (f"({var}.{name} IS NULL OR NOT coalesce({check}, false))", *where),
        (Key(f"{var}.{key}"),),
        False,
    )
    if at is None or at[0] is not None:
        return [head, tail], 0, at
    return [head, tail], 1, at[1:]


def _walk(
    c: Compiler,
    segments: list[_Segment],
    located: int,
    at: tuple[Part, ...] | None,
    *,
    forward: bool,
    limit: int,
    row: Callable[[_Segment], str],
    inclusive: bool = False,
    ordered: bool = True,
    imports: tuple[str, ...] = (),
) -> str:
    """A subquery returning `items`: up to `limit` rows from `at` on (or back), read
    segment by segment; a later segment is read only when the earlier ones fell short.
    `imports` are the hoisted variables the segments' conditions read."""
    lim = c.param(limit)
    order = list(range(len(segments)))
    if at is not None:
        order = order[located:] if forward else order[: located + 1]
    if not forward:
        order.reverse()
    parts: list[str] = []
    seen: list[str] = []
    for i in order:
        seg = segments[i]
        conds = list(seg.where)
        first = seg.keys[0]
        if at is not None and i == located:
            conds.append(beyond(seg.keys, at, c.param, forward=forward, inclusive=inclusive))
            if not first.nullable and at[0] is not None:
                # Redundant with the keyset, but a range the planner can seek an index by.
                op = ">=" if forward != first.descending else "<="
                conds.append(f"{first.expr} {op} {c.param(at[0])}")
        elif not first.nullable:
            # Always true of a key, but it lets the planner read the page in index order
            # (an index scan) instead of sorting every record.
            conds.append(f"{first.expr} IS NOT NULL")
        out = c.var("s")
        guard = (
            f"UNWIND CASE WHEN size({' + '.join(seen)}) < {lim} THEN [1] ELSE [] END AS needed "
            if seen
            else ""
        )
        distinct = f" WITH DISTINCT {seg.carry}" if seg.distinct else f" WITH {seg.carry}"
        # Whether any row lies there needs no order: the planner may stop at the first.
        sort = f" ORDER BY {order_by(seg.keys, reverse=not forward)}" if ordered else ""
        parts.append(
            f"CALL ({', '.join([*imports, *seen])}) {{ {guard}{seg.pattern} "
            f"WHERE {' AND '.join(conds)}"
            f"{distinct}{sort} LIMIT {lim} "
            f"RETURN collect({row(seg)}) AS {out} }}"
        )
        seen.append(out)
    found = " + ".join(seen) if seen else "[]"
    return (
        f"CALL ({', '.join(imports)}) {{ {' '.join(parts)} RETURN ({found})[..{lim}] AS items }} "
    )


def page_query(
    scope: ReleaseScope,
    type_name: str,
    selections: list[Selected],
    *,
    window: Window,
    nested_limit: int,
    want_total: bool,
    sorts: tuple[Sort, ...] = (),
    supplier_filter: SupplierFilter | None = None,
    capability_filter: CapabilityFilter | None = None,
    nation_codes: tuple[str, ...] | None = None,
    model: Model = MODEL,
    cursors: Sealer | None = None,
    at: datetime | None = None,
) -> Compiled:
    """The one query of a root page, its parameters and the renames of its rows' relations
    (`list_nodes` runs it; tests and benchmarks EXPLAIN it); with `at`, as the graph stood
    then (`dibx.graph.asof`). Compiled once per set of inputs (`dibx.graph.templates`)
    unless it opens a cursor or reads back in time; the caller's release parameters are
    bound each time."""

    def build() -> Compiled:
        return _page_query(
            scope,
            type_name,
            selections,
            window=window,
            nested_limit=nested_limit,
            want_total=want_total,
            sorts=sorts,
            supplier_filter=supplier_filter,
            capability_filter=capability_filter,
            nation_codes=nation_codes,
            model=model,
            cursors=cursors,
            at=at,
        )

    if at is not None or window.at is not None or opens_a_cursor(selections):
        query, own, renames = build()
    else:
        key = (
            "page",
            type_name,
            tuple(selections),
            window.size,
            window.forward,
            nested_limit,
            want_total,
            sorts,
            supplier_filter,
            capability_filter,
            nation_codes,
            scope.as_of,
        )
        query, own, renames = TEMPLATES.get(key, model, build)
    return query, {**scope.cypher_params(), **own}, renames


def _page_query(
    scope: ReleaseScope,
    type_name: str,
    selections: list[Selected],
    *,
    window: Window,
    nested_limit: int,
    want_total: bool,
    sorts: tuple[Sort, ...],
    supplier_filter: SupplierFilter | None,
    capability_filter: CapabilityFilter | None,
    nation_codes: tuple[str, ...] | None,
    model: Model,
    cursors: Sealer | None,
    at: datetime | None,
) -> Compiled:
    """`page_query`'s text and the parameters of its own (not the caller's release ones)."""
    node_type = model.nodes[type_name]
    c = _compiler(scope, nested_limit, model, at, cursors)
    where = [visible("n0", node_type.name)]
    filter_anchors: list[str] = []
    hoisted: list[tuple[str, str]] = []
    if supplier_filter is not None and c.at is not None:
        where += _supplier_where_at(c, supplier_filter, model)
    elif supplier_filter is not None:
        filter_anchors, supplier_where, hoisted = _supplier_where(c, supplier_filter)
        where += supplier_where
    if capability_filter is not None:
        where += _capability_where(c, capability_filter, model)
    if nation_codes:
        where.append(f"n0.code IN {c.param(list(nation_codes))}")
    size = window.size
    # `first: 0` asks only whether there is a next page (and maybe the total): one row
    # past the position answers it, and that row needs no projection.
    projection = (
        c.node("n0", node_type, connection_node_selections(selections)) if size > 0 else "null"
    )
    keys = sort_keys(node_type, sorts)

    def row(seg: _Segment) -> str:
        # The position in the whole order, whichever segment the row came from.
        return f"{{n: {projection}, s: [{', '.join(k.expr for k in keys)}]}}"

    if c.at is not None:
        # Every record that was ever current, as it stood: its state in force (if any). The
        # state fragment ends in a WHERE; the walk's conditions follow a WITH.
        pattern = (
            asof.all_records(node_type, "r0")
            + asof.state_of(node_type, "r0", "n0", c.at)
            + "WITH n0, r0"
        )
        segments = [_Segment(pattern, tuple(where), keys, True, carry="n0, r0")]
        located, position = 0, window.at
    else:
        segments, located, position = _segments(node_type, sorts, filter_anchors, where, window.at)
    imports = tuple(name for name, _ in hoisted)
    with_ = ", ".join(imports)
    query = "".join(f"CALL () {{ {subquery} }} " for _, subquery in hoisted)
    # `first: 0` returns no rows, only whether one lies beyond: any row tells, in any order,
    # so the walk stops at the first instead of ordering every candidate.
    query += _walk(
        c,
        segments,
        located,
        position,
        forward=window.forward,
        limit=size + 1,
        row=row,
        ordered=size > 0,
        imports=imports,
    )
    if position is not None:
        # Whether a record lies on the other side of the cursor (its own record included):
        # hasPreviousPage going forward, hasNextPage going back.
        opposite = _walk(
            c,
            segments,
            located,
            position,
            forward=not window.forward,
            limit=1,
            row=lambda seg: "true",
            inclusive=True,
            ordered=False,
            imports=imports,
        )
        query += f"CALL ({with_}) {{ {opposite} RETURN size(items) > 0 AS other }} "
    else:
        query += f"WITH {''.join(f'{v}, ' for v in imports)}items, false AS other "
    if want_total and c.at is not None:
        match = f"{segments[0].pattern} WHERE {' AND '.join(where)} WITH DISTINCT n0, r0"
        query += f"CALL () {{ {match} RETURN count(n0) AS total }} RETURN items, other, total"
    elif want_total:
        anchors = filter_anchors or [f"(n0:{node_type.label})"]
        match = (
            " ".join(f"MATCH {a}" for a in anchors)
            + " WHERE "
            + " AND ".join(where)
            + " WITH DISTINCT n0"
        )
        query += (
            f"CALL ({with_}) {{ {match} RETURN count(n0) AS total }} RETURN items, other, total"
        )
    else:
        query += "RETURN items, other, null AS total"
    return compiled(query), c.params, c.renames


def _compiler(
    scope: ReleaseScope,
    nested_limit: int,
    model: Model,
    at: datetime | None,
    cursors: Sealer | None = None,
) -> Compiler:
    """The query's compiler; with `at` (aware), a time-travel read whose dated edges (agreement
    memberships) default to that day. The caller's release rights stay today's."""
    c = Compiler(
        as_of=scope.as_of if at is None else at.date(),
        nested_limit=nested_limit,
        model=model,
        cursors=cursors,
        viewer=viewer(scope),
    )
    if at is None:
        return c
    c.at = c.param(at)
    c.records["n0"] = "r0"
    return c


async def list_nodes(
    graph: Graph,
    scope: ReleaseScope,
    type_name: str,
    selections: list[Selected],
    *,
    window: Window,
    **options: Any,
) -> Page:
    """A root page (see `page_query` for the options)."""
    query, params, renames = page_query(scope, type_name, selections, window=window, **options)
    size = window.size
    found = await graph.read_one(query, params)
    assert found is not None  # an aggregate always returns one row
    items = found["items"]
    more, other = len(items) > size, bool(found["other"])
    items = items[:size]
    if not window.forward:
        items.reverse()
    return Page(
        total=found["total"],
        items=[decode_node(i["n"], renames) for i in items],
        positions=[tuple(i["s"]) for i in items],
        has_next=more if window.forward else other,
        has_previous=other if window.forward else more,
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
    cursors: Sealer | None = None,
    at: datetime | None = None,
) -> NodeRow | None:
    """A record by key, or None: a hidden record looks exactly like a missing one (and,
    with `at`, one that did not exist then)."""
    node_type = model.nodes[type_name]

    def build() -> Compiled:
        c = _compiler(scope, nested_limit, model, at, cursors)
        if c.at is not None:
            query = (
                asof.record_by_key(node_type, "r0", f"${RECORD_KEY}")
                + asof.state_of(node_type, "r0", "n0", c.at)
                + f"AND {visible('n0', node_type.name)} "
                f"RETURN {c.node('n0', node_type, selections)} AS item"
            )
        else:
            query = (
                f"MATCH (n0:{node_type.label} {{{node_type.key}: ${RECORD_KEY}}}) "
                f"WHERE {visible('n0', node_type.name)} "
                f"RETURN {c.node('n0', node_type, selections)} AS item"
            )
        return compiled(query), c.params, c.renames

    # Compiled once per selection (`dibx.graph.templates`), as for a page; the key is bound.
    if at is not None or opens_a_cursor(selections):
        query, own, renames = build()
    else:
        template = ("node", type_name, tuple(selections), nested_limit, scope.as_of)
        query, own, renames = TEMPLATES.get(template, model, build)
    row = await graph.read_one(query, {**scope.cypher_params(), **own, RECORD_KEY: key})
    return None if row is None else decode_node(row["item"], renames)
