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

A MEMBER_OF event of C's own nation that starts or ends the membership is followed, inside
its `seq`, by a CREATED / RETIRED for each record and edge it shows or hides
(`dibx.graph.fanout`): the page query marks it (`FANOUT`, never shown) and the reader reads
the fan-out with one query per type (`fanout_query`), positions being (seq, ordinal).

The whole decision runs inside Cypher, and the page stops after `limit` events C may see,
however many others it passes: the rows returned depend only on what C may see. Identifiers
come from `dibx.graph.model` and the constants of `dibx.graph.stewardship`; values only as
parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from dibx.auth.release import CUI_REL, ReleaseScope
from dibx.graph import fanout
from dibx.graph.driver import Graph, compiled
from dibx.graph.fanout import STRIDE
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


FANOUT = "FANOUT"  # the page query's marker: a fan-out follows at this seq (never shown)


def _transition() -> str:
    """Clauses keeping the event `s` only if it is a membership of the caller's nation that
    starts or ends (`dibx.graph.fanout`)."""
    return (
        f"WITH s WHERE s:{fanout.MEMBERSHIP_STATE} AND s.from = $nation "
        f"OPTIONAL MATCH (s)-[:{PREVIOUS}]->(p) "
        f"WITH s, {fanout.in_effect('p', 's')} AS was, {fanout.in_effect('s')} AS now "
        "WHERE was <> now "
    )


def _marker() -> str:
    """The CALL branch marking a fan-out at `s` (ordinal 1, where it starts): the reader
    then reads it with `fanout_query`."""
    return (
        _transition() + f"RETURN 1 AS o, null AS t, {{kind: '{FANOUT}'}} AS ev, "
        "null AS k1, null AS st, null AS en"
    )


def fanout_query(model: Model, name: str) -> str:
    """The fan-out of the membership event `$seq` for the caller in the feed type `name`,
    from the `$from`-th (1-based) of its list on, at most `$limit` events, each with its
    index `i` (`dibx.graph.fanout`). Before: hidden without the agreement; after: visible
    with it (joined: under the caller's groups now, so nothing is released beyond them).
    Parameters as `feed_query`'s, and `$seq`, `$from`."""
    ends = model.edges.get(name)
    end_types = "null" if ends is None else f"['{ends.start}', '{ends.end}']"
    mark_x = marking_by_key("x", "'marking'", "t")

    def seen(groups: str) -> str:
        vis_a, vis_b = _vis("xa", "ends[0]", groups), _vis("xb", "ends[1]", groups)
        return f"{_vis('x', 't', groups)} AND (ends IS NULL OR ({vis_a} AND {vis_b}))"

    return (
        f"MATCH (s:{CHANGE} {{seq: $seq}}) "
        + _transition()
        + "WITH s, now AS joined, s.validFrom AS tau, s.to AS a "
        "WITH s, joined, tau, a, [a] + CASE WHEN a IN $cui THEN [$cui_rel] ELSE [] END AS ment, "
        "[g IN $groups WHERE g <> a AND g <> $cui_rel] AS base "
        "WITH s, joined, tau, ment, "
        "base + CASE WHEN any(g IN base WHERE g IN $cui) THEN [$cui_rel] ELSE [] END AS gm, "
        "base + [a] + CASE WHEN a IN $cui OR any(g IN base WHERE g IN $cui) "
        "THEN [$cui_rel] ELSE [] END AS gp "
        + fanout.items_query(model, name)
        + "WITH s, joined, gm, gp, x, xa, xb, k1, k2 ORDER BY k1, k2, k3 "
        "WITH s, joined, gm, gp, collect({x: x, xa: xa, xb: xb, k1: k1, k2: k2}) AS items "
        "UNWIND range($from, size(items)) AS i "
        f"WITH s, joined, gm, gp, i, items[i - 1] AS it, '{name}' AS t, {end_types} AS ends "
        "WITH s, joined, gm, gp, i, t, ends, it.x AS x, it.xa AS xa, it.xb AS xb, "
        "it.k1 AS k1, it.k2 AS k2 "
        f"WHERE NOT ({seen('gm')}) "
        f"AND CASE WHEN joined THEN {seen('$groups')} ELSE {seen('gp')} END "
        "WITH s, i, t, ends, k1, k2, CASE WHEN joined "
        f"THEN {{kind: '{CREATED}', marking: {mark_x}, "
        f"fields: [q IN $portions[t] | {_entry('q', 'x')}]}} "
        f"ELSE {{kind: '{RETIRED_KIND}', marking: null, fields: []}} END AS ev "
        "WHERE ($allKinds OR ev.kind IN $kinds) "
        "AND ($allIds OR any(r IN CASE WHEN ends IS NULL THEN [t + ':' + k1] "
        "ELSE [ends[0] + ':' + k1, ends[1] + ':' + k2] END WHERE r IN $ids)) "
        "RETURN ev {.*, type: t, key: CASE WHEN ends IS NULL THEN k1 END, "
        "start: CASE WHEN ends IS NULL THEN null ELSE k1 END, "
        "end: CASE WHEN ends IS NULL THEN null ELSE k2 END, "
        "seq: s.seq, i: i, at: s.committedAt} AS ev ORDER BY i LIMIT $limit"
    )


def feed_query() -> str:
    """The page query, one text for every type. Parameters: the scope's and `$nation`;
    `($at, $at_o)` (the first position not yet read: a seq and an ordinal in it), `$limit`,
    `$labels` (state labels of the types asked for), `$kinds` (unless `$allKinds`), `$ids`
    (`Type:key`, unless `$allIds`); from the model: `$owners` (state label -> type), `$ends` (edge
    type -> [start type, end type]), `$keys` (record type -> key property), `$portions`.
    A membership of the caller's nation that starts or ends gives, after its own event, a
    `FANOUT` marker (ordinal 1): the reader stops there and reads the fan-out."""
    return (
        f"CALL () {{ OPTIONAL MATCH (q:{SEQUENCE} {{id: 1}}) "
        "RETURN coalesce(q.next, 0) AS next, coalesce(q.compacted, 0) AS floor } "
        "WITH next, CASE WHEN floor >= $at THEN floor ELSE $at - 1 END AS start "
        f"WITH next, start, COUNT {{ MATCH (x:{CHANGE}) WHERE x.seq > start AND x.seq <= next }} "
        "AS present "
        "WITH start, CASE WHEN present = next - start THEN next ELSE reduce(acc = start, n IN "
        f"COLLECT {{ MATCH (x:{CHANGE}) WHERE x.seq > start AND x.seq <= next "
        "RETURN x.seq AS n ORDER BY n } | CASE WHEN n = acc + 1 THEN n ELSE acc END) END AS top "
        "RETURN top, COLLECT { "
        f"MATCH (s:{CHANGE}) WHERE s.seq > start AND s.seq <= top "
        "WITH s, head([l IN labels(s) WHERE l IN $labels]) AS label "
        f"WHERE label IS NOT NULL OR (s:{fanout.MEMBERSHIP_STATE} AND s.from = $nation) "
        "WITH s, label ORDER BY s.seq "
        f"CALL (s, label) {{ {_own_event()} UNION ALL {_marker()} }} "
        "WITH s, o, t, ev, k1, st, en "
        f"WHERE ev.kind = '{FANOUT}' OR (ev IS NOT NULL AND (s.seq > $at OR o >= $at_o) "
        "AND ($allKinds OR ev.kind IN $kinds) "
        "AND ($allIds OR any(r IN CASE WHEN $ends[t] IS NULL THEN [t + ':' + k1] "
        "ELSE [$ends[t][0] + ':' + st, $ends[t][1] + ':' + en] END WHERE r IN $ids))) "
        "RETURN ev {.*, type: t, key: k1, start: st, end: en, seq: s.seq, ordinal: o, "
        "at: s.committedAt} ORDER BY s.seq, o LIMIT $limit "
        "} AS events"
    )


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Events at or after a position (each a map: seq, ordinal, at, kind, type, key |
    start/end, marking, fields), and `top`: every event up to it was considered. `top` is
    the end of the run of consecutive numbers from the position (above the compaction floor
    when that is higher): numbers are handed out without gaps, and a committed transaction's
    counter can be read a moment before the index entries of its events are, so a gap is an
    event still being applied and the page stops before it (resuming after `top` then loses
    nothing)."""

    events: list[dict[str, Any]]
    top: int


class FeedReader:
    """Reads pages of the feed for one model; the query texts are built once."""

    def __init__(self, graph: Graph, model: Model) -> None:
        self.graph = graph
        self.model = model
        self.types = feed_types(model)
        self._query = compiled(feed_query())
        # One fan-out query per type: each plans fast, and a page reads one list at a time.
        self._fanout = {t: compiled(fanout_query(model, t)) for t in self.types}
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
        """Run the page and fan-out queries once on no events, so Neo4j plans them before a
        caller waits (planning them takes seconds on a busy server). The parameters have the
        types a caller's have: Neo4j plans again for other types."""
        params = {
            "groups": ["-"],
            "dr": {},
            "dm": {},
            "nation": "-",
            "cui": ["-"],
            "cui_rel": CUI_REL,
            **self._model_params,
            "limit": 1,
            "labels": ["-"],
            "types": ["-"],
            **_filter_params(None, None),
        }
        await self.graph.read(
            self._query, {**params, "at": 2**62, "at_o": 0}, tx_timeout=WARM_TIMEOUT_S
        )
        for query in self._fanout.values():
            await self.graph.read(
                query, {**params, "seq": -1, "from": 1}, tx_timeout=WARM_TIMEOUT_S
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
        read) on, at most `limit`. One round trip, and one more per fan-out of a membership
        of the caller's nation that the page reaches (`dibx.graph.fanout`)."""
        chosen = self.types if types is None else [t for t in self.types if t in types]
        params = {
            **scope.cypher_params(),
            **_membership_params(scope),
            **self._model_params,
            "labels": strings(state_label(t) for t in chosen),
            "types": strings(chosen),
            **_filter_params(kinds, ids),
        }
        events: list[dict[str, Any]] = []
        top = 0
        while len(events) < limit:
            row = await self.graph.read_one(
                self._query, {**params, "at": at[0], "at_o": at[1], "limit": limit - len(events)}
            )
            if row is None:
                break
            top = int(row["top"])
            found = [dict(ev) for ev in row["events"]]
            marks = [i for i, ev in enumerate(found) if ev["kind"] == FANOUT]
            if not marks:
                events += found
                break
            events += found[: marks[0]]
            seq = int(found[marks[0]]["seq"])
            events += await self._fan_out(
                params, seq, at[1] if at[0] == seq else 0, limit - len(events)
            )
            at = (seq + 1, 0)
        for e in events:
            when = e.get("at")
            if when is not None and hasattr(when, "to_native"):
                e["at"] = when.to_native()
        return FeedPage(events, top)

    async def _fan_out(
        self, params: dict[str, Any], seq: int, start: int, limit: int
    ) -> list[dict[str, Any]]:
        """The fan-out at `seq` from ordinal `start` on, at most `limit` events, type by type
        in feed order (ordinals: `dibx.graph.fanout`)."""
        out: list[dict[str, Any]] = []
        for rank, name in enumerate(self.types):
            if len(out) >= limit:
                break
            if name not in params["types"] or (rank + 1) * STRIDE <= start:
                continue
            first = max(start - rank * STRIDE, 1)
            rows = await self.graph.read(
                self._fanout[name],
                {**params, "seq": seq, "from": first, "limit": limit - len(out)},
            )
            for r in rows:
                ev = dict(r["ev"])
                ev["ordinal"] = rank * STRIDE + int(ev.pop("i"))
                out.append(ev)
        return out


def _filter_params(kinds: Sequence[str] | None, ids: Sequence[str] | None) -> dict[str, Any]:
    """The kind and id filters, with the same parameter types whether a filter is given or
    not: Neo4j caches a plan per query text and parameter types, and the feed's query takes
    seconds to plan, so every read must find the plan `warm` made (a null or an empty list
    where a list of strings goes was a second plan, planned while a caller waited)."""
    return {
        "kinds": strings(kinds or ()),
        "allKinds": kinds is None,
        "ids": strings(ids or ()),
        "allIds": ids is None,
    }


def strings(values: Iterable[str]) -> list[str]:
    """A list parameter of strings that is never empty: an empty list is another parameter
    type for Neo4j (a list of nothing), hence another plan. `""` names no kind, key, label,
    type or group, so it matches nothing where the empty list matched nothing."""
    return list(values) or [""]


def _membership_params(scope: ReleaseScope | None) -> dict[str, Any]:
    """What the fan-out needs of the caller: its nation and the policy's CUI release groups."""
    return {
        "nation": None if scope is None else scope.nation,
        "cui": strings(() if scope is None else sorted(scope.cui_release_groups)),
        "cui_rel": CUI_REL,
    }


__all__ = ["CREATED", "RETIRED_KIND", "UPDATED", "FeedPage", "FeedReader", "feed_types"]
