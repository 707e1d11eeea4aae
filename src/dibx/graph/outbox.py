"""The outbox: every committed change is a numbered event in the graph (docs/changes.md).

Events are the history states stewarded writes already create (docs/history.md): a write that
opens a new state marks it `:PendingChange` in its own transaction; the writer's last
statement, `append_pending`, numbers every pending state of the transaction from the single
`(:ChangeSequence {id: 1})` counter and relabels it `:Change` with `seq` and `committedAt`.

Why at the end, from one counter: the counter's write lock is taken by that last statement
and held until COMMIT, so transactions that change something commit in `seq` order, and a
transaction that rolls back gives its numbers back (the counter rolls back with it). A reader
that has seen `seq` N therefore never later finds a committed `seq` below N: resuming after a
cursor loses nothing. The price is that writers serialize on the counter for the tail of
their transaction (the statement and the commit, audit hook included).

The same statement first clears the release tallies of every owner whose visible count a
pending state may change (`dibx.graph.tallies`), so a tally is never read past the commit
that made it stale.

Every writer calls `append_pending` as its transaction's last statement: stewarded writes,
marking review and challenge decisions (`dibx.services.*`), membership (re)loads
(`dibx.graph.writes`), and bulk import. A writer that creates states and does not call it
leaves `:PendingChange` states that no feed reads; `pending_count` lets tests prove none is
left behind.

Retention: `compact` removes the `:Change` label (and `seq`) from events committed before a
cutoff and raises the counter's `compacted` floor; the states stay as history. Labels and
property names are constants here; values are parameters.
"""

from __future__ import annotations

from datetime import datetime

from dibx.graph import tallies
from dibx.graph.driver import Graph, TxRunner, compiled
from dibx.graph.generation import EPOCH, SEQUENCE
from dibx.graph.model import MODEL

PENDING = "PendingChange"
CHANGE = "Change"

# Within one transaction, pending states are numbered in an order that depends only on what
# was written (not on internal ids, which differ between databases holding the same data):
# by time, type, record key or edge ends, originating nation, then version.
_ORDER = (
    "s.validFrom, [l IN labels(s) WHERE l ENDS WITH 'State'][0], "
    "coalesce(s.id, s.from), s.to, s.originNation, s.version"
)

# First, in the same statement: the release tallies (`dibx.graph.tallies`) a pending state
# may change are no longer current, so no count is read from them once this commits.
_APPEND = compiled(
    tallies.pending_invalidation(MODEL, PENDING) + f"MATCH (s:{PENDING}) WITH s ORDER BY {_ORDER} "
    "WITH collect(s) AS pending WHERE size(pending) > 0 "
    f"MERGE (c:{SEQUENCE} {{id: 1}}) "
    f"SET c.next = coalesce(c.next, 0) + size(pending), {EPOCH} "
    "WITH c.next - size(pending) AS base, pending "
    "UNWIND range(0, size(pending) - 1) AS i "
    "WITH pending[i] AS s, base + i + 1 AS seq "
    f"REMOVE s:{PENDING} SET s:{CHANGE}, s.seq = seq, s.committedAt = datetime.realtime() "
    "RETURN count(s) AS n, max(seq) AS last"
)


async def append_pending(tx: TxRunner) -> int:
    """Number this transaction's pending states as events; returns how many. Call it as the
    transaction's LAST statement (before its audit hook and COMMIT)."""
    rows = await tx.run(_APPEND)
    return int(rows[0]["n"]) if rows else 0


async def last_seq(graph: Graph) -> int:
    """The highest committed `seq` (0 when nothing was ever appended)."""
    row = await graph.read_one(f"OPTIONAL MATCH (c:{SEQUENCE} {{id: 1}}) RETURN c.next AS n")
    return int(row["n"] or 0) if row else 0


async def pending_count(graph: Graph) -> int:
    """Committed states still marked pending: a writer that forgot `append_pending`."""
    row = await graph.read_one(f"MATCH (s:{PENDING}) RETURN count(s) AS n")
    return int(row["n"]) if row else 0


# The counter keeps `compacted`, the highest number compacted: readers start their run of
# consecutive numbers above it (`dibx.graph.changes`).
_COMPACT = (
    f"MATCH (s:{CHANGE}) WHERE s.committedAt < $cutoff "
    "WITH s LIMIT $batch "
    f"REMOVE s:{CHANGE} SET s.compactedSeq = s.seq REMOVE s.seq "
    "WITH count(s) AS n, max(s.compactedSeq) AS high "
    f"OPTIONAL MATCH (c:{SEQUENCE} {{id: 1}}) "
    "FOREACH (_ IN CASE WHEN high > coalesce(c.compacted, 0) THEN [1] ELSE [] END | "
    "SET c.compacted = high) "
    "RETURN n"
)


async def compact(graph: Graph, cutoff: datetime, *, batch: int = 10_000) -> int:
    """Drop events committed before `cutoff` from the feed, in batches; returns how many.
    The states stay as history (`history`, `asOf` read them as before)."""
    total = 0
    while True:
        rows = await graph.write(_COMPACT, {"cutoff": cutoff, "batch": batch})
        n = int(rows[0]["n"]) if rows else 0
        total += n
        if n < batch:
            return total


__all__ = [
    "CHANGE",
    "PENDING",
    "SEQUENCE",
    "append_pending",
    "compact",
    "last_seq",
    "pending_count",
]
