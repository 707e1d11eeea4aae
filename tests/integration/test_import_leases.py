"""Leases on import jobs, between two job runners (two API processes) on one Neo4j: one claim
wins when both try at once, a stopping process hands its job back for the other to finish
at once, and a job that keeps dying is reported failed with what was written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from dibx.exchange.jobs import ImportJobs
from dibx.graph.driver import Graph
from dibx.graph.import_jobs import SUCCEEDED
from tests.support.api import Api
from tests.support.builders import reference

pytestmark = pytest.mark.neo4j

ROWS = 120
OWN = "MATCH (s:Supplier) WHERE s.id STARTS WITH 'GBR:' "


def _body(rows: int = ROWS) -> str:
    lines = ["key,marking,name,nation"]
    lines += [f"supplier-{i:06d},CUI,Supplier {i},GBR" for i in range(rows)]
    return "\n".join(lines) + "\n"


@pytest.fixture
async def api(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    client = Api(graph, tmp_path, env={"DIBX_IMPORT_BATCH_ROWS": "10", "DIBX_IMPORT_LEASE": "60"})
    await client.load(reference())
    yield client
    await client.close()


def _runner(api: Api, owner: str) -> ImportJobs:
    """Another process's job runner over the same graph (no loop running: driven by hand)."""
    own = api.runtime.services.imports
    runner = ImportJobs(
        own.graph, own.policy, own.sink, engine=own.engine, settings=own.settings, owner=owner
    )
    runner.start = lambda: None  # type: ignore[method-assign]
    return runner


async def _submit(api: Api, runner: ImportJobs) -> str:
    principal = api.runtime.validator.validate(api.token("GBR", ("supplier:read", "data:write")))
    return await runner.submit(
        principal, entity="suppliers", fmt="csv", dry_run=False, body=_body()
    )


async def _one(graph: Graph, query: str) -> int:
    row = await graph.read_one(query)
    assert row is not None
    return int(row["n"])


async def test_one_of_two_simultaneous_claims_wins(api: Api) -> None:
    a, b = _runner(api, "a"), _runner(api, "b")
    job_id = await _submit(api, a)
    won = await asyncio.gather(
        *(r.store.claim(job_id, owner=r.owner, claim=r.owner, lease_s=60) for r in (a, b) * 3)
    )
    assert len([w for w in won if w is not None]) == 1


async def test_a_stopping_process_hands_its_job_to_another_at_once(api: Api, graph: Graph) -> None:
    a, b = _runner(api, "a"), _runner(api, "b")
    job_id = await _submit(api, a)

    async def loop() -> None:
        await a.run_pending()

    running = asyncio.create_task(loop())
    a._task = running  # what `start` would hold: `stop` cancels it
    written = 0
    while written == 0 and not running.done():
        written = await _one(graph, OWN + "RETURN count(s) AS n")
        await asyncio.sleep(0.02)
    assert 0 < written < ROWS, f"not caught half-way ({written} of {ROWS})"
    await a.stop()
    job = await b.store.get(job_id, "GBR")
    assert job is not None
    assert (job["state"], job["attempts"], job["owner"]) == ("running", 0, None)
    assert await b.run_pending() == 1  # no wait for a lease: it was handed back
    done = await b.store.get(job_id, "GBR")
    assert done is not None
    assert (done["state"], done["attempts"]) == ("succeeded", 1)
    assert done["unchangedRows"] + done["createdRows"] == ROWS
    assert await _one(graph, OWN + "RETURN count(s) AS n") == ROWS
    assert await _one(graph, "MATCH (st:SupplierState) RETURN count(st) AS n") == ROWS


async def test_a_job_that_keeps_dying_is_reported_failed(api: Api, graph: Graph) -> None:
    a = _runner(api, "a")
    a.settings = replace(a.settings, max_attempts=2)
    job_id = await _submit(api, a)
    # Two processes took it up and died with it (their leases ran out long ago).
    await graph.write(
        "MATCH (j:ImportJob {id: $id}) SET j.state = 'running', j.attempts = 2, "
        "j.rowsRead = 120, j.leaseUntil = datetime() - duration('PT1M')",
        {"id": job_id},
    )
    assert await a.run_pending() == 1
    job = await a.store.get(job_id, "GBR")
    assert job is not None
    assert job["state"] == "failed"
    assert job["error"] == "gave up after 2 attempts"
    assert job["written"].startswith("about 120 rows were read")
    assert await _one(graph, "MATCH (c:ImportChunk) RETURN count(c) AS n") == 0


async def test_a_job_reads_as_ended_only_once_its_rejects_can_be_read(api: Api) -> None:
    """A client polls until the job has ended, then reads its rejects: they must all be
    there. What another reader finds while the job's end is about to commit is taken as
    the audit hook runs (just before COMMIT)."""
    a = _runner(api, "a")
    job_id = await _submit(api, a)
    assert await a.store.claim(job_id, owner="a", claim="a", lease_s=60) is not None
    rejects = [
        {"file": "suppliers.csv", "line": n, "column": "name", "code": "MALFORMED", "reason": "x"}
        for n in (3, 7)
    ]
    seen: list[tuple[str, int]] = []

    async def before_commit(_: object) -> None:
        job = await api.graph.read_one(
            "MATCH (j:ImportJob {id: $id}) RETURN j.state AS state", {"id": job_id}
        )
        assert job is not None
        seen.append((job["state"], len(await a.store.rejects(job_id, "GBR", 10))))

    ended = await a.store.finish(
        job_id,
        "a",
        state=SUCCEEDED,
        counts={},
        rejects=rejects,
        error=None,
        written=None,
        before_commit=before_commit,
    )
    assert ended
    assert seen == [("running", 2)]  # still running to others, its rejects already readable
    job = await a.store.get(job_id, "GBR")
    assert job is not None
    assert (job["state"], job["rejectsKept"]) == (SUCCEEDED, 2)
    assert [r["line"] for r in await a.store.rejects(job_id, "GBR", 10)] == [3, 7]
