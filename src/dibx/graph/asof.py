"""Cypher for reading the graph as it stood at a time `$<at>` (the `asOf` root reads).

Storage is described in docs/history.md. At time t:

* a stewarded record (`Supplier`, `Capability`, current or `Retired...`) is its state in
  force (`validFrom <= t < validTo`, not of kind `retired`); a record with no states at all
  (seeded, never written through the API) is the record itself at every time; a record whose
  states all start after t did not exist yet;
* a stewarded edge is its edge state in force (not `retired`), linked to its ends by
  `STATE_FROM` / `STATE_TO`; a live relationship without states is itself at every time;
* an owned edge (a supplier's `BASED_IN`) is read from the supplier's state (`BASED_IN`,
  `marking_BASED_IN`, `release_BASED_IN`) as a map with the edge's `marking` and `release`;
* records and edges of types without history (nations, agreements, memberships) are as now.

A state mirrors its record's property names, so the compiled projection and every predicate
of `dibx.graph.release` read it unchanged: nothing is released from a state that the same
check would not release from a record. Each fragment binds a *record* variable (for walking
on) and a *state* variable (for reading and checking); they are the same for types without
history. Labels and property names come from the model; the time is a parameter.
"""

from __future__ import annotations

from dibx.graph.model import Model, NodeType, Relation
from dibx.graph.release import visible
from dibx.graph.stewardship import (
    RETIRED,
    STATE_FROM,
    STATE_OF,
    STATE_TO,
    STEWARDED_EDGES,
    STEWARDED_NODES,
    retired_label,
    state_label,
)


def in_force(var: str, at: str) -> str:
    """Cypher predicate: the state `var` holds at `at`."""
    return f"{var}.validFrom <= {at} AND ({var}.validTo IS NULL OR {var}.validTo > {at})"


def has_history(node: NodeType) -> bool:
    return node.name in STEWARDED_NODES


def labels(node: NodeType) -> tuple[str, ...]:
    """The labels a record of `node` may carry at some time (retired ones were current)."""
    return (node.label, retired_label(node)) if has_history(node) else (node.label,)


def state_of(node: NodeType, rec: str, st: str, at: str) -> str:
    """Clauses binding `st` to the record `rec` as it stood at `at`; rows where it did not
    exist (not yet created, or retired) are dropped. Ends in a WHERE that a caller may extend
    with `AND ...`."""
    if not has_history(node):
        return f"WITH *, {rec} AS {st} WHERE true "
    x = f"{st}_x"
    # A COLLECT subquery, not an aggregation: the fragment may sit inside a projection.
    return (
        # Walk from the record (no label on the state): an index on validFrom would
        # otherwise tempt the planner into scanning every state for every record.
        f"WITH *, head(COLLECT {{ MATCH ({rec})<-[:{STATE_OF}]-({x}) "
        f"WHERE {in_force(x, at)} RETURN {x} }}) AS {x} "
        f"WITH *, CASE WHEN {x} IS NOT NULL THEN {x} "
        f"WHEN EXISTS {{ ({rec})<-[:{STATE_OF}]-() }} THEN null "
        f"WHEN {rec}:{node.label} THEN {rec} END AS {st} "
        f"WHERE {st} IS NOT NULL AND coalesce({st}.kind, '') <> '{RETIRED}' "
    )


def record_by_key(node: NodeType, rec: str, key: str) -> str:
    """A record, current or retired, by key (each label's key index answers)."""
    parts = [f"MATCH ({rec}:{lab} {{{node.key}: {key}}}) RETURN {rec}" for lab in labels(node)]
    return "CALL () { " + " UNION ".join(parts) + " } "


def all_records(node: NodeType, rec: str) -> str:
    parts = [f"MATCH ({rec}:{lab}) RETURN {rec}" for lab in labels(node)]
    return "CALL () { " + " UNION ".join(parts) + " } "


def relation(
    model: Model,
    owner: NodeType,
    rec: str,
    st: str,
    rel: Relation,
    edge: str,
    other_rec: str,
    other_st: str,
    at: str,
) -> str:
    """Clauses binding `edge` (a relationship, an edge state or a map) and the far record
    (`other_rec`, `other_st`) of `rel` from the record `rec` (state `st`) at `at`, keeping
    only those visible to the caller (edge and far record)."""
    target = model.nodes[rel.target]
    e_type = rel.edge
    out = rel.direction == "out"
    owned_by_owner = e_type in model.owned(owner.name) and out and has_history(owner)
    owned_by_target = not out and e_type in model.owned(target.name) and has_history(target)
    r = e_type.rel
    if owned_by_owner:
        # The supplier's state carries where it was based; a stateless record, its edge.
        end_key = target.key
        body = (
            f"MATCH ({rec})-[{edge}:{r}]->({other_rec}:{target.label}) WHERE {st} = {rec} "
            f"RETURN {edge}, {other_rec} UNION "
            f"MATCH ({other_rec}:{target.label} {{{end_key}: {st}.{r}}}) WHERE {st} <> {rec} "
            f"RETURN {{marking: {st}.marking_{r}, release: {st}.release_{r}}} AS {edge}, "
            f"{other_rec}"
        )
    elif owned_by_target:
        label = state_label(target.name)
        x = f"{edge}_x"
        body = (
            f"MATCH ({rec})<-[{edge}:{r}]-({other_rec}:{target.label}) "
            f"WHERE NOT EXISTS {{ ({other_rec})<-[:{STATE_OF}]-() }} "
            f"RETURN {edge}, {other_rec} UNION "
            f"MATCH ({x}:{label} {{{r}: {rec}.{owner.key}}})-[:{STATE_OF}]->({other_rec}) "
            f"WHERE {in_force(x, at)} "
            f"RETURN {{marking: {x}.marking_{r}, release: {x}.release_{r}}} AS {edge}, {other_rec}"
        )
    elif r in STEWARDED_EDGES:
        label = state_label(r)
        near, far = (STATE_FROM, STATE_TO) if out else (STATE_TO, STATE_FROM)
        arrow = f"-[{edge}:{r}]->" if out else f"<-[{edge}:{r}]-"
        body = (
            f"MATCH ({rec}){arrow}({other_rec}:{target.label}) "
            f"WHERE NOT EXISTS {{ MATCH ({rec})<-[:{near}]-(:{label} {{uid: {edge}.uid}}) }} "
            f"RETURN {edge}, {other_rec} UNION "
            f"MATCH ({rec})<-[:{near}]-({edge}:{label})-[:{far}]->({other_rec}) "
            f"WHERE {in_force(edge, at)} AND {edge}.kind <> '{RETIRED}' "
            f"RETURN {edge}, {other_rec}"
        )
    else:
        arrow = f"-[{edge}:{r}]->" if out else f"<-[{edge}:{r}]-"
        body = f"MATCH ({rec}){arrow}({other_rec}:{target.label}) RETURN {edge}, {other_rec}"
    return (
        f"CALL ({rec}, {st}) {{ {body} }} "
        + state_of(target, other_rec, other_st, at)
        + f"AND {visible(edge, e_type.rel)} AND {visible(other_st, target.name)} "
    )
