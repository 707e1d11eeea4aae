"""Stewarded writes and their history in the graph: the only Cypher that writes them.

Storage (docs/history.md is the reference):

* A record (`:Supplier`, `:Capability`) or edge (PROVIDES, SOURCES_FROM, SUBSIDIARY_OF,
  REQUIRES) carries `originNation`, `originOrg` and `version`, and per marked portion its
  marking metadata (`markedByNation[_<f>]`, `markedByOrg[_<f>]`, `markedBySubject[_<f>]`,
  `markingReason[_<f>]`, `markedAt[_<f>]`, `reviewBy[_<f>]`). Seeded data carries none of these
  until its first stewarded write: its originator is the supplier's BASED_IN nation (suppliers
  and the edges they start), else the policy's catalogue steward (capabilities, REQUIRES);
  its version is 1.
* Every change closes the current *state* (`validTo = $now`) and creates a new one: a node
  holding a full copy of the record's (or edge's) properties, under the same names, plus the
  revision (`validFrom`, `kind`, `actor*`, `reason`, `changed`). Record states are
  `(:SupplierState)-[:STATE_OF]->(:Supplier)`; edge states are `(:ProvidesState)` and so on,
  linked `-[:STATE_FROM]->` the start and `-[:STATE_TO]->` the end, and keyed by the edge's
  `uid`. Each state links `-[:PREVIOUS]->` the state it closed. The first write to seeded data
  first copies it into a `baseline` state (validFrom = the epoch).
* Because a state mirrors its record's property names, the release checks of
  `dibx.graph.release` read a state exactly as they read the record: history is released
  inside Cypher by the same predicate.
* Retiring keeps the node under `:Retired<Label>` (no current read matches it) and deletes
  its non-owned edges after writing their last (`retired`) state; removing an edge does the
  same for one edge.

Concurrency: every write first takes the write lock of the record (or of an edge's start
record) by setting `_lock`, then reads the version; the update's MATCH repeats the version
check, so concurrent writers serialize on the node lock and a stale `expectedVersion` never
overwrites. Labels, types and property names come from `dibx.graph.model`; values only as
parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dibx.auth.release import ReleaseScope
from dibx.graph import tallies
from dibx.graph.driver import Graph, TxRunner, compiled
from dibx.graph.model import EdgeType, Model, NodeType
from dibx.graph.outbox import PENDING
from dibx.graph.release import marking_in_force, released, visible
from dibx.graph.states import (
    PREVIOUS,
    STATE_FROM,
    STATE_OF,
    STATE_TO,
    STEWARDED_EDGES,
    STEWARDED_NODES,
    state_label,
)

LOCK = "_lock"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # validFrom of a baseline: "since before history"
BASELINE, CREATED, UPDATED, RETIRED = "baseline", "created", "updated", "retired"
# Revision properties on a state node (besides the record's own, copied as they are).
REVISION_PROPS = (
    "kind",
    "actorSubject",
    "actorOrg",
    "actorNation",
    "actorClient",
    "reason",
    "changed",
)


def retired_label(node: NodeType) -> str:
    return f"Retired{node.label}"


def _origin(model: Model, node: NodeType, var: str, *, as_seen: bool = True) -> str:
    """The originating nation of record `var`: stored, else the seeding rule.

    `as_seen`: a seeded supplier's nation counts only where its BASED_IN is released to the
    caller, so that whether a caller may steward a record never tells it where a record is
    based when that is withheld from it (it is then nobody's to change, for that caller).
    """
    owned = [e for e in model.owned(node.name) if e.end == "Nation"]
    if owned:
        rel = owned[0].rel
        where = f"WHERE {visible('o', rel)} " if as_seen else ""
        return (
            f"coalesce({var}.originNation, head(COLLECT {{ MATCH ({var})-[o:{rel}]->(x:Nation) "
            f"{where}RETURN x.code }}))"
        )
    return f"coalesce({var}.originNation, $catalogueSteward)"


def _owned_to_state(model: Model, node: NodeType, var: str, state: str) -> str:
    """Copy each owned edge (a supplier's BASED_IN) onto the state as `<REL>` (the end's key)
    with `marking_<REL>` / `release_<REL>`: the record's state includes where it is based."""
    parts = []
    for edge in model.owned(node.name):
        end = model.nodes[edge.end]
        rel = edge.rel
        parts.append(
            f"WITH * CALL ({var}, {state}) {{ MATCH ({var})-[o:{rel}]->(x:{end.label}) "
            f"SET {state}.{rel} = x.{end.key}, {state}.marking_{rel} = o.marking, "
            f"{state}.release_{rel} = o.release }} "
        )
    return "".join(parts)


def _values_map(var: str, owner: str, names: tuple[str, ...]) -> str:
    entries = ", ".join(
        f"`{n}`: CASE WHEN {released(var, owner, n)} THEN [{var}.`{n}`] END" for n in names
    )
    return "{" + entries + "}"


def _markings_map(var: str, owner: str, names: tuple[str, ...]) -> str:
    entries = ", ".join(f"`{n}`: {marking_in_force(var, owner, n)}" for n in names)
    return "{" + entries + "}"


@dataclass(frozen=True, slots=True)
class Current:
    """A record or edge as its writer may know it (only ever built for a visible one)."""

    origin_nation: str | None
    origin_org: str | None
    version: int
    marking: str | None
    values: dict[str, Any]  # field -> value where released; absent where withheld
    markings: dict[str, str | None]
    uid: str | None = None  # edges
    element_id: str | None = None  # edges, for this transaction only
    owned: dict[str, str] | None = None  # owned edge -> end key (nodes)


def _current(row: Mapping[str, Any]) -> Current:
    values = {k: v[0] for k, v in (row.get("values") or {}).items() if v is not None}
    return Current(
        origin_nation=row.get("originNation"),
        origin_org=row.get("originOrg"),
        version=int(row["version"]),
        marking=row.get("marking"),
        values=values,
        markings=dict(row.get("markings") or {}),
        uid=row.get("uid"),
        element_id=row.get("eid"),
        owned=row.get("owned"),
    )


class Store:
    """Stewarded-write Cypher for one model; each method runs inside one transaction."""

    def __init__(self, graph: Graph, model: Model, *, catalogue_steward: str | None) -> None:
        self.graph = graph
        self.model = model
        self.catalogue_steward = catalogue_steward

    def _params(self, scope: ReleaseScope, **extra: Any) -> dict[str, Any]:
        return {**scope.cypher_params(), "catalogueSteward": self.catalogue_steward, **extra}

    # -- records ------------------------------------------------------------------------

    async def lock_node(self, tx: TxRunner, scope: ReleaseScope, node: NodeType, key: str) -> bool:
        """Take the record's write lock; False when it is absent or hidden (nothing locked)."""
        q = compiled(
            f"MATCH (n:{node.label} {{{node.key}: $key}}) WHERE {visible('n', node.name)} "
            f"SET n.{LOCK} = true RETURN count(n) AS n"
        )
        rows = await tx.run(q, self._params(scope, key=key))
        return bool(rows and rows[0]["n"])

    async def fetch_node(
        self, tx: TxRunner, scope: ReleaseScope, node: NodeType, key: str
    ) -> Current | None:
        """The record as the caller may see it, read after its lock; None if absent/hidden."""
        owned = ", ".join(
            f"`{e.rel}`: head(COLLECT {{ MATCH (n)-[:{e.rel}]->(x:{self.model.nodes[e.end].label}) "
            f"RETURN x.{self.model.nodes[e.end].key} }})"
            for e in self.model.owned(node.name)
        )
        q = compiled(
            f"MATCH (n:{node.label} {{{node.key}: $key}}) WHERE {visible('n', node.name)} "
            f"RETURN {_origin(self.model, node, 'n')} AS originNation, n.originOrg AS originOrg, "
            f"coalesce(n.version, 1) AS version, {marking_in_force('n', node.name)} AS marking, "
            f"{_values_map('n', node.name, node.names)} AS values, "
            f"{_markings_map('n', node.name, node.names)} AS markings, {{{owned}}} AS owned"
        )
        rows = await tx.run(q, self._params(scope, key=key))
        return _current(rows[0]) if rows else None

    async def key_taken(self, tx: TxRunner, node: NodeType, key: str) -> bool:
        """Whether `key` names a current or retired record (keys are never reused)."""
        q = compiled(
            f"RETURN EXISTS {{ MATCH (n:{node.label} {{{node.key}: $key}}) }} "
            f"OR EXISTS {{ MATCH (n:{retired_label(node)} {{{node.key}: $key}}) }} AS taken"
        )
        rows = await tx.run(q, {"key": key})
        return bool(rows[0]["taken"])

    async def end_exists(self, tx: TxRunner, scope: ReleaseScope, node: NodeType, key: str) -> bool:
        q = compiled(
            f"RETURN EXISTS {{ MATCH (n:{node.label} {{{node.key}: $key}}) "
            f"WHERE {visible('n', node.name)} }} AS found"
        )
        rows = await tx.run(q, self._params(scope, key=key))
        return bool(rows[0]["found"])

    async def create_node(
        self,
        tx: TxRunner,
        node: NodeType,
        key: str,
        props: Mapping[str, Any],
        links: list[dict[str, Any]],
        revision: Mapping[str, Any],
        now: datetime,
    ) -> int:
        owned = self.model.owned(node.name)
        lines = []
        for i, edge in enumerate(owned):
            end = self.model.nodes[edge.end]
            lines.append(f"MATCH (o{i}:{end.label} {{{end.key}: $links[{i}].end}})")
        lines.append(f"CREATE (n:{node.label}) SET n = $props, n.{node.key} = $key")
        for i, edge in enumerate(owned):
            lines.append(f"CREATE (n)-[l{i}:{edge.rel}]->(o{i}) SET l{i} = $links[{i}].props")
        lines.append(
            f"CREATE (st:{state_label(node.name)}:{PENDING})-[:{STATE_OF}]->(n) "
            "SET st = properties(n) "
            "SET st += $revision, st.validFrom = $now "
            + _owned_to_state(self.model, node, "n", "st")
            + "RETURN n.version AS version"
        )
        rows = await tx.run(
            compiled(" ".join(lines)),
            {
                "key": key,
                "props": dict(props),
                "links": links,
                "revision": dict(revision),
                "now": now,
            },
        )
        if not rows:
            raise LookupError("an owned edge's end vanished")
        return int(rows[0]["version"])

    async def _baseline_node(self, tx: TxRunner, node: NodeType, key: str) -> None:
        """Seeded or pre-history data: copy it into a `baseline` state before its first change."""
        label = state_label(node.name)
        q = compiled(
            f"MATCH (n:{node.label} {{{node.key}: $key}}) "
            f"WHERE NOT EXISTS {{ MATCH (:{label})-[:{STATE_OF}]->(n) }} "
            f"CREATE (b:{label})-[:{STATE_OF}]->(n) SET b = properties(n) "
            f"SET b.version = coalesce(n.version, 1), "
            f"b.originNation = {_origin(self.model, node, 'n', as_seen=False)}, "
            f"b.kind = '{BASELINE}', "
            f"b.validFrom = $epoch, b.changed = [] REMOVE b.{LOCK} "
            + tallies.strip(self.model, node, "b")
            + _owned_to_state(self.model, node, "n", "b")
            + "RETURN count(b) AS n"
        )
        await tx.run(q, {"key": key, "epoch": EPOCH, "catalogueSteward": self.catalogue_steward})

    async def set_owned(
        self,
        tx: TxRunner,
        node: NodeType,
        key: str,
        edge: EdgeType,
        end: str,
        props: Mapping[str, Any],
    ) -> bool:
        """Replace the record's owned edge (a supplier moves): False if the end is missing."""
        end_type = self.model.nodes[edge.end]
        q = compiled(
            f"MATCH (n:{node.label} {{{node.key}: $key}}) "
            f"MATCH (o:{end_type.label} {{{end_type.key}: $end}}) "
            # The end it leaves loses a link: its release tallies first (`graph.tallies`).
            f"CALL (n) {{ MATCH (n)-[old:{edge.rel}]->(x) "
            f"{tallies.edge_invalidation(self.model, edge.rel, 'n', 'x')}DELETE old }} "
            f"CREATE (n)-[l:{edge.rel}]->(o) SET l = $props RETURN count(l) AS n"
        )
        rows = await tx.run(q, {"key": key, "end": end, "props": dict(props)})
        return bool(rows and rows[0]["n"])

    async def update_node(
        self,
        tx: TxRunner,
        node: NodeType,
        key: str,
        *,
        expected: int,
        changes: Mapping[str, Any],
        revision: Mapping[str, Any],
        now: datetime,
        retire: bool = False,
    ) -> int | None:
        """Apply `changes` (`SET n += $changes`: a null removes) if the version is still
        `expected`; close the current state and open the next. None: the version moved."""
        await self._baseline_node(tx, node, key)
        label = state_label(node.name)
        relabel = f"REMOVE n:{node.label} SET n:{retired_label(node)} " if retire else ""
        q = compiled(
            f"MATCH (n:{node.label} {{{node.key}: $key}}) WHERE coalesce(n.version, 1) = $expected "
            f"MATCH (cur:{label})-[:{STATE_OF}]->(n) WHERE cur.validTo IS NULL "
            "SET cur.validTo = $now "
            "SET n += $changes, n.version = coalesce(n.version, 1) + 1, "
            "n.originNation = coalesce(n.originNation, cur.originNation) "
            f"REMOVE n.{LOCK} "
            + relabel
            + f"CREATE (st:{label}:{PENDING})-[:{STATE_OF}]->(n) SET st = properties(n) "
            "SET st += $revision, st.validFrom = $now "
            + tallies.strip(self.model, node, "st")
            + _owned_to_state(self.model, node, "n", "st")
            + f"CREATE (st)-[:{PREVIOUS}]->(cur) RETURN n.version AS version"
        )
        rows = await tx.run(
            q,
            {
                "key": key,
                "expected": expected,
                "changes": dict(changes),
                "revision": dict(revision),
                "now": now,
            },
        )
        return int(rows[0]["version"]) if rows else None

    async def attached_edges(self, tx: TxRunner, node: NodeType) -> list[tuple[EdgeType, str]]:
        """Edge types (not owned) that start or end at records of `node`'s type, with the
        role of the record: 'start' or 'end'."""
        owned = {e.rel for e in self.model.owned(node.name)}
        out: list[tuple[EdgeType, str]] = []
        for edge in self.model.edges.values():
            if edge.rel in owned:
                continue
            if edge.start == node.name:
                out.append((edge, "start"))
            if edge.end == node.name:
                out.append((edge, "end"))
        return out

    async def edges_of(
        self, tx: TxRunner, node: NodeType, key: str, edge: EdgeType, role: str
    ) -> list[tuple[str, str, str]]:
        """(start key, end key, element id) of every `edge` at the record, hidden or not:
        retiring a record retires every edge it is part of."""
        start, end = self.model.nodes[edge.start], self.model.nodes[edge.end]
        anchor = "a" if role == "start" else "b"
        q = compiled(
            f"MATCH (a:{start.label})-[r:{edge.rel}]->(b:{end.label}) "
            f"WHERE {anchor}.{(start if role == 'start' else end).key} = $key "
            f"RETURN a.{start.key} AS a, b.{end.key} AS b, elementId(r) AS eid"
        )
        rows = await tx.run(q, {"key": key})
        return [(r["a"], r["b"], r["eid"]) for r in rows]

    # -- edges --------------------------------------------------------------------------

    async def fetch_edge(
        self, tx: TxRunner, scope: ReleaseScope, edge: EdgeType, a: str, b: str, nation: str
    ) -> Current | None:
        """The caller's nation's own edge from `a` to `b`, if visible to the caller."""
        start, end = self.model.nodes[edge.start], self.model.nodes[edge.end]
        q = compiled(
            f"MATCH (a:{start.label} {{{start.key}: $a}})-[r:{edge.rel}]->"
            f"(b:{end.label} {{{end.key}: $b}}) "
            f"WHERE {visible('r', edge.rel)} "
            f"AND coalesce(r.originNation, {_origin(self.model, start, 'a')}) = $nation "
            f"RETURN coalesce(r.originNation, {_origin(self.model, start, 'a')}) AS originNation, "
            f"r.originOrg AS originOrg, coalesce(r.version, 1) AS version, "
            f"{marking_in_force('r', edge.rel)} AS marking, "
            f"{_values_map('r', edge.rel, edge.names)} AS values, "
            f"{_markings_map('r', edge.rel, edge.names)} AS markings, "
            "r.uid AS uid, elementId(r) AS eid ORDER BY coalesce(r.version, 1) DESC LIMIT 1"
        )
        rows = await tx.run(q, self._params(scope, a=a, b=b, nation=nation))
        return _current(rows[0]) if rows else None

    async def create_edge(
        self,
        tx: TxRunner,
        edge: EdgeType,
        a: str,
        b: str,
        props: Mapping[str, Any],
        revision: Mapping[str, Any],
        now: datetime,
    ) -> int:
        start, end = self.model.nodes[edge.start], self.model.nodes[edge.end]
        q = compiled(
            f"MATCH (a:{start.label} {{{start.key}: $a}}) MATCH (b:{end.label} {{{end.key}: $b}}) "
            f"CREATE (a)-[r:{edge.rel}]->(b) SET r = $props, r.uid = randomUUID() "
            f"CREATE (a)<-[:{STATE_FROM}]-(st:{state_label(edge.rel)}:{PENDING})"
            f"-[:{STATE_TO}]->(b) "
            "SET st = properties(r) SET st += $revision, st.validFrom = $now, "
            "st.from = $a, st.to = $b RETURN r.version AS version"
        )
        rows = await tx.run(
            q, {"a": a, "b": b, "props": dict(props), "revision": dict(revision), "now": now}
        )
        if not rows:
            raise LookupError("an edge's end vanished")
        return int(rows[0]["version"])

    async def update_edge(
        self,
        tx: TxRunner,
        edge: EdgeType,
        element_id: str,
        *,
        expected: int,
        changes: Mapping[str, Any],
        revision: Mapping[str, Any],
        now: datetime,
        remove: bool = False,
    ) -> int | None:
        """As `update_node`, for the edge `element_id` (read in this transaction)."""
        start, end = self.model.nodes[edge.start], self.model.nodes[edge.end]
        label = state_label(edge.rel)
        match = (
            f"MATCH (a:{start.label})-[r:{edge.rel}]->(b:{end.label}) WHERE elementId(r) = $eid "
        )
        baseline = compiled(
            match + "SET r.uid = coalesce(r.uid, randomUUID()) WITH a, b, r "
            f"WHERE NOT EXISTS {{ MATCH (s:{label} {{uid: r.uid}}) }} "
            f"CREATE (a)<-[:{STATE_FROM}]-(s:{label})-[:{STATE_TO}]->(b) SET s = properties(r) "
            f"SET s.version = coalesce(r.version, 1), "
            "s.originNation = coalesce(r.originNation, "
            f"{_origin(self.model, start, 'a', as_seen=False)}), "
            f"s.kind = '{BASELINE}', s.validFrom = $epoch, s.changed = [], "
            f"s.from = a.{start.key}, s.to = b.{end.key} RETURN count(s) AS n"
        )
        await tx.run(
            baseline,
            {"eid": element_id, "epoch": EPOCH, "catalogueSteward": self.catalogue_steward},
        )
        tail = "DELETE r " if remove else ""
        q = compiled(
            match + "AND coalesce(r.version, 1) = $expected "
            f"MATCH (cur:{label} {{uid: r.uid}}) WHERE cur.validTo IS NULL "
            "SET cur.validTo = $now "
            "SET r += $changes, r.version = coalesce(r.version, 1) + 1, "
            "r.originNation = coalesce(r.originNation, cur.originNation) "
            f"CREATE (a)<-[:{STATE_FROM}]-(st:{label}:{PENDING})-[:{STATE_TO}]->(b) "
            "SET st = properties(r) SET st += $revision, st.validFrom = $now, "
            f"st.from = a.{start.key}, st.to = b.{end.key} "
            f"CREATE (st)-[:{PREVIOUS}]->(cur) WITH r, st.version AS version "
            + tail
            + "RETURN version"
        )
        rows = await tx.run(
            q,
            {
                "eid": element_id,
                "expected": expected,
                "changes": dict(changes),
                "revision": dict(revision),
                "now": now,
            },
        )
        return int(rows[0]["version"]) if rows else None

    async def reaches(
        self, tx: TxRunner, scope: ReleaseScope, edge: EdgeType, a: str, b: str
    ) -> bool:
        """Whether `b` is reachable from `a` over `edge`s the caller may see (an acyclic edge
        from b to a would close a cycle). Over visible edges only: a hidden path must not
        answer differently from no path."""
        node = self.model.nodes[edge.start]
        q = compiled(
            f"MATCH (x:{node.label} {{{node.key}: $a}}), (y:{node.label} {{{node.key}: $b}}) "
            f"RETURN EXISTS {{ MATCH p = (x)-[:{edge.rel}*0..]->(y) "
            f"WHERE all(r IN relationships(p) WHERE {visible('r', edge.rel)}) "
            f"AND all(m IN nodes(p) WHERE m:{node.label} AND {visible('m', node.name)}) }} AS found"
        )
        rows = await tx.run(q, self._params(scope, a=a, b=b))
        return bool(rows and rows[0]["found"])

    async def edge_version(self, tx: TxRunner, element_id: str) -> int:
        rows = await tx.run(
            "MATCH ()-[r]->() WHERE elementId(r) = $eid RETURN coalesce(r.version, 1) AS v",
            {"eid": element_id},
        )
        return int(rows[0]["v"]) if rows else 1

    # -- history ------------------------------------------------------------------------

    async def history(
        self, scope: ReleaseScope, node: NodeType, key: str, limit: int
    ) -> list[dict[str, Any]]:
        """The record's revisions, newest first, if the caller may see the record now.

        An old (or new) value is returned only where the state that held it releases that
        field to the caller; a change of a field withheld on both sides under the same
        marking is left out (that it changed is itself withheld). Markings are returned.
        """
        t = node.name
        entries = []
        for f in node.names:
            old_rel = f"(prev IS NOT NULL AND coalesce({released('prev', t, f)}, false))"
            new_rel = f"coalesce({released('st', t, f)}, false)"
            old_mark = f"CASE WHEN prev IS NOT NULL THEN {marking_in_force('prev', t, f)} END"
            new_mark = marking_in_force("st", t, f)
            entries.append(
                f"CASE WHEN '{f}' IN coalesce(st.changed, []) AND ({old_rel} OR {new_rel} "
                f"OR coalesce({old_mark} <> {new_mark}, true)) THEN {{field: '{f}', "
                f"old: CASE WHEN {old_rel} THEN [prev.`{f}`] END, oldMarking: {old_mark}, "
                f"new: CASE WHEN {new_rel} THEN [st.`{f}`] END, newMarking: {new_mark}}} END"
            )
        label = state_label(t)
        q = compiled(
            f"MATCH (n:{node.label} {{{node.key}: $key}}) WHERE {visible('n', t)} "
            f"MATCH (st:{label})-[:{STATE_OF}]->(n) WHERE st.kind <> '{BASELINE}' "
            f"OPTIONAL MATCH (st)-[:{PREVIOUS}]->(prev:{label}) "
            "WITH st, prev ORDER BY st.version DESC LIMIT $limit "
            "RETURN {at: st.validFrom, kind: st.kind, version: st.version, "
            "actorNation: st.actorNation, actorOrg: st.actorOrg, reason: st.reason, "
            f"marking: {marking_in_force('st', t)}, "
            f"previousMarking: CASE WHEN prev IS NOT NULL THEN {marking_in_force('prev', t)} END, "
            f"changes: [x IN [{', '.join(entries)}] WHERE x IS NOT NULL]}} AS revision"
        )
        rows = await self.graph.read(q, self._params(scope, key=key, limit=limit))
        out = []
        for row in rows:
            rev = dict(row["revision"])
            at = rev.get("at")
            if at is not None and hasattr(at, "to_native"):
                rev["at"] = at.to_native()
            out.append(rev)
        return out


# For the bulk writer (`dibx.exchange.writer`): the same origin rule and state copy.
origin_of = _origin
owned_to_state = _owned_to_state


def marked(field: str | None, name: str) -> str:
    """The property holding `name` (marking, release, markedBy...) of a field or the record."""
    return name if field is None else f"{name}_{field}"


__all__ = [
    "BASELINE",
    "CREATED",
    "PREVIOUS",
    "RETIRED",
    "REVISION_PROPS",
    "STATE_FROM",
    "STATE_OF",
    "STATE_TO",
    "STEWARDED_EDGES",
    "STEWARDED_NODES",
    "UPDATED",
    "Current",
    "Store",
    "marked",
    "retired_label",
    "state_label",
]
