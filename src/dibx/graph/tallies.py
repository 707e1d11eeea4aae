"""Release tallies: a busy owner's totalCount from a few stored sums, not from every link.

Why: `totalCount` of `capability { providers }` counts the links the caller may see, so it
reads every link's release clause lists (the PROVIDES edge's and its Supplier's), about
1.5 us per list; a capability with thousands of providers pays that on every request. But
whether a link is counted depends only on the pair (edge clause list, far record clause
list), and markings come from a small set, so an owner has few distinct pairs. The count a
caller sees is the sum, over those pairs, of the pair's link count where the caller meets
both lists.

Storage, per owner (a `Capability`, a `Nation`) and tallied relation (`Relation.tallied` in
`dibx.graph.model`: `Capability.providers`, `Nation.suppliers`):

    (owner)-[:HAS_TALLY]->(:ReleaseTally {relation: 'providers', gen: <id>,
                                          edge: <edge's stored list or null>,
                                          far: <far record's stored list or null>, n: <links>})
    owner.tallied_providers = <gen>     the tallies with this `gen` are current

A null list is kept null (the edge or record stores none), so the policy default applies at
read time exactly as `dibx.graph.release.clauses_in_force` applies it to the original; an
empty list is a list. `gen` (a fresh id per refresh) ties the flag to the tallies written
with it: a reader never adds tallies of an older count to a newer one.

Why they cannot leak a count:

* Same predicate. A pair is counted where `release.stored_met` holds for both copies, the
  very `met` that `visible` applies to each link (`dibx.graph.release`), with the same
  default; the sum equals the per-link count for every caller and every policy.
* Invalidated in the writer's transaction. Every writer ends with
  `outbox.append_pending`, whose statement first clears the flag of every owner that a
  state of this transaction may change the count of (`pending_invalidation`): a state of a
  tallied edge -> its owner end; a state of a far record (marking change, retirement) ->
  every owner it links to by a tallied relation now, and the owner named in its owned-edge
  copy and in the state it closed (a supplier that moved). Writes that leave no state
  clear the flags themselves, in the same statement: bulk loads (`dibx.graph.writes`), an
  owned edge replaced (`stewardship.Store.set_owned`), a challenge decision rewriting a
  record's marking (`dibx.graph.challenges`). Clearing takes the owner's write lock (a
  `SET`, since removing an absent property locks nothing), so it serializes with a refresh.
* Unset means exact. An owner without the flag (never refreshed, invalidated, loaded
  again with `SET n = props`, a database from before tallies) is counted link by link, as
  before. The flag is read only on the current record: `asOf` reads count link by link.

Refresh (`refresh`): for owners without the flag, in batches, one transaction each: lock
the owners (in element id order, as invalidation does), delete their tallies, recount them
from the current links in one statement, set the flag. A writer's invalidation either
commits before the refresh takes the lock (the recount then sees its links) or waits for
the refresh to commit and clears the flag after it. Each API process runs it every few
seconds (`dibx.app`), `dibx seed` and `dibx import` run it at their end.

Names (labels, properties, the relation's name) come from this module and the model;
values are parameters. Tally nodes are read by nothing but the totals here: exports, the
change feed, history and GraphML read the model's labels and fields only, and record states
drop the flags (`strip`).
"""

from __future__ import annotations

from typing import Any

from dibx.graph.driver import Graph, Rows, TxRunner, compiled
from dibx.graph.locks import take
from dibx.graph.model import MODEL, Model, NodeType, Relation
from dibx.graph.release import stored_met
from dibx.graph.states import (
    PREVIOUS,
    STATE_FROM,
    STATE_OF,
    STATE_TO,
    STEWARDED_EDGES,
    STEWARDED_NODES,
    state_label,
)

TALLY = "ReleaseTally"
HAS_TALLY = "HAS_TALLY"
# Owners per refresh transaction.
BATCH = 200


def flag(relation: str) -> str:
    """The owner's property naming the `gen` of its current tallies for `relation`."""
    return f"tallied_{relation}"


def _far_to_owner(rel: Relation, far: str, owner: str, owner_label: str) -> str:
    """The pattern from a far record `far` to the owner `owner` over `rel`."""
    if rel.direction == "in":  # the owner is the edge's end
        return f"({far})-[:{rel.rel}]->({owner}:{owner_label})"
    return f"({far})<-[:{rel.rel}]-({owner}:{owner_label})"


def clear(var: str, *relations: str) -> str:
    """SET clause items clearing `var`'s flags under its write lock (then REMOVE)."""
    removed = ", ".join(f"{var}.{flag(r)}" for r in relations)
    return f"{take(var)}, {removed}"


# -- reading -------------------------------------------------------------------------------


def is_current(owner: str, relation: str) -> str:
    """Cypher predicate: `owner`'s tallies for `relation` are current."""
    return f"{owner}.{flag(relation)} IS NOT NULL"


def tallied_total(owner: str, relation: str, rel: Relation, far: NodeType, tally: str) -> str:
    """Cypher expression: the links of `owner` over `rel` the caller may see, summed from
    the current tallies (only meaningful where `is_current`). `tally` is a fresh variable."""
    return (
        f"reduce(s = 0, x IN COLLECT {{ MATCH ({owner})-[:{HAS_TALLY}]->({tally}:{TALLY}) "
        f"WHERE {tally}.gen = {owner}.{flag(relation)} "
        f"AND {stored_met(tally, 'edge', rel.edge_type)} "
        f"AND {stored_met(tally, 'far', far.name)} RETURN {tally}.n }} | s + x)"
    )


def total(
    owner: str, relation: str, rel: Relation, far: NodeType, tally: str, per_link: str
) -> str:
    """Cypher expression: the tallied total where current, else `per_link` (the count link
    by link, always exact)."""
    return (
        f"CASE WHEN {is_current(owner, relation)} "
        f"THEN {tallied_total(owner, relation, rel, far, tally)} ELSE {per_link} END"
    )


# -- invalidation --------------------------------------------------------------------------


def far_invalidation(model: Model, node: NodeType, var: str) -> str:
    """Cypher clauses (row count kept) clearing the flags of every owner the record `var`
    of type `node` links to now by a tallied relation: a write of the record's marking or
    labels changes those owners' counts. Empty when `node` is no tallied relation's far type."""
    parts = []
    for owner_type, name, rel in model.tallied():
        if rel.target != node.name:
            continue
        pattern = _far_to_owner(rel, var, "x", owner_type.label)
        parts.append(f"FOREACH (o IN [{pattern} | x] | {clear('o', name)}) ")
    return "".join(parts)


def edge_invalidation(model: Model, rel_type: str, start: str, end: str) -> str:
    """Cypher clauses (row count kept) clearing the flags of the owner end of an edge of
    `rel_type` from `start` to `end` for every tallied relation over it."""
    parts = []
    for _, name, rel in model.tallied():
        if rel.rel != rel_type:
            continue
        owner = end if rel.direction == "in" else start
        parts.append(f"FOREACH (o IN [{owner}] | {clear('o', name)}) ")
    return "".join(parts)


def strip(model: Model, node: NodeType, state: str) -> str:
    """Cypher REMOVE clause dropping the tally flags a state copied with `properties(n)`
    (a state is history of the record's data, not of this cache). Empty if none."""
    names = [name for owner, name, _ in model.tallied() if owner.name == node.name]
    if not names:
        return ""
    return "REMOVE " + ", ".join(f"{state}.{flag(n)}" for n in names) + " "


def pending_invalidation(model: Model, pending: str) -> str:
    """A unit subquery (`CALL () { ... }`, keeps the row count) clearing, in element id
    order, the flag of every owner whose tallied count a pending state (label `pending`)
    of this transaction may change. Empty when the model tallies nothing."""
    blocks = []
    for owner_type, name, rel in model.tallied():
        far = model.nodes[rel.target]
        key = f"{owner_type.label} {{{owner_type.key}: "
        sources = []
        if rel.rel in STEWARDED_EDGES:
            end = STATE_TO if rel.direction == "in" else STATE_FROM
            sources.append(
                f"MATCH (:{pending}:{state_label(rel.rel)})-[:{end}]->(o:{owner_type.label}) "
                "RETURN o"
            )
        if far.name in STEWARDED_NODES:
            record_state = f"(s:{pending}:{state_label(far.name)})"
            # The record as it is now (current or retired: no label asked).
            sources.append(
                f"MATCH {record_state}-[:{STATE_OF}]->(r) "
                f"MATCH {_far_to_owner(rel, 'r', 'o', owner_type.label)} RETURN o"
            )
            if rel.edge in model.owned(far.name):
                # A moved record: the owner named in this state and in the one it closed.
                sources.append(f"MATCH {record_state} MATCH (o:{key}s.{rel.rel}}}) RETURN o")
                sources.append(
                    f"MATCH {record_state}-[:{PREVIOUS}]->(p) MATCH (o:{key}p.{rel.rel}}}) RETURN o"
                )
        if not sources:
            continue
        union = " UNION ".join(sources)
        blocks.append(
            f"CALL () {{ CALL () {{ {union} }} WITH o ORDER BY elementId(o) {clear('o', name)} }} "
        )
    return "".join(blocks)


# -- refresh -------------------------------------------------------------------------------


def _stale_query(owner: NodeType, relation: str) -> str:
    return (
        f"MATCH (o:{owner.label}) WHERE o.{flag(relation)} IS NULL "
        "RETURN elementId(o) AS id ORDER BY id LIMIT $batch"
    )


def _lock_query(owner: NodeType) -> str:
    return (
        f"UNWIND $ids AS id MATCH (o:{owner.label}) WHERE elementId(o) = id "
        f"WITH o ORDER BY elementId(o) {take('o')} RETURN count(o) AS n"
    )


def _recount_query(model: Model, owner: NodeType, relation: str, rel: Relation) -> str:
    far = model.nodes[rel.target]
    arrow = (
        f"(o)<-[e:{rel.rel}]-(x:{far.label})"
        if rel.direction == "in"
        else f"(o)-[e:{rel.rel}]->(x:{far.label})"
    )
    f = flag(relation)
    return (
        f"UNWIND $ids AS id MATCH (o:{owner.label}) WHERE elementId(o) = id AND o.{f} IS NULL "
        f"CALL (o) {{ MATCH (o)-[:{HAS_TALLY}]->(old:{TALLY}) WHERE old.relation = $relation "
        "DETACH DELETE old } "
        "WITH o, randomUUID() AS gen "
        f"CALL (o, gen) {{ MATCH {arrow} "
        "WITH o, gen, e.release AS edge, x.release AS far, count(*) AS n "
        f"CREATE (o)-[:{HAS_TALLY}]->(:{TALLY} "
        "{relation: $relation, gen: gen, edge: edge, far: far, n: n}) } "
        f"SET o.{f} = gen RETURN count(o) AS n"
    )


async def stale(graph: Graph, model: Model = MODEL) -> int:
    """Owners whose tallies are not current, over every tallied relation."""
    total_ = 0
    for owner, relation, _ in model.tallied():
        row = await graph.read_one(
            compiled(
                f"MATCH (o:{owner.label}) WHERE o.{flag(relation)} IS NULL RETURN count(o) AS n"
            )
        )
        total_ += int(row["n"]) if row else 0
    return total_


async def _nothing(_: Rows) -> None:
    return None


async def _refresh_batch(graph: Graph, lock: str, recount: str, params: dict[str, Any]) -> int:
    """One transaction: lock the owners, then recount their tallies; owners refreshed."""

    async def work(tx: TxRunner) -> Rows:
        await tx.run(compiled(lock), params)  # first: a writer's invalidation waits for us
        return await tx.run(compiled(recount), params)

    out = await graph.transaction(work, before_commit=_nothing)
    return int(out[0]["n"]) if out else 0


async def refresh(graph: Graph, model: Model = MODEL, *, batch: int = BATCH) -> int:
    """Recount the tallies of every owner whose flag is not set, `batch` owners per
    transaction; returns how many owners were refreshed. Cheap when nothing is stale (one
    read per tallied relation). Safe to run in several processes at once: an owner another
    one refreshed meanwhile is skipped after the lock."""
    done = 0
    for owner, relation, rel in model.tallied():
        pick = compiled(_stale_query(owner, relation))
        lock, recount = _lock_query(owner), _recount_query(model, owner, relation, rel)
        while True:
            rows = await graph.read(pick, {"batch": batch})
            ids = [r["id"] for r in rows]
            if not ids:
                break
            n = await _refresh_batch(graph, lock, recount, {"ids": ids, "relation": relation})
            done += n
            if len(ids) < batch or n == 0:
                break
    return done


__all__ = [
    "BATCH",
    "HAS_TALLY",
    "TALLY",
    "clear",
    "edge_invalidation",
    "far_invalidation",
    "flag",
    "is_current",
    "pending_invalidation",
    "refresh",
    "stale",
    "strip",
    "tallied_total",
    "total",
]
