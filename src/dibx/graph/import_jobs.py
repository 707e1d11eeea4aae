"""Import jobs in the graph: the job, its stored body, its kept rejects, and the leases by
which any API process claims, renews and finishes one.

    (:ImportJob {id, nation, org, slot, subject, client, tokenId, scopes, attributes,
                 entity, format, dryRun, bytes, chunks, state, created, started, finished,
                 attempts, owner, claim, leaseUntil, progress, rowsRead, readRows,
                 createdRows, updatedRows, unchangedRows, rejectedRows, validRows,
                 rejectsKept, error, written})
    (:ImportChunk {job, n, data})      the body, in order, whole lines per chunk
    (:ImportReject {job, n, file, line, column, code, reason})
    (:ImportSlot {key})                 one per (nation, org): a lock, nothing else

Times are the database's (`datetime()`), so processes with skewed clocks agree on leases.
A claim takes the job's write lock in one statement and re-reads it in the next (a single
statement could decide on a value read before the lock), so two processes never both win.
Every write of a running job is guarded by its claim id: a process that lost its lease
(paused past it, say) finds nothing to update and stops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from dibx.graph.driver import BeforeCommit, Graph, Rows, TxRunner

QUEUED: Final = "queued"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
ACTIVE: Final = (QUEUED, RUNNING)
COUNTS: Final = ("read", "created", "updated", "unchanged", "rejected", "valid")
# Counts are stored as `<count>Rows`: `created` is the job's creation time.
_COUNT_PROPS: Final = {
    "read": "readRows",
    "created": "createdRows",
    "updated": "updatedRows",
    "unchanged": "unchangedRows",
    "rejected": "rejectedRows",
    "valid": "validRows",
}
_CHUNKS_PER_STATEMENT = 8

_JOB = """j {.id, .nation, .org, .subject, .client, .tokenId, .scopes, .attributes, .entity,
       .format, .dryRun, .bytes, .chunks, .state, .created, .started, .finished, .attempts,
       .progress, .rowsRead, .readRows, .createdRows, .updatedRows, .unchangedRows,
       .rejectedRows, .validRows, .rejectsKept, .error, .written, .owner, .leaseUntil} AS job"""


class SlotTaken(Exception):
    """The org already has a job queued or running: `job` is its id."""

    def __init__(self, job: str) -> None:
        super().__init__(job)
        self.job = job


def slot_of(nation: str, org: str | None) -> str:
    return f"{nation}/{org or ''}"


def counts_of(job: Mapping[str, Any]) -> dict[str, int]:
    return {name: int(job.get(prop) or 0) for name, prop in _COUNT_PROPS.items()}


# Who reads a job: its nation, or with a slot (per-org stewardship) its nation and org.
_READER = "j.nation = $nation AND ($slot IS NULL OR j.slot = $slot)"

# The job, if it is still active and held under the claim (None: whoever holds it).
_HELD = (
    "MATCH (j:ImportJob {id: $id}) "
    "WHERE j.state IN $active AND ($claim IS NULL OR j.claim = $claim) "
)


async def _nothing(_: Rows) -> None:
    return None


class JobStore:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def create(
        self,
        job: Mapping[str, Any],
        chunks: Sequence[str],
        *,
        before_commit: BeforeCommit,
    ) -> Rows:
        """Create a queued job and its body in one transaction, unless its org's slot holds
        an active job (raises SlotTaken, nothing written). The hook (the submission's audit
        record) runs before COMMIT; if it raises, nothing is written."""

        async def work(tx: TxRunner) -> Rows:
            # The slot's write lock serialises this org's submissions until COMMIT.
            await tx.run(
                "MERGE (s:ImportSlot {key: $slot}) SET s.touched = datetime()",
                {"slot": job["slot"]},
            )
            active = await tx.run(
                "MATCH (j:ImportJob {slot: $slot}) WHERE j.state IN $active "
                "RETURN j.id AS id ORDER BY j.created LIMIT 1",
                {"slot": job["slot"], "active": list(ACTIVE)},
            )
            if active:
                raise SlotTaken(str(active[0]["id"]))
            rows = await tx.run(
                "CREATE (j:ImportJob) SET j = $job, j.state = $queued, j.created = datetime(), "
                "j.attempts = 0, j.progress = 0.0, j.rowsRead = 0 RETURN j.id AS id",
                {"job": dict(job), "queued": QUEUED},
            )
            numbered = [{"n": n, "data": data} for n, data in enumerate(chunks)]
            for start in range(0, len(numbered), _CHUNKS_PER_STATEMENT):
                await tx.run(
                    "UNWIND $chunks AS c CREATE (:ImportChunk {job: $id, n: c.n, data: c.data})",
                    {"id": job["id"], "chunks": numbered[start : start + _CHUNKS_PER_STATEMENT]},
                )
            return rows

        return await self.graph.transaction(work, before_commit=before_commit)

    async def candidates(self, limit: int = 5) -> list[str]:
        """Jobs waiting for a process: queued ones, and running ones whose lease ran out."""
        rows = await self.graph.read(
            "MATCH (j:ImportJob) WHERE j.state = $queued "
            "OR (j.state = $running AND (j.leaseUntil IS NULL OR j.leaseUntil < datetime())) "
            "RETURN j.id AS id ORDER BY j.created LIMIT $limit",
            {"queued": QUEUED, "running": RUNNING, "limit": limit},
        )
        return [str(r["id"]) for r in rows]

    async def claim(
        self, job_id: str, *, owner: str, claim: str, lease_s: float
    ) -> dict[str, Any] | None:
        """Take the job if it is still queued or orphaned: running, owned by `owner` under
        the new claim id until the lease ends. None if another process has it."""

        async def work(tx: TxRunner) -> Rows:
            locked = await tx.run(
                "MATCH (j:ImportJob {id: $id}) SET j.claimedAt = datetime() RETURN j.id AS id",
                {"id": job_id},
            )
            if not locked:
                return []
            return await tx.run(
                "MATCH (j:ImportJob {id: $id}) WHERE j.state = $queued "
                "OR (j.state = $running AND (j.leaseUntil IS NULL OR j.leaseUntil < datetime())) "
                "SET j.state = $running, j.owner = $owner, j.claim = $claim, "
                "j.leaseUntil = datetime() + duration({milliseconds: $lease}), "
                "j.attempts = coalesce(j.attempts, 0) + 1, "
                "j.started = coalesce(j.started, datetime()) "
                f"RETURN {_JOB}",
                {
                    "id": job_id,
                    "queued": QUEUED,
                    "running": RUNNING,
                    "owner": owner,
                    "claim": claim,
                    "lease": int(lease_s * 1000),
                },
            )

        rows = await self.graph.transaction(work, before_commit=_nothing)
        return dict(rows[0]["job"]) if rows else None

    async def body(self, job_id: str) -> list[str]:
        rows = await self.graph.read(
            "MATCH (c:ImportChunk {job: $id}) RETURN c.data AS data ORDER BY c.n",
            {"id": job_id},
        )
        return [str(r["data"]) for r in rows]

    async def renew(
        self, job_id: str, claim: str, *, lease_s: float, progress: float, rows_read: int
    ) -> bool:
        """Extend the lease and say how far the job is; False if the claim is lost."""
        rows = await self.graph.write(
            "MATCH (j:ImportJob {id: $id}) WHERE j.claim = $claim AND j.state = $running "
            "SET j.leaseUntil = datetime() + duration({milliseconds: $lease}), "
            "j.progress = $progress, j.rowsRead = $rows RETURN j.id AS id",
            {
                "id": job_id,
                "claim": claim,
                "running": RUNNING,
                "lease": int(lease_s * 1000),
                "progress": progress,
                "rows": rows_read,
            },
        )
        return bool(rows)

    async def release(self, job_id: str, claim: str) -> None:
        """Hand a running job back (this process stops): its lease ends now, and the attempt
        does not count towards giving up (a rolling restart is not the job's fault)."""
        await self.graph.write(
            "MATCH (j:ImportJob {id: $id}) WHERE j.claim = $claim AND j.state = $running "
            "SET j.leaseUntil = datetime(), j.owner = null, j.attempts = j.attempts - 1",
            {"id": job_id, "claim": claim, "running": RUNNING},
        )

    async def finish(
        self,
        job_id: str,
        claim: str | None,
        *,
        state: str,
        counts: Mapping[str, int],
        rejects: Sequence[Mapping[str, Any]],
        error: str | None,
        written: str | None,
        before_commit: BeforeCommit,
    ) -> bool:
        """End the job (succeeded or failed) under its claim (None: whoever holds it, for a
        job given up on), keep its rejects, drop its body. False if the claim was lost.

        The rejects are kept by a transaction of their own, committed before the one that
        ends the job: a reader that sees the job ended then finds every reject. (In one
        transaction, a reader was seen to find a job with a large body ended and its rejects
        not yet, for a moment: Neo4j reads are read-committed, not snapshots.) A process
        that dies between the two leaves the job active, and whoever finishes it replaces
        the rejects."""

        async def keep(tx: TxRunner) -> Rows:
            held = await tx.run(
                _HELD + "RETURN j.id AS id", {"id": job_id, "claim": claim, "active": list(ACTIVE)}
            )
            if not held:
                return []
            await tx.run("MATCH (r:ImportReject {job: $id}) DELETE r", {"id": job_id})
            await tx.run(
                "UNWIND $rejects AS r CREATE (x:ImportReject) SET x = r, x.job = $id",
                {"id": job_id, "rejects": [{"n": n, **r} for n, r in enumerate(rejects)]},
            )
            return held

        if not await self.graph.transaction(keep, before_commit=_nothing):
            return False

        async def work(tx: TxRunner) -> Rows:
            props = {prop: int(counts.get(name, 0)) for name, prop in _COUNT_PROPS.items()}
            rows = await tx.run(
                _HELD + "SET j += $props, j.state = $state, j.finished = datetime(), "
                # A job read to its end between two renewals: its last renewal's rows are
                # short of what it read (a failed one keeps how far it got).
                "j.rowsRead = CASE WHEN coalesce(j.rowsRead, 0) > $props.readRows "
                "THEN j.rowsRead ELSE $props.readRows END, "
                "j.progress = CASE $state WHEN $succeeded THEN 1.0 ELSE j.progress END, "
                "j.error = $error, j.written = $written, j.rejectsKept = $kept, "
                "j.leaseUntil = null, j.owner = null, j.claim = null "
                "RETURN j.id AS id",
                {
                    "id": job_id,
                    "claim": claim,
                    "active": list(ACTIVE),
                    "props": props,
                    "state": state,
                    "succeeded": SUCCEEDED,
                    "error": error,
                    "written": written,
                    "kept": len(rejects),
                },
            )
            if not rows:
                return []
            await tx.run("MATCH (c:ImportChunk {job: $id}) DELETE c", {"id": job_id})
            return rows

        return bool(await self.graph.transaction(work, before_commit=before_commit))

    async def get(self, job_id: str, nation: str, slot: str | None = None) -> dict[str, Any] | None:
        """The job if `nation` submitted it (and, given a `slot`, from that slot: per-org
        stewardship); None for a missing job and anyone else's alike."""
        row = await self.graph.read_one(
            f"MATCH (j:ImportJob {{id: $id}}) WHERE {_READER} RETURN {_JOB}",
            {"id": job_id, "nation": nation, "slot": slot},
        )
        return dict(row["job"]) if row else None

    async def rejects(
        self, job_id: str, nation: str, first: int, slot: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self.graph.read(
            f"MATCH (j:ImportJob {{id: $id}}) WHERE {_READER} "
            "MATCH (r:ImportReject {job: $id}) "
            "RETURN r {.file, .line, .column, .code, .reason} AS reject ORDER BY r.n LIMIT $first",
            {"id": job_id, "nation": nation, "slot": slot, "first": first},
        )
        return [dict(r["reject"]) for r in rows]

    async def of_reader(
        self, nation: str, first: int, slot: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self.graph.read(
            f"MATCH (j:ImportJob) WHERE {_READER} RETURN {_JOB} "
            "ORDER BY j.created DESC, j.id LIMIT $first",
            {"nation": nation, "slot": slot, "first": first},
        )
        return [dict(r["job"]) for r in rows]
