"""Marking review in the graph: the marked portions a nation originated, with who marked them.

A portion is a record's own marking (`field` null) or one of its fields' markings, on a
stewarded record (`Supplier`, `Capability`) or edge (PROVIDES, SOURCES_FROM, SUBSIDIARY_OF,
REQUIRES). Each carries the marking metadata stewarded writes store (docs/history.md):
`markedByNation[_<f>]`, `markedByOrg[_<f>]`, `markedBySubject[_<f>]`, `markingReason[_<f>]`,
`markedAt[_<f>]`, `reviewBy[_<f>]`; seeded data has none (its designator is its derived
originator). Only records and edges the caller may see are read, and only those its nation
originated: whether the portions need review is decided by the service.
"""

from __future__ import annotations

from typing import Any

from dibx.auth.release import ReleaseScope
from dibx.graph import tallies
from dibx.graph.driver import Graph, compiled
from dibx.graph.model import EdgeType, Model, NodeType
from dibx.graph.outbox import PENDING
from dibx.graph.release import marking_in_force, visible
from dibx.graph.stewardship import (
    BASELINE,
    PREVIOUS,
    STATE_OF,
    STEWARDED_EDGES,
    STEWARDED_NODES,
    _origin,
    _owned_to_state,
    marked,
    state_label,
)

META = (
    "markedByNation",
    "markedByOrg",
    "markedBySubject",
    "markingReason",
    "markedAt",
    "reviewBy",
    # When the marking was last reviewed (reaffirmed, changed in review, or decided through a
    # challenge): a designation newer than its review has not been reviewed.
    "reviewedAt",
)


def _portion(var: str, owner: str, field: str | None) -> str:
    entries = [f"field: {'null' if field is None else repr(field)}"]
    entries.append(f"marking: {marking_in_force(var, owner, field)}")
    entries += [f"`{m}`: {var}.`{marked(field, m)}`" for m in META]
    return "{" + ", ".join(entries) + "}"


def _portions(var: str, owner: str, names: tuple[str, ...]) -> str:
    return "[" + ", ".join(_portion(var, owner, f) for f in (None, *names)) + "]"


def _node_query(model: Model, node: NodeType) -> str:
    origin = _origin(model, node, "n")
    return (
        f"MATCH (n:{node.label}) WHERE {visible('n', node.name)} AND {origin} = $nation "
        f"RETURN '{node.name}' AS type, n.{node.key} AS key, null AS start, null AS end, "
        f"coalesce(n.version, 1) AS version, {origin} AS origin, "
        f"{_portions('n', node.name, node.names)} AS portions"
    )


def _edge_query(model: Model, edge: EdgeType) -> str:
    start, end = model.nodes[edge.start], model.nodes[edge.end]
    origin = f"coalesce(r.originNation, {_origin(model, start, 'a')})"
    return (
        f"MATCH (a:{start.label})-[r:{edge.rel}]->(b:{end.label}) "
        f"WHERE {visible('r', edge.rel)} AND {visible('a', start.name)} "
        f"AND {visible('b', end.name)} AND {origin} = $nation "
        f"RETURN '{edge.rel}' AS type, null AS key, a.{start.key} AS start, b.{end.key} AS end, "
        f"coalesce(r.version, 1) AS version, {origin} AS origin, "
        f"{_portions('r', edge.rel, edge.names)} AS portions"
    )


async def portions(
    graph: Graph, scope: ReleaseScope, model: Model, *, catalogue_steward: str | None
) -> list[dict[str, Any]]:
    """Every visible stewarded record and edge the caller's nation originated, with the
    marking and marking metadata of each of its portions."""
    parts = [_node_query(model, model.nodes[n]) for n in STEWARDED_NODES if n in model.nodes]
    parts += [_edge_query(model, model.edges[e]) for e in STEWARDED_EDGES if e in model.edges]
    query = compiled(" UNION ALL ".join(parts))
    params = {
        **scope.cypher_params(),
        "nation": scope.nation,
        "catalogueSteward": catalogue_steward,
    }
    return [dict(r) for r in await graph.read(query, params)]


# -- a challenge decision as a marking review ---------------------------------------------------


def decision_clauses(
    node: NodeType, model: Model, var: str, field: str | None
) -> tuple[str, str, str]:
    """Cypher for a challenge decision on record `var` to count as a review of its marking:
    (before: the record's baseline state if it has none yet, so its past stays readable;
    the SET items for the marking metadata (designator = the adjudicator, reason = the
    decision's rationale, review-by renewed) and the version; after: close the current state
    and open the next, as a stewarded write does). Parameters: `$reviewBy`, `$revision`,
    `$decidedAt`, `$epoch`, `$catalogueSteward`, `$deciderNation`, `$deciderOrg`, `$decider`,
    `$rationale`."""
    label = state_label(node.name)
    origin = _origin(model, node, var)
    before = (
        f"CALL ({var}) {{ UNWIND CASE WHEN EXISTS {{ MATCH (:{label})-[:{STATE_OF}]->({var}) }} "
        "THEN [] ELSE [1] END AS missing "
        f"CREATE (b:{label})-[:{STATE_OF}]->({var}) SET b = properties({var}) "
        f"SET b.version = coalesce({var}.version, 1), b.originNation = {origin}, "
        f"b.kind = '{BASELINE}', b.validFrom = $epoch, b.changed = [] "
        + tallies.strip(model, node, "b")
        + _owned_to_state(model, node, var, "b")
        + "RETURN count(*) AS baselined } "
    )
    m = marked
    sets = [
        f"{var}.`{m(field, 'markedByNation')}` = $deciderNation",
        f"{var}.`{m(field, 'markedByOrg')}` = $deciderOrg",
        f"{var}.`{m(field, 'markedBySubject')}` = $decider",
        f"{var}.`{m(field, 'markingReason')}` = $rationale",
        f"{var}.`{m(field, 'markedAt')}` = $decidedAt",
        f"{var}.`{m(field, 'reviewBy')}` = $reviewBy",
        f"{var}.`{m(field, 'reviewedAt')}` = $decidedAt",
        f"{var}.version = coalesce({var}.version, 1) + 1",
    ]
    after = (
        f"WITH * CALL ({var}) {{ MATCH (cur:{label})-[:{STATE_OF}]->({var}) "
        f"WHERE cur.validTo IS NULL SET cur.validTo = $decidedAt "
        f"SET {var}.originNation = coalesce({var}.originNation, cur.originNation) "
        f"CREATE (st:{label}:{PENDING})-[:{STATE_OF}]->({var}) SET st = properties({var}) "
        "SET st += $revision, st.validFrom = $decidedAt "
        + tallies.strip(model, node, "st")
        + _owned_to_state(model, node, var, "st")
        + f"CREATE (st)-[:{PREVIOUS}]->(cur) RETURN count(st) AS stated }} "
    )
    return before, ", ".join(sets), after
