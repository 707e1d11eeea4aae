"""Node write locks taken in one order, so concurrent writers queue instead of deadlocking.

A `SET` takes the node's exclusive lock at once and holds it to COMMIT; the locks a
relationship's creation needs on its end nodes are taken at commit (probed on this Neo4j:
a transaction's CREATE of a relationship made no other transaction's CREATE or SET on the
same node wait). Two import batches reaching the same ends (PROVIDES rows of the same
capabilities) thus took their locks partly while running and partly at commit, and one CI
run retried two of them (their error then unrecorded). Taking every lock a statement will
need first, exclusively, in element id order (the order the tally code uses as well,
`dibx.graph.tallies`), makes the second batch wait at its start, so nothing it takes later
can cross the first's.

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
