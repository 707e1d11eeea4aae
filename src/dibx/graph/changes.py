"""The change feed's Cypher: events after a position, released to one caller, in `seq` order.

An event is a history state labelled `:Change` (`dibx.graph.outbox`). For caller C, state S
and the state P it closed (`S -[:PREVIOUS]-> P`, none on creation):

    P hidden from C, S visible  -> CREATED  every field, its value where released, its marking
    P visible, S hidden         -> RETIRED  no values (a retired state is hidden from everyone)
    both visible                -> UPDATED  the changed fields C may know of (below), or no
                                            event when there are none and the record's
                                            marking is unchanged
    both hidden                 -> no event

"Visible" is `dibx.graph.release.visible` applied to the state, which mirrors its record's
properties; an edge's state is visible only where both its ends are, each as it stood just
before (for P) or at (for S) the state's time, read from the end's own states like `asOf`
does (an end with no states is the record itself). A field of an UPDATED event is listed
when it changed and its value was or is released to C, or when its marking changed (markings
of a visible record's fields are shown, as `history` and `fieldMarkings` show them); its new
value only where released. A change withheld from C on both sides under the same marking is
not listed, and an event with nothing listed is not returned at all.

The whole decision runs inside Cypher, and the page stops after `limit` events C may see,
however many others it passes: the rows returned depend only on what C may see. Identifiers
come from `dibx.graph.model` and the constants of `dibx.graph.stewardship`; values only as
parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dibx.auth.release import CUI_REL, ReleaseScope
from dibx.graph import fanout
from dibx.graph.driver import Graph, compiled
from dibx.graph.model import Model
from dibx.graph.outbox import CHANGE, SEQUENCE
from dibx.graph.release import clauses_by_key, marking_by_key, met
from dibx.graph.stewardship import (
    PREVIOUS,
    RETIRED,
    STATE_FROM,
    STATE_OF,
    STATE_TO,
    STEWARDED_EDGES,
    STEWARDED_NODES,
    state_label,
)

CREATED, UPDATED, RETIRED_KIND = "CREATED", "UPDATED", "RETIRED"
# Edge types whose changes are events besides the stewarded ones: memberships, written by
# reference (re)loads (`dibx.graph.writes`).
REFERENCE_EDGES = ("MEMBER_OF",)
# Seconds the start-up planning of the page query may take (`FeedReader.warm`).
WARM_TIMEOUT_S = 300.0


def feed_types(model: Model) -> tuple[str, ...]:
    """Every type whose changes the feed carries: record types, then edge types."""
    nodes = tuple(n for n in STEWARDED_NODES if n in model.nodes)
    edges = tuple(e for e in (*STEWARDED_EDGES, *REFERENCE_EDGES) if e in model.edges)
    return nodes + edges


def _vis(var: str, type_expr: str, groups: str = "$groups") -> str:
    """The state `var` exists, is not a retirement, and is released to the caller (or to
    the group list expression `groups`); the type is a Cypher expression (its name, for the
    policy default)."""
    clauses = clauses_by_key(var, "'release'", type_expr)
    return (
        f"({var} IS NOT NULL AND coalesce({var}.kind, '') <> '{RETIRED}' "
        f"AND coalesce({met(clauses, groups)}, false))"
    )


def portions(model: Model) -> dict[str, list[dict[str, str]]]:
    """Per type, each field as the feed lists it: `name` in events, `prop` on a state (and in
    its `changed` list), `release` / `marking` properties and the policy `default` key.
    Owned edges (a supplier's BASED_IN) are listed under their role (`nation`)."""
    out: dict[str, list[dict[str, str]]] = {}
    for owner in feed_types(model):
        entries = [
            {
                "name": f.name,
                "prop": f.name,
                "release": f"release_{f.name}",
                "marking": f"marking_{f.name}",
                "default": f"{owner}_{f.name}",
            }
            for f in model.fields_of(owner)
        ]
        if owner in model.nodes:
            for role, relation in model.nodes[owner].relations.items():
                if relation.direction == "out" and not relation.many:
                    rel = relation.rel
                    entries.append(
                        {
                            "name": role,
                            "prop": rel,
                            "release": f"release_{rel}",
                            "marking": f"marking_{rel}",
                            "default": rel,
                        }
                    )
        out[owner] = entries
    return out


def _end_state(rec: str, *, before: bool) -> str:
    """Cypher: the end record `rec` as it stood just before (`before`) or at the time of the
    event state `s`, picked from its states `<rec>_states`: the one in force then, or the
    record itself if it never had states (seeded and never written, or a type without
    history)."""
    held = (
        "x.validFrom < s.validFrom AND (x.validTo IS NULL OR x.validTo >= s.validFrom)"
        if before
        else "x.validFrom <= s.validFrom AND (x.validTo IS NULL OR x.validTo > s.validFrom)"
    )
    return (
        f"CASE WHEN size({rec}_states) = 0 THEN {rec} "
        f"ELSE head([x IN {rec}_states WHERE {held}]) END"
    )


def _seen(state: str, when: str) -> str:
    """The event's state (or its previous) is visible; an edge's only with both ends."""
    return (
        f"({_vis(state, 't')} AND ($ends[t] IS NULL OR "
        f"({_vis(f'ea_{when}', '$ends[t][0]')} AND {_vis(f'eb_{when}', '$ends[t][1]')})))"
    )


def _entry(q: str, var: str = "s") -> str:
    rel_s = f"coalesce({met(clauses_by_key(var, f'{q}.release', f'{q}.default'))}, false)"
    return (
        f"{{field: {q}.name, value: CASE WHEN {rel_s} THEN [{var}[{q}.prop]] END, "
        f"marking: {marking_by_key(var, f'{q}.marking', f'{q}.default')}}}"
    )


def _listed(q: str) -> str:
    """An UPDATED event lists a field that changed and was or is released to the caller, or
    whose marking changed."""
    rel_s = f"coalesce({met(clauses_by_key('s', f'{q}.release', f'{q}.default'))}, false)"
    rel_p = f"coalesce({met(clauses_by_key('p', f'{q}.release', f'{q}.default'))}, false)"
    mark_s = marking_by_key("s", f"{q}.marking", f"{q}.default")
    mark_p = marking_by_key("p", f"{q}.marking", f"{q}.default")
    return (
        f"(({q}.prop IN coalesce(s.changed, []) AND ({rel_p} OR {rel_s})) "
        f"OR coalesce({mark_p} <> {mark_s}, false))"
    )


def _own_event() -> str:
    """The CALL branch for the event's own record or edge (ordinal 0), as the module says."""
    mark_s = marking_by_key("s", "'marking'", "t")
    mark_p = marking_by_key("p", "'marking'", "t")
    return (
        "WITH s, label WHERE label IS NOT NULL "
        "WITH s, $owners[label] AS t "
        f"OPTIONAL MATCH (s)-[:{PREVIOUS}]->(p) "
        f"OPTIONAL MATCH (s)-[:{STATE_FROM}]->(ea) OPTIONAL MATCH (s)-[:{STATE_TO}]->(eb) "
        f"WITH s, t, p, ea, eb, COLLECT {{ MATCH (ea)<-[:{STATE_OF}]-(x) RETURN x }} AS ea_states, "
        f"COLLECT {{ MATCH (eb)<-[:{STATE_OF}]-(x) RETURN x }} AS eb_states "
        f"WITH s, t, p, {_end_state('ea', before=True)} AS ea_b, "
        f"{_end_state('ea', before=False)} AS ea_a, "
        f"{_end_state('eb', before=True)} AS eb_b, {_end_state('eb', before=False)} AS eb_a "
        f"WITH s, t, p, {_seen('p', 'b')} AS before, {_seen('s', 'a')} AS after "
        "WHERE before OR after "
        "WITH s, t, CASE WHEN after AND NOT before "
        f"THEN {{kind: '{CREATED}', marking: {mark_s}, "
        f"fields: [q IN $portions[t] | {_entry('q')}]}} "
        f"WHEN before AND NOT after THEN {{kind: '{RETIRED_KIND}', marking: null, fields: []}} "
        f"ELSE CASE WHEN coalesce({mark_p} <> {mark_s}, false) "
        f"OR any(q IN $portions[t] WHERE {_listed('q')}) "
        f"THEN {{kind: '{UPDATED}', marking: {mark_s}, "
        f"fields: [q IN $portions[t] WHERE {_listed('q')} | {_entry('q')}]}} END END AS ev "
        "RETURN 0 AS o, t, ev, "
        "CASE WHEN $ends[t] IS NULL THEN s[$keys[t]] END AS k1, "
        "CASE WHEN $ends[t] IS NULL THEN null ELSE s.from END AS st, "
        "CASE WHEN $ends[t] IS NULL THEN null ELSE s.to END AS en"
    )


def _fanout(model: Model) -> str:
    """The CALL branch for a membership transition of the caller's nation: ordinals 1..n
    (`dibx.graph.fanout`). Before: hidden without the agreement; after: visible with it
    (joined: the caller's groups now, so nothing is released beyond them)."""
    x_vis = "{vis_x} AND ($ends[t] IS NULL OR ({vis_a} AND {vis_b}))"
    mark_x = marking_by_key("x", "'marking'", "t")

    def seen(groups: str) -> str:
        return x_vis.format(
            vis_x=_vis("x", "t", groups),
            vis_a=_vis("xa", "$ends[t][0]", groups),
            vis_b=_vis("xb", "$ends[t][1]", groups),
        )

    return (
        f"WITH s WHERE s:{fanout.MEMBERSHIP_STATE} AND s.from = $nation "
        f"OPTIONAL MATCH (s)-[:{PREVIOUS}]->(p) "
        f"WITH s, {fanout.in_effect('p')} AS was, {fanout.in_effect('s')} AS now "
        "WHERE was <> now "
        "WITH s, now AS joined, s.validFrom AS tau, s.to AS a "
        "WITH s, joined, tau, a, [a] + CASE WHEN a IN $cui THEN [$cui_rel] ELSE [] END AS ment, "
        "[g IN $groups WHERE g <> a AND g <> $cui_rel] AS base "
        "WITH s, joined, tau, ment, "
        "base + CASE WHEN any(g IN base WHERE g IN $cui) THEN [$cui_rel] ELSE [] END AS gm, "
        "base + [a] + CASE WHEN a IN $cui OR any(g IN base WHERE g IN $cui) "
        "THEN [$cui_rel] ELSE [] END AS gp "
        + fanout.items_query(model, feed_types(model))
        + "WITH s, joined, gm, gp, t, x, xa, xb, k1, k2 ORDER BY rank, k1, k2, k3 "
        "WITH s, joined, gm, gp, collect({t: t, x: x, xa: xa, xb: xb, k1: k1, k2: k2}) AS items "
        "UNWIND range(1, size(items)) AS o "
        "WITH s, joined, gm, gp, o, items[o - 1] AS it WHERE s.seq > $at OR o >= $at_o "
        "WITH s, joined, gm, gp, o, it.t AS t, it.x AS x, it.xa AS xa, it.xb AS xb, "
        "it.k1 AS k1, it.k2 AS k2 WHERE t IN $types "
        f"AND NOT ({seen('gm')}) "
        f"AND CASE WHEN joined THEN {seen('$groups')} ELSE {seen('gp')} END "
        "RETURN o, t, CASE WHEN joined "
        f"THEN {{kind: '{CREATED}', marking: {mark_x}, "
        f"fields: [q IN $portions[t] | {_entry('q', 'x')}]}} "
        f"ELSE {{kind: '{RETIRED_KIND}', marking: null, fields: []}} END AS ev, "
        "CASE WHEN $ends[t] IS NULL THEN k1 END AS k1, "
        "CASE WHEN $ends[t] IS NULL THEN null ELSE k1 END AS st, "
        "CASE WHEN $ends[t] IS NULL THEN null ELSE k2 END AS en"
    )


def feed_query(model: Model) -> str:
    """The page query, one text for every type. Parameters: the scope's and `$nation`,
    `$cui`, `$cui_rel`; `($at, $at_o)` (the first position not yet read: a seq and an
    ordinal in it), `$limit`, `$labels` (state labels of the types asked for) and `$types`
    (their names), `$kinds` (null: all), `$ids` (`Type:key`; null: all); from the model:
    `$owners` (state label -> type), `$ends` (edge type -> [start type, end type]), `$keys`
    (record type -> key property), `$portions`."""
    return (
        f"CALL () {{ OPTIONAL MATCH (q:{SEQUENCE} {{id: 1}}) RETURN coalesce(q.next, 0) AS top }} "
        "RETURN top, COLLECT { "
        f"MATCH (s:{CHANGE}) WHERE s.seq >= $at AND s.seq <= top "
        "WITH s, head([l IN labels(s) WHERE l IN $labels]) AS label "
        f"WHERE label IS NOT NULL OR (s:{fanout.MEMBERSHIP_STATE} AND s.from = $nation) "
        "WITH s, label ORDER BY s.seq "
        f"CALL (s, label) {{ {_own_event()} UNION ALL {_fanout(model)} }} "
        "WITH s, o, t, ev, k1, st, en "
        "WHERE ev IS NOT NULL AND (s.seq > $at OR o >= $at_o) "
        "AND ($kinds IS NULL OR ev.kind IN $kinds) "
        "WITH s, o, t, ev, k1, st, en, CASE WHEN $ends[t] IS NULL THEN [t + ':' + k1] "
        "ELSE [$ends[t][0] + ':' + st, $ends[t][1] + ':' + en] END AS refs "
        "WHERE $ids IS NULL OR any(r IN refs WHERE r IN $ids) "
        "RETURN ev {.*, type: t, key: k1, start: st, end: en, seq: s.seq, ordinal: o, "
        "at: s.committedAt} ORDER BY s.seq, o LIMIT $limit "
        "} AS events"
    )


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Events at or after a position (each a map: seq, ordinal, at, kind, type, key |
    start/end, marking, fields), and `top`, the highest seq committed when the page was
    read: every event up to it was considered."""

    events: list[dict[str, Any]]
    top: int


class FeedReader:
    """Reads pages of the feed for one model; the query text is built once."""

    def __init__(self, graph: Graph, model: Model) -> None:
        self.graph = graph
        self.model = model
        self.types = feed_types(model)
        self._query = compiled(feed_query(model))
        self._model_params: dict[str, Any] = {
            "owners": {state_label(t): t for t in self.types},
            "ends": {
                e: [model.edges[e].start, model.edges[e].end]
                for e in self.types
                if e in model.edges
            },
            "keys": {n: model.nodes[n].key for n in self.types if n in model.nodes},
            "portions": portions(model),
        }

    async def warm(self) -> None:
        """Run the page query once on no events, so Neo4j plans it before a caller waits
        (planning this query takes seconds on a busy server)."""
        await self.graph.read(
            self._query,
            {
                "groups": [],
                "dr": {},
                "dm": {},
                **_membership_params(None),
                **self._model_params,
                "at": 2**62,
                "at_o": 0,
                "limit": 1,
                "labels": [],
                "types": [],
                "kinds": None,
                "ids": None,
            },
            tx_timeout=WARM_TIMEOUT_S,
        )

    async def page(
        self,
        scope: ReleaseScope,
        *,
        at: tuple[int, int],
        limit: int,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
    ) -> FeedPage:
        """Events from the position `at` (a seq and an ordinal in it: the first not yet
        read) on, at most `limit`."""
        chosen = self.types if types is None else [t for t in self.types if t in types]
        row = await self.graph.read_one(
            self._query,
            {
                **scope.cypher_params(),
                **_membership_params(scope),
                **self._model_params,
                "at": at[0],
                "at_o": at[1],
                "limit": limit,
                "labels": [state_label(t) for t in chosen],
                "types": list(chosen),
                "kinds": None if kinds is None else list(kinds),
                "ids": None if ids is None else list(ids),
            },
        )
        if row is None:
            return FeedPage([], 0)
        events = []
        for ev in row["events"]:
            e = dict(ev)
            at_ = e.get("at")
            if at_ is not None and hasattr(at_, "to_native"):
                e["at"] = at_.to_native()
            events.append(e)
        return FeedPage(events, int(row["top"]))


def _membership_params(scope: ReleaseScope | None) -> dict[str, Any]:
    """What the fan-out needs of the caller: its nation and the policy's CUI release groups."""
    return {
        "nation": None if scope is None else scope.nation,
        "cui": [] if scope is None else sorted(scope.cui_release_groups),
        "cui_rel": CUI_REL,
    }


__all__ = ["CREATED", "RETIRED_KIND", "UPDATED", "FeedPage", "FeedReader", "feed_types"]
