"""Export reads: a caller's releasable slice of the stewarded graph, in keyset pages.

One query per page, per entity (a stewarded node type, or an edge type from its start type),
decided inside the Cypher by the predicates of `dibx.graph.release`, exactly as the GraphQL
reads decide it:

* a record is read only where `visible`; an edge only where it, its start and its end are
  all visible (as a relation is read from a visible record);
* each field is projected as `[value]` where `released`, else null, and its marking only
  where released: a withheld field's value and marking never leave Neo4j. A released field
  with neither a value nor a marking of its own (imported as withheld) is left out as a
  withheld one is: the reader lists both as withheld (`Exported.withheld`);
* an owned edge (a supplier's `BASED_IN`) is projected with its end's key and marking where
  the edge and the end are visible, as the `nation` relation reads it;
* with `at`, every record and edge as it stood then (`dibx.graph.asof`, the `asOf` reads'
  fragments), checked against the caller's release groups of today;
* `origin`: the originating nation, only where what is released says it already: the prefix
  of a key written through the API (`GBR:...`), else a seeded supplier's released
  `BASED_IN` nation, else (capabilities) the catalogue steward. An edge's is its start
  record's (only the start's originator writes an edge).

Pages follow the key (nodes: the record key; edges: start key, end key, element id), so each
page costs what the first does and memory stays bounded by the page size. Under `at`, records
of each label (current, then retired) are walked in turn. Pages are separate transactions: an
export running beside writes is a consistent read per page, not a snapshot of the whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, LiteralString

from dibx.auth.release import ReleaseScope
from dibx.graph import asof
from dibx.graph.cursors import Key, beyond
from dibx.graph.driver import Graph, compiled, listed
from dibx.graph.model import EdgeType, Model, NodeType, Relation
from dibx.graph.release import marking_in_force, released, visible

PAGE = 1000


@dataclass(frozen=True, slots=True)
class Exported:
    """One record or edge as the caller may know it: values and markings of released
    fields only (a released field without a value has a marking and no value)."""

    key: str | None  # records
    start: str | None  # edges
    end: str | None
    marking: str
    origin: str | None
    values: dict[str, Any]
    markings: dict[str, str]
    owned: dict[str, tuple[str, str]] = field(default_factory=dict)  # rel -> (end key, marking)
    withheld: tuple[str, ...] = ()  # chosen fields not carried (withheld, or imported so)


def _map(entries: dict[str, str]) -> str:
    return "{" + ", ".join(f"`{k}`: {v}" for k, v in entries.items()) + "}"


def _carried(var: str, owner: str, name: str) -> str:
    """Cypher predicate: the field goes into the export. It is released, and it has a value or
    a marking of its own: a field imported as withheld has neither (its marking in force is
    the policy's default, which says nothing the slice knew), so it goes back out withheld,
    not as the default's marking alone."""
    return (
        f"{released(var, owner, name)} "
        f"AND ({var}.`{name}` IS NOT NULL OR {var}.`marking_{name}` IS NOT NULL)"
    )


def _fields(var: str, owner: str, names: Sequence[str]) -> str:
    """`values` and `markings` of the chosen fields, each only where carried (released)."""
    values = {n: f"CASE WHEN {_carried(var, owner, n)} THEN [{var}.`{n}`] END" for n in names}
    marks = {
        n: f"CASE WHEN {_carried(var, owner, n)} THEN {marking_in_force(var, owner, n)} END"
        for n in names
    }
    return f"{_map(values)} AS values, {_map(marks)} AS markings"


def _nation_of(model: Model, node: NodeType, rec: str) -> str | None:
    """A seeded record's origin as the caller may see it: its released BASED_IN nation."""
    owned = [e for e in model.owned(node.name) if e.end == "Nation"]
    if not owned:
        return None
    rel = owned[0].rel
    return (
        f"head(COLLECT {{ MATCH ({rec})-[o:{rel}]->(x:Nation) "
        f"WHERE {visible('o', rel)} AND {visible('x', 'Nation')} RETURN x.code }})"
    )


def origin(model: Model, node: NodeType, rec: str) -> str:
    """The record's originating nation where released (see the module docstring)."""
    prefixed = (
        f"CASE WHEN {rec}.originNation IS NOT NULL "
        f"AND {rec}.{node.key} STARTS WITH {rec}.originNation + ':' THEN {rec}.originNation END"
    )
    seeded = _nation_of(model, node, rec) or "$catalogueSteward"
    return f"coalesce({prefixed}, {seeded})"


def _owned(model: Model, node: NodeType, rec: str, st: str, at: bool) -> str:
    """Each owned edge as `{end, marking}` where it and its end are visible, else null."""
    entries: dict[str, str] = {}
    for rel in node.relations.values():
        if rel.many or rel.direction != "out" or rel.edge not in model.owned(node.name):
            continue
        target = model.nodes[rel.target]
        edge = rel.edge.rel
        if at:
            match = asof.relation(model, node, rec, st, rel, "o", "xr", "x", "$at")
            end = f"xr.{target.key}"
        else:
            match = (
                f"MATCH ({rec})-[o:{edge}]->(x:{target.label}) "
                f"WHERE {visible('o', edge)} AND {visible('x', target.name)}"
            )
            end = f"x.{target.key}"
        entries[edge] = (
            f"head(COLLECT {{ {match} WITH o, {end} AS end ORDER BY end LIMIT 1 "
            f"RETURN {{end: end, marking: {marking_in_force('o', edge)}}} }})"
        )
    return _map(entries) + " AS owned"


def _as_rows(*columns: str) -> str:
    """A page returned as one record holding its rows in their order (`driver.listed`)."""
    return "RETURN collect({" + ", ".join(f"{c}: {c}" for c in columns) + "}) AS rows"


def node_query(
    model: Model, node: NodeType, label: str, names: Sequence[str], *, at: bool
) -> LiteralString:
    """One page of `label` records after `$after` by key (`$limit` of them)."""
    key = node.key
    if at:
        state = asof.state_of(node, "r", "n", "$at") + f"AND {visible('n', node.name)} "
    else:
        state = f"AND {visible('r', node.name)} WITH r, r AS n "
    return compiled(
        f"MATCH (r:{label}) WHERE r.{key} > $after {state}"
        f"WITH r, n ORDER BY r.{key} LIMIT $limit "
        f"WITH r.{key} AS key, {marking_in_force('n', node.name)} AS marking, "
        f"{origin(model, node, 'r')} AS origin, {_fields('n', node.name, names)}, "
        f"{_owned(model, node, 'r', 'n', at)} "
        + _as_rows("key", "marking", "origin", "values", "markings", "owned")
    )


def _relation(model: Model, edge: EdgeType) -> Relation:
    """The start type's outgoing relation of `edge` (how a read walks it)."""
    start = model.nodes[edge.start]
    for rel in start.relations.values():
        if rel.edge.rel == edge.rel and rel.direction == "out":
            return rel
    raise KeyError(f"{edge.start} has no outgoing relation of {edge.rel}")


def edge_query(
    model: Model,
    edge: EdgeType,
    start_label: str,
    names: Sequence[str],
    *,
    at: bool,
    after: tuple[str, str, str] | None,
) -> tuple[LiteralString, dict[str, Any]]:
    """One page of edges whose start carries `start_label`, after the position `after`
    (start key, end key, element id), in that order."""
    start, end = model.nodes[edge.start], model.nodes[edge.end]
    keys = (Key(f"a.{start.key}"), Key(f"b.{end.key}"), Key("elementId(e)"))
    params: dict[str, Any] = {}

    def param(value: Any) -> str:
        name = f"k{len(params)}"
        params[name] = value
        return f"${name}"

    if after is None:
        seek, past = f"a.{start.key} IS NOT NULL", "true"
    else:
        seek = f"a.{start.key} >= {param(after[0])}"
        past = beyond(keys, after, param, forward=True)
    if at:
        walk = (
            asof.state_of(start, "a", "sa", "$at")
            + f"AND {visible('sa', start.name)} "
            + asof.relation(model, start, "a", "sa", _relation(model, edge), "e", "b", "sb", "$at")
        )
        bound = "a, sa, e, b, sb"
    else:
        walk = (
            f"MATCH (a)-[e:{edge.rel}]->(b:{end.label}) "
            f"WHERE {visible('a', start.name)} AND {visible('e', edge.rel)} "
            f"AND {visible('b', end.name)} "
        )
        bound = "a, e, b"
    query = (
        f"MATCH (a:{start_label}) WHERE {seek} WITH a {walk}"
        f"WITH {bound} WHERE {past} "
        f"WITH {bound} ORDER BY a.{start.key}, b.{end.key}, elementId(e) LIMIT $limit "
        f"WITH a.{start.key} AS start, b.{end.key} AS end, elementId(e) AS tie, "
        f"{marking_in_force('e', edge.rel)} AS marking, "
        f"{origin(model, start, 'a')} AS origin, {_fields('e', edge.rel, names)} "
        + _as_rows("start", "end", "tie", "marking", "origin", "values", "markings")
    )
    return compiled(query), params


def labels(node: NodeType, *, at: bool) -> tuple[str, ...]:
    """Labels walked: current records, and under `at` retired ones too (they were current)."""
    return asof.labels(node) if at else (node.label,)


def _decoded(row: dict[str, Any], names: Sequence[str]) -> Exported:
    values = {k: v[0] for k, v in (row.get("values") or {}).items() if v is not None}
    marks = {k: m for k, m in (row.get("markings") or {}).items() if m is not None}
    owned = {
        rel: (str(o["end"]), str(o["marking"]))
        for rel, o in (row.get("owned") or {}).items()
        if o is not None
    }
    return Exported(
        key=row.get("key"),
        start=row.get("start"),
        end=row.get("end"),
        marking=str(row["marking"]),
        origin=row.get("origin"),
        values=values,
        markings=marks,
        owned=owned,
        withheld=tuple(n for n in names if n not in marks),
    )


@dataclass(frozen=True, slots=True)
class Reader:
    """Reads one caller's slice: `scope` decides, `at` (aware) reads as the graph stood."""

    graph: Graph
    scope: ReleaseScope
    model: Model
    catalogue_steward: str | None = None
    at: datetime | None = None
    page: int = PAGE

    def _params(self, **extra: Any) -> dict[str, Any]:
        return {
            **self.scope.cypher_params(),
            "catalogueSteward": self.catalogue_steward,
            "at": self.at,
            "limit": self.page,
            **extra,
        }

    async def nodes(self, node: NodeType, names: Sequence[str]) -> AsyncIterator[Exported]:
        at = self.at is not None
        for label in labels(node, at=at):
            query = node_query(self.model, node, label, names, at=at)
            after = ""  # every key is longer than the empty string
            while True:
                rows = listed(await self.graph.read(query, self._params(after=after)))
                for row in rows:
                    yield _decoded(row, names)
                if len(rows) < self.page:
                    break
                after = rows[-1]["key"]

    async def edges(self, edge: EdgeType, names: Sequence[str]) -> AsyncIterator[Exported]:
        at = self.at is not None
        start = self.model.nodes[edge.start]
        for label in labels(start, at=at):
            after: tuple[str, str, str] | None = None
            while True:
                query, keyset = edge_query(self.model, edge, label, names, at=at, after=after)
                rows = listed(await self.graph.read(query, self._params(**keyset)))
                for row in rows:
                    yield _decoded(row, names)
                if len(rows) < self.page:
                    break
                last = rows[-1]
                after = (last["start"], last["end"], last["tie"])
