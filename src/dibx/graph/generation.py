"""The data generation: which committed state of the graph a cached answer was read from.

Read from the change feed's counter (`dibx.graph.outbox`), the one node every writer already
updates in its own transaction:

    (:ChangeSequence {id: 1, next: <events numbered>, loads: <bulk batches written>,
                      epoch: <random id, set when the counter is created>})

* `next` moves with every transaction that changes a record, an edge, a marking or a
  membership: stewarded writes, imports, review and challenge decisions, membership clock
  and reloads all end with `outbox.append_pending`.
* `loads` moves with every batch of a bulk load (`dibx.graph.writes.write_dataset`), which
  MERGEs records without numbering events, and with every migration applied to a database
  that has the counter.
* `epoch` tells databases apart: a database cleared and loaded again starts a new counter,
  whose numbers may repeat the old one's.

A graph without the counter, or whose counter has no epoch yet, has no generation: nothing
read from it is cached. Writes from outside dibx (an operator's Cypher) move nothing: caches
bound their age for that reason (`dibx.graph.read_cache`).
"""

from __future__ import annotations

from typing import Any

from dibx.graph.driver import TxRunner, compiled

# The change feed's counter (the outbox imports the label and the epoch fragment from here).
SEQUENCE = "ChangeSequence"

# Set on whichever write creates or first updates the counter.
EPOCH = "c.epoch = coalesce(c.epoch, randomUUID())"

Generation = tuple[str, int, int]

READ = compiled(
    f"OPTIONAL MATCH (c:{SEQUENCE} {{id: 1}}) "
    "RETURN c.epoch AS epoch, c.next AS next, c.loads AS loads"
)

# Moves `loads`, and sets the epoch if the counter has none yet.
_MOVE = f"SET {EPOCH}, c.loads = coalesce(c.loads, 0) + 1"

# For a bulk load's batch: creates the counter if need be.
BUMP = compiled(f"MERGE (c:{SEQUENCE} {{id: 1}}) {_MOVE}")

# For migrations: moves an existing counter only (a database without one caches nothing yet,
# and a migration must not make an empty database look written to: `dibx.ingest.seeding`).
BUMP_EXISTING = compiled(f"MATCH (c:{SEQUENCE} {{id: 1}}) {_MOVE}")


def of(row: dict[str, Any] | None) -> Generation | None:
    """The generation a `READ` row names, or None (no counter, or one without an epoch)."""
    if row is None or row.get("epoch") is None:
        return None
    return (str(row["epoch"]), int(row["next"] or 0), int(row["loads"] or 0))


async def bump(tx: TxRunner) -> None:
    """Move the generation inside a bulk load's batch, which numbers no events. Takes the
    counter's write lock until COMMIT, as `append_pending` does."""
    await tx.run(BUMP)
