"""Node write locks taken in one order, so concurrent writers queue instead of deadlocking.

Neo4j locks a node when a transaction first writes it (a property, a relationship of a
sparse node) and upgrades a shared lock (a relationship of a dense node) when it later sets
a property. Two transactions reaching the same nodes in different orders (two import
batches of PROVIDES rows, one listing capabilities ascending and one descending; or both
holding a capability's shared lock and then clearing its tally flag) can each wait for
the other: Neo4j detects the cycle, fails one, and the whole batch is retried. Taking
every lock a statement will need first, exclusively, in element id order (the order the
tally code uses as well, `dibx.graph.tallies`), leaves nothing to cross.

There is no lock clause in Cypher (APOC's `apoc.lock.nodes` is not part of Neo4j): a
`SET` of a property then its `REMOVE` in the same statement takes the exclusive lock and
leaves nothing behind (removing an absent property alone locks nothing).
"""

from __future__ import annotations

from collections.abc import Sequence

LOCK = "_writeLock"


def take(var: str) -> str:
    """SET clause taking node `var`'s write lock."""
    return f"SET {var}.{LOCK} = true REMOVE {var}.{LOCK}"


def in_order(matches: str, nodes: Sequence[str]) -> str:
    """A unit subquery (keeps the row count) taking, in element id order, the write locks
    of every node that `matches` (Cypher binding `nodes` per row, e.g.
    `UNWIND $rows AS row MATCH (a ...) MATCH (b ...)`) binds. Put it before the
    statement's first write."""
    listed = ", ".join(nodes)
    return (
        f"CALL () {{ {matches} UNWIND [{listed}] AS x WITH DISTINCT x "
        f"ORDER BY elementId(x) {take('x')} }} "
    )


__all__ = ["LOCK", "in_order", "take"]
