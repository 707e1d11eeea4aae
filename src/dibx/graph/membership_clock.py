"""The membership clock: a dated membership that starts or ends without a commit becomes an event.

A caller's groups follow the raw memberships on today's date (`dibx.services.memberships`),
so a membership loaded with a future `since` (or `until`) changes what its nation sees when
the date comes, with nothing written. The change feed judges a MEMBER_OF state as in effect on
the date it was written (`dibx.graph.fanout.in_effect`); this writes, for every membership
whose current state says otherwise today, a new state with the same properties (kind
`updated`, nothing `changed`, reason `membership took effect` / `membership ended`), numbered
as an event in the same transaction. The feed then fans it out to the nation's callers like
a load that started or ended the membership.

Each API process runs it at start and hourly, with compaction (`dibx.app.compact_changes`):
the first statement takes the outbox counter's write lock, so replicas that tick together
serialize and the later one finds nothing left to do. Labels and property names come from
`dibx.graph.model` and the feed's constants; the date is a parameter.
"""

from __future__ import annotations

from datetime import date

from dibx.graph import outbox
from dibx.graph.driver import Graph, Rows, TxRunner, compiled
from dibx.graph.fanout import MEMBERSHIP, MEMBERSHIP_STATE, in_effect
from dibx.graph.model import MODEL, Model
from dibx.graph.outbox import PENDING, SEQUENCE
from dibx.graph.stewardship import PREVIOUS, STATE_FROM, STATE_TO

TOOK_EFFECT, ENDED = "membership took effect", "membership ended"


def _tick(model: Model) -> str:
    edge = model.edges[MEMBERSHIP]
    start, end = model.nodes[edge.start], model.nodes[edge.end]
    holds = "(cur.since <= $today AND (cur.until IS NULL OR cur.until > $today))"
    return (
        f"MERGE (c:{SEQUENCE} {{id: 1}}) SET c.next = coalesce(c.next, 0) WITH c "
        f"MATCH (a:{start.label})<-[:{STATE_FROM}]-(cur:{MEMBERSHIP_STATE})"
        f"-[:{STATE_TO}]->(b:{end.label}) "
        f"WHERE cur.validTo IS NULL AND cur.since IS NOT NULL AND {in_effect('cur')} <> {holds} "
        f"WITH a, b, cur, {holds} AS now "
        f"CREATE (a)<-[:{STATE_FROM}]-(st:{MEMBERSHIP_STATE}:{PENDING})-[:{STATE_TO}]->(b) "
        "SET st = cur {.*, seq: null, committedAt: null, compactedSeq: null, validTo: null}, "
        "st.validFrom = datetime(), st.kind = 'updated', st.changed = [], "
        "st.version = coalesce(cur.version, 0) + 1, "
        f"st.reason = CASE WHEN now THEN '{TOOK_EFFECT}' ELSE '{ENDED}' END, "
        "cur.validTo = st.validFrom "
        f"CREATE (st)-[:{PREVIOUS}]->(cur) "
        "RETURN count(st) AS n"
    )


async def tick(graph: Graph, today: date, *, model: Model = MODEL) -> int:
    """Write an event for each membership that started or ended by `today` since its last
    state; returns how many."""
    query = compiled(_tick(model))

    async def work(tx: TxRunner) -> Rows:
        rows = await tx.run(query, {"today": today})
        await outbox.append_pending(tx)
        return rows

    async def nothing(_: Rows) -> None:
        return None

    rows = await graph.transaction(work, before_commit=nothing)
    return int(rows[0]["n"]) if rows else 0


__all__ = ["ENDED", "TOOK_EFFECT", "tick"]
