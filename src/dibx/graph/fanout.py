"""The change feed's membership fan-out: what a membership starting or ending shows its nation.

A MEMBER_OF event (`s`, nation X, agreement A; `p` the state it closed) is a *transition*
when the membership is in effect on one side and not on the other. "In effect" is the raw
membership (as a caller's groups are derived, `dibx.services.memberships`), judged on the
date of the state's own commit: not retired, `since <= date(validFrom)` and `until` null
or after it (a baseline, dated the epoch, on the date of the state that closed it). A
membership loaded with a future `since` is no transition when committed; the membership
clock (`dibx.graph.membership_clock`) writes the state that makes it one when the date
comes.

For a caller of nation X, a transition is followed, inside the same `seq`, by one event per
record or edge whose visibility to the caller differs with and without A:

    joined  CREATED  visible under the caller's groups now, hidden without A (and without
                     the policy's CUI release determination where A alone grants it)
    left    RETIRED  visible with A, hidden without it (ids only, no values or markings)

Each is the record or edge as it stood when the membership event was written (its state in
force then, as `asOf` reads it; an edge only with both ends), with its fields released
exactly as a CREATED event would release them. Callers of other nations see the MEMBER_OF
event only, as before.

Positions inside a `seq` are ordinals in lists that depend on the data only, never on a
caller: per type, every record or edge in force at the event whose record-level release (or
an end's) names A, or `@CUI_REL` when A grants it, ordered by keys. Ordinal 0 is the event
itself; the i-th (from 1) of the type of rank r (its place in `feed_types`) is
`r * STRIDE + i`. A cursor can therefore stop inside a fan-out and resume there whatever else
the caller's groups did meanwhile, and a page reads one type's list at a time.

Identifiers come from `dibx.graph.model`; values only as parameters (`$nation`, `$cui`,
`$cui_rel`, `$at`, `$at_o`, and the feed query's own).
"""

from __future__ import annotations

from dibx.graph.asof import in_force, state_of
from dibx.graph.model import EdgeType, Model, NodeType
from dibx.graph.release import clauses_by_key, names_any
from dibx.graph.stewardship import (
    BASELINE,
    RETIRED,
    STATE_FROM,
    STATE_OF,
    STATE_TO,
    STEWARDED_EDGES,
    state_label,
)

MEMBERSHIP = "MEMBER_OF"
STRIDE = 2**40  # ordinals per type inside one fan-out
MEMBERSHIP_STATE = state_label(MEMBERSHIP)


def in_effect(var: str, successor: str | None = None) -> str:
    """Cypher: the membership state `var` is in effect on the date it was written. A
    baseline (a copy of a membership that had no history, dated the epoch) stands for the
    raw edge as it held until its `successor` state: it is judged on that state's date."""
    on = f"date({var}.validFrom)"
    if successor is not None:
        on = f"CASE WHEN {var}.kind = '{BASELINE}' THEN date({successor}.validFrom) ELSE {on} END"
    return (
        f"coalesce({var} IS NOT NULL AND coalesce({var}.kind, '') <> '{RETIRED}' "
        f"AND {var}.since <= {on} AND ({var}.until IS NULL OR {var}.until > {on}), false)"
    )


def _mentions(var: str, type_name: str) -> str:
    """The record-level release of `var` (null: none) names one of `ment`."""
    clauses = clauses_by_key(var, "'release'", f"'{type_name}'")
    return f"({var} IS NOT NULL AND {names_any(clauses, 'ment')})"


def _node_items(node: NodeType) -> str:
    label, st = node.label, state_label(node.name)
    live = (
        f"{in_force('x', 'tau')} AND coalesce(x.kind, '') <> '{RETIRED}' "
        f"AND {_mentions('x', node.name)}"
    )
    tail = f"RETURN x.{node.key} AS k1, '' AS k2, '' AS k3, x, null AS xa, null AS xb"
    return (
        f"MATCH (x:{st}) WHERE {live} {tail} UNION ALL "
        f"MATCH (x:{label}) WHERE NOT EXISTS {{ (x)<-[:{STATE_OF}]-() }} "
        f"AND {_mentions('x', node.name)} {tail}"
    )


def _edge_items(model: Model, edge: EdgeType) -> str:
    start, end = model.nodes[edge.start], model.nodes[edge.end]
    st = state_label(edge.rel)
    if edge.rel in STEWARDED_EDGES:
        stateless = f"NOT EXISTS {{ MATCH (ea)<-[:{STATE_FROM}]-(:{st} {{uid: x.uid}}) }}"
    else:
        same = " AND ".join(f"y.{k} = x.{k}" for k in edge.key_fields) or "true"
        stateless = (
            f"NOT EXISTS {{ MATCH (ea)<-[:{STATE_FROM}]-(y:{st})-[:{STATE_TO}]->(eb) "
            f"WHERE {same} }}"
        )
    tiebreak = "coalesce(x.originNation, '') + '|' + coalesce(toString(x.since), '')"
    return (
        "CALL (s, tau) { "
        f"MATCH (ea)<-[:{STATE_FROM}]-(x:{st})-[:{STATE_TO}]->(eb) "
        f"WHERE {in_force('x', 'tau')} AND coalesce(x.kind, '') <> '{RETIRED}' AND x <> s "
        "RETURN x, ea, eb UNION ALL "
        f"MATCH (ea:{start.label})-[x:{edge.rel}]->(eb:{end.label}) WHERE {stateless} "
        "RETURN x, ea, eb } "
        + state_of(start, "ea", "xa", "tau")
        + state_of(end, "eb", "xb", "tau")
        + f"AND ({_mentions('x', edge.rel)} OR {_mentions('xa', start.name)} "
        f"OR {_mentions('xb', end.name)}) "
        f"RETURN ea.{start.key} AS k1, eb.{end.key} AS k2, {tiebreak} AS k3, x, xa, xb"
    )


def items_query(model: Model, name: str) -> str:
    """Cypher (importing `s`, `tau`, `ment`): every record or edge of the feed type `name`
    in force at `tau` whose release, or an end's, names one of `ment`; one row each with its
    sort keys `k1`, `k2`, `k3`, state `x` and end states `xa` / `xb` (null for records)."""
    if name in model.nodes:
        body = _node_items(model.nodes[name])
    else:
        body = _edge_items(model, model.edges[name])
    return f"CALL (s, tau, ment) {{ {body} }} "


__all__ = ["MEMBERSHIP", "MEMBERSHIP_STATE", "STRIDE", "in_effect", "items_query"]
