"""HTTP import jobs against the real Neo4j and the real engine: 202 with a job id at once,
the job run in the background to the counts the engine gives the same files, readable by
the submitter's nation only (another nation gets exactly the answer of a missing job, over
HTTP and GraphQL; under per-org stewardship, another org of the same nation too), the body
limit, one active job per org, the write scope, a submission whose audit record cannot be
made durable storing nothing, and the small-batch mutation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from dibx.exchange.importer import Source, operator, run_import
from dibx.graph.driver import Graph
from dibx.graph.import_jobs import COUNTS
from dibx.graph.writes import clear_database
from dibx.services.audit import AuditError, MemorySink, WriteAudit
from tests.support.api import Api
from tests.support.builders import reference
from tests.support.stewardship import policy_with_steward, sid

pytestmark = pytest.mark.neo4j

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "exchange"
DATA = ("supplier:read", "data:write")
CATALOGUE = ("supplier:read", "catalogue:write")
CSV = "text/csv"
JSONL = "application/x-ndjson"
# (file, importing nation, scopes): records before the edges that need them.
FILES = (
    ("capabilities.csv", "USA", CATALOGUE),
    ("requires.csv", "USA", CATALOGUE),
    ("suppliers.csv", "GBR", DATA),
    ("provides.csv", "GBR", DATA),
    ("sources_from.csv", "GBR", DATA),
    ("subsidiary_of.csv", "GBR", DATA),
    ("gbr.jsonl", "GBR", DATA),
)
SUPPLIER_NAME = "query S($id: ID!) { supplier(id: $id) { name } }"
JOB = """query J($id: ID!) { importJob(id: $id) {
  id state entity format dryRun attempts progress error
  counts { read created updated unchanged rejected valid }
  rejectsKept rejectsTruncated rejects { file line column code reason } } }"""


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _post(
    api: Api,
    token: str,
    body: bytes,
    *,
    entity: str | None = None,
    content_type: str = CSV,
    dry_run: bool = False,
) -> httpx.Response:
    params = {"entity": entity} if entity else {}
    if dry_run:
        params["dryRun"] = "true"
    return await api.client.post(
        "/imports",
        params=params,
        content=body,
        headers={**_auth(token), "Content-Type": content_type},
    )


async def _finished(api: Api, token: str, location: str) -> dict[str, Any]:
    """Poll GET until the job has ended (the loop the POST woke runs it meanwhile)."""
    for _ in range(3000):
        reply = await api.client.get(location, headers=_auth(token))
        assert reply.status_code == 200, reply.text
        job: dict[str, Any] = reply.json()
        if job["state"] in ("succeeded", "failed"):
            return job
        await asyncio.sleep(0.1)
    pytest.fail(f"the job at {location} did not end")


def _entity(name: str) -> str | None:
    return name.split(".")[0] if name.endswith(".csv") else None


def _media(name: str) -> str:
    return CSV if name.endswith(".csv") else JSONL


async def _count(graph: Graph, label: str) -> int:
    queries = {
        "ImportJob": "MATCH (n:ImportJob) RETURN count(n) AS n",
        "ImportChunk": "MATCH (n:ImportChunk) RETURN count(n) AS n",
    }
    row = await graph.read_one(queries[label])
    assert row is not None
    return int(row["n"])


@pytest.fixture
async def api(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    client = Api(graph, tmp_path)
    await client.load(reference())
    yield client
    await client.close()


async def test_example_files_import_as_jobs_with_the_engines_counts(api: Api, graph: Graph) -> None:
    # What the engine gives the example files as `dibx import` runs it, into the database.
    expected: list[dict[str, int]] = []
    rejects: list[str] = []
    sink = MemorySink()
    for name, nation, _scopes in FILES:
        principal = operator(api.runtime.policy, nation)  # what `dibx import --nation` runs as
        text = (EXAMPLES / name).read_text()
        report = await run_import(
            graph,
            api.runtime.policy,
            principal,
            [Source(f"body.{_entity(name)}.csv" if _entity(name) else "body.jsonl", [text])],
            audit=WriteAudit(sink),
        )
        expected.append({n: int(getattr(report, n)) for n in COUNTS})
        rejects += [str(r) for r in report.rejects]
    assert sum(c["created"] for c in expected) > 0
    assert rejects == []

    await clear_database(graph)
    await api.load(reference())
    got: list[dict[str, int]] = []
    for name, nation, scopes in FILES:
        token = api.token(nation, scopes)
        posted = await _post(
            api,
            token,
            (EXAMPLES / name).read_bytes(),
            entity=_entity(name),
            content_type=_media(name),
        )
        assert posted.status_code == 202, posted.text
        job_id = posted.json()["id"]
        assert posted.headers["location"] == f"/imports/{job_id}"
        job = await _finished(api, token, posted.headers["location"])
        assert job["state"] == "succeeded", job
        assert job["progress"] == 1.0
        got.append(job["counts"])
    assert got == expected
    # The bodies are dropped once their jobs end; the jobs stay.
    assert await _count(graph, "ImportChunk") == 0
    assert await _count(graph, "ImportJob") == len(FILES)
    # Submission and completion are audited like writes, each batch too.
    actions = [r.get("action") for r in api.audit.records if r.get("event") == "graph_write"]
    assert actions.count("importSubmitted") == len(FILES)
    assert actions.count("importFinished") == len(FILES)


async def test_a_finished_job_says_how_many_rows_it_read(api: Api) -> None:
    """`rowsRead` was set by lease renewals only: a job that ended before its first renewal
    said 0 rows read beside `counts.read`."""
    token = api.token("GBR", DATA)
    for dry_run in (False, True):
        body = (EXAMPLES / "suppliers.csv").read_bytes()
        posted = await _post(api, token, body, entity="suppliers", dry_run=dry_run)
        assert posted.status_code == 202, posted.text
        job = await _finished(api, token, posted.headers["location"])
        assert job["state"] == "succeeded", job
        read = job["counts"]["read"]
        assert read > 0
        assert job["rowsRead"] == read, job
        # `valid` counts a dry run's rows that passed; a real run's are created and so on.
        passed = job["counts"]["valid"] if dry_run else job["counts"]["created"]
        assert passed == read - job["counts"]["rejected"], job


async def test_another_nation_gets_the_answer_of_a_missing_job(api: Api) -> None:
    gbr = api.token("GBR", DATA)
    body = (EXAMPLES / "suppliers.csv").read_text()
    bad = body + "broken-row,NOT A MARKING,Broken Ltd,,,,,,,GBR,\n"
    posted = await _post(api, gbr, bad.encode(), entity="suppliers")
    assert posted.status_code == 202, posted.text
    job_id = posted.json()["id"]
    job = await _finished(api, gbr, posted.headers["location"])
    assert job["state"] == "succeeded"
    assert job["counts"]["rejected"] == 1
    assert job["rejects"] == [
        {
            "file": "body.suppliers.csv",
            "line": 4,
            "column": "marking",
            "code": job["rejects"][0]["code"],
            "reason": job["rejects"][0]["reason"],
        }
    ]

    # GraphQL: the submitter's nation sees it, rejects and all.
    mine = await api.query(JOB, {"id": job_id}, nation="GBR")
    assert mine.errors == []
    seen = mine.data["importJob"]
    assert (seen["id"], seen["state"], seen["counts"]["rejected"]) == (job_id, "SUCCEEDED", 1)
    assert seen["rejects"] == job["rejects"]

    # Another nation: exactly the answer of an id that exists nowhere.
    missing = str(uuid.uuid4())
    usa = api.token("USA", DATA)
    theirs = await api.client.get(f"/imports/{job_id}", headers=_auth(usa))
    absent = await api.client.get(f"/imports/{missing}", headers=_auth(usa))
    assert theirs.status_code == absent.status_code == 404
    assert theirs.json() == absent.json()
    q_theirs = await api.query(JOB, {"id": job_id}, nation="USA")
    q_absent = await api.query(JOB, {"id": missing}, nation="USA")
    assert q_theirs.body == q_absent.body
    assert q_theirs.data == {"importJob": None}
    listed = await api.query("{ importJobs { id } }", nation="USA")
    assert listed.data == {"importJobs": []}


@pytest.mark.parametrize(("steward", "colleague_reads"), [("nation", True), ("org", False)])
async def test_under_per_org_stewardship_another_orgs_job_answers_as_missing(
    graph: Graph, tmp_path: Path, steward: str, colleague_reads: bool
) -> None:
    """A job's rejects say what its submitter's rows met (FORBIDDEN: a record exists that is
    not yours; NOT_FOUND: none you may see). Under per-org stewardship the job is the
    submitting org's: a colleague of another org of the same nation gets the answer of a
    missing job, over HTTP and GraphQL; under per-nation stewardship the nation reads it."""
    api = Api(graph, tmp_path, env=policy_with_steward(tmp_path, steward))
    try:
        await api.load(reference())
        bae = api.token("GBR", DATA, org="bae")
        colleague = api.token("GBR", DATA, org="qinetiq")
        body = (EXAMPLES / "suppliers.csv").read_text()
        bad = body + "broken-row,NOT A MARKING,Broken Ltd,,,,,,,GBR,\n"
        posted = await _post(api, bae, bad.encode(), entity="suppliers")
        assert posted.status_code == 202, posted.text
        job_id = posted.json()["id"]
        job = await _finished(api, bae, posted.headers["location"])
        assert job["counts"]["rejected"] == 1
        mine = await api.query(JOB, {"id": job_id}, token=bae)
        assert mine.data["importJob"]["rejects"] == job["rejects"]

        missing = str(uuid.uuid4())
        theirs = await api.client.get(f"/imports/{job_id}", headers=_auth(colleague))
        absent = await api.client.get(f"/imports/{missing}", headers=_auth(colleague))
        q_theirs = await api.query(JOB, {"id": job_id}, token=colleague)
        q_absent = await api.query(JOB, {"id": missing}, token=colleague)
        listed = await api.query("{ importJobs { id } }", token=colleague)
        if colleague_reads:
            assert theirs.status_code == 200
            assert theirs.json()["rejects"] == job["rejects"]
            assert q_theirs.data["importJob"]["rejects"] == job["rejects"]
            assert listed.data == {"importJobs": [{"id": job_id}]}
        else:
            assert (theirs.status_code, theirs.json()) == (absent.status_code, absent.json())
            assert absent.status_code == 404
            assert q_theirs.body == q_absent.body
            assert q_theirs.data == {"importJob": None}
            assert listed.data == {"importJobs": []}
    finally:
        await api.close()


@pytest.mark.parametrize(
    ("charset", "name"),
    [
        ("latin-1", "Société Générale"),
        ("ISO-8859-1", "Ã©cole Ltd"),  # bytes C3 A9: valid UTF-8, read as "école" before
        ('"utf-16"', "Société ✓ Générale"),
        ("windows-1252", "Smith – Sons"),
        ("utf-8", "Société Générale"),
    ],
)
async def test_a_body_is_decoded_with_the_charset_it_names(
    api: Api, charset: str, name: str
) -> None:
    token = api.token("GBR", DATA)
    text = f"key,marking,name,nation\nacme,CUI,{name},GBR\n"
    body = text.encode(charset.strip('"'))
    media = f"{CSV}; charset={charset}"
    posted = await _post(api, token, body, entity="suppliers", content_type=media)
    assert posted.status_code == 202, posted.text
    job = await _finished(api, token, posted.headers["location"])
    assert (job["state"], job["counts"]["created"], job["rejects"]) == ("succeeded", 1, [])
    read = await api.query(SUPPLIER_NAME, {"id": sid("GBR:acme")}, nation="GBR")
    assert read.data == {"supplier": {"name": name}}


@pytest.mark.parametrize("charset", ["x-klingon", "rot13", "unicode_escape"])
async def test_a_charset_that_is_not_a_known_text_encoding_is_415(
    api: Api, graph: Graph, charset: str
) -> None:
    body = b"key,marking,name,nation\nacme,CUI,Acme Ltd,GBR\n"
    media = f"{CSV}; charset={charset}"
    reply = await _post(api, api.token("GBR", DATA), body, entity="suppliers", content_type=media)
    assert reply.status_code == 415
    assert reply.json()["errors"][0] == {
        "message": f"unknown charset {charset!r}: send the body as UTF-8, or name a text "
        "encoding such as latin-1 or utf-16 in the Content-Type",
        "extensions": {"code": "UNSUPPORTED_MEDIA_TYPE", "charset": charset},
    }
    assert await _count(graph, "ImportJob") == 0


async def test_a_body_not_in_its_charset_is_400_naming_it(api: Api) -> None:
    media = f"{CSV}; charset=utf-16"
    body = b"key,marking,name,nation\nx"  # an odd number of bytes: not UTF-16
    reply = await _post(api, api.token("GBR", DATA), body, entity="suppliers", content_type=media)
    assert reply.status_code == 400
    assert reply.json()["errors"][0] == {
        "message": "the body is not utf-16 (byte 24)",
        "extensions": {"code": "BAD_USER_INPUT", "field": "body"},
    }


async def test_a_body_over_the_limit_is_413_with_the_limit(graph: Graph, tmp_path: Path) -> None:
    api = Api(graph, tmp_path, env={"DIBX_IMPORT_MAX_BYTES": "2048"})
    try:
        token = api.token("GBR", DATA)
        big = b"key,marking,name,nation\n" + b"x,CUI,Name,GBR\n" * 200
        declared = await _post(api, token, big, entity="suppliers")

        async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: cut off reading
            for _ in range(200):
                yield b"x,CUI,Name,GBR\n"

        sent = await api.client.post(
            "/imports",
            params={"entity": "suppliers"},
            content=streamed(),
            headers={**_auth(token), "Content-Type": CSV},
        )
        for reply in (declared, sent):
            assert reply.status_code == 413
            error = reply.json()["errors"][0]
            assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maximum": 2048}
            assert "2048 bytes" in error["message"]
        assert await _count(graph, "ImportJob") == 0
    finally:
        await api.close()


async def test_a_second_job_of_the_same_org_is_409_with_the_active_job(
    api: Api, graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No process runs jobs here, so the first stays queued (active) for as long as needed.
    monkeypatch.setattr(api.runtime.services.imports, "start", lambda: None)
    body = (EXAMPLES / "suppliers.csv").read_bytes()
    first = await _post(api, api.token("GBR", DATA, org="bae"), body, entity="suppliers")
    assert first.status_code == 202
    again = await _post(api, api.token("GBR", DATA, org="bae"), body, entity="suppliers")
    assert again.status_code == 409
    error = again.json()["errors"][0]
    assert error["extensions"] == {"code": "CONFLICT", "job": first.json()["id"]}
    assert again.headers["location"] == first.headers["location"]
    other_org = await _post(api, api.token("GBR", DATA, org="qinetiq"), body, entity="suppliers")
    assert other_org.status_code == 202
    assert await _count(graph, "ImportJob") == 2


@pytest.mark.parametrize(
    ("scopes", "entity", "wanted"),
    [
        (("supplier:read",), "suppliers", "data:write"),
        (DATA, "capabilities", "catalogue:write"),
        (("supplier:read",), None, "catalogue:write data:write"),
    ],
)
async def test_a_token_without_the_write_scope_is_refused(
    api: Api, graph: Graph, scopes: tuple[str, ...], entity: str | None, wanted: str
) -> None:
    token = api.token("GBR", scopes)
    media = CSV if entity else JSONL
    reply = await _post(api, token, b'{"type": "suppliers"}\n', entity=entity, content_type=media)
    assert reply.status_code == 403
    assert reply.json()["errors"][0]["extensions"] == {
        "code": "INSUFFICIENT_SCOPE",
        "scope": wanted,
    }
    assert 'error="insufficient_scope"' in reply.headers["www-authenticate"]
    assert await _count(graph, "ImportJob") == 0


class GraphWritesFail:
    """A sink whose disk fills when a write's own record is written; others pass."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("event") == "graph_write":
            raise AuditError("audit write failed: [Errno 28] No space left on device")
        self.records.append(dict(record))


async def test_a_submission_that_cannot_be_audited_is_503_and_stores_nothing(
    graph: Graph, tmp_path: Path
) -> None:
    sink = GraphWritesFail()
    api = Api(graph, tmp_path, sink=sink)
    try:
        reply = await _post(
            api,
            api.token("GBR", DATA),
            (EXAMPLES / "suppliers.csv").read_bytes(),
            entity="suppliers",
        )
        assert reply.status_code == 503
        assert reply.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
        assert await _count(graph, "ImportJob") == 0
        assert await _count(graph, "ImportChunk") == 0
        assert [r["error_codes"] for r in sink.records] == [["AUDIT_UNAVAILABLE"]]
    finally:
        await api.close()


IMPORT_ROWS = """mutation I($data: String!, $dry: Boolean!) {
  importRows(entity: "suppliers", format: CSV, data: $data, dryRun: $dry) {
    dryRun counts { read created updated unchanged rejected valid }
    rejects { file line column code reason } } }"""


async def test_import_rows_runs_the_engine_on_a_small_batch(graph: Graph, tmp_path: Path) -> None:
    api = Api(graph, tmp_path, env={"DIBX_IMPORT_ROWS_MAX": "2"})
    try:
        await api.load(reference())
        data = (EXAMPLES / "suppliers.csv").read_text()
        dry = await api.query(IMPORT_ROWS, {"data": data, "dry": True}, nation="GBR", scopes=DATA)
        assert dry.errors == []
        assert dry.data["importRows"]["counts"]["valid"] == 2
        done = await api.query(IMPORT_ROWS, {"data": data, "dry": False}, nation="GBR", scopes=DATA)
        assert done.errors == []
        assert done.data["importRows"]["counts"] == {
            "read": 2,
            "created": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 0,
            "valid": 0,
        }
        over = await api.query(
            IMPORT_ROWS,
            {"data": data + "third,CUI,Third,,,,,,,GBR,\n", "dry": True},
            nation="GBR",
            scopes=DATA,
        )
        assert over.data is None
        assert over.errors[0]["extensions"] == {
            "code": "LIMIT_EXCEEDED",
            "limit": "importRows",
            "maximum": 2,
            "measured": 3,
        }
    finally:
        await api.close()


async def test_import_rows_drops_a_byte_order_mark_as_post_imports_does(api: Api) -> None:
    """A CSV saved by a spreadsheet starts with a byte-order mark; a client that reads it as
    text keeps it. POST /imports drops it; importRows read it as part of the first column's
    name and refused the whole file."""
    data = "\ufeff" + (EXAMPLES / "suppliers.csv").read_text()
    done = await api.query(IMPORT_ROWS, {"data": data, "dry": False}, nation="GBR", scopes=DATA)
    assert done.errors == []
    assert done.data["importRows"]["rejects"] == []
    assert done.data["importRows"]["counts"]["created"] == 2


class BatchRecordsFail:
    """A sink that takes every record but those of the engine's batch writes."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("event") == "graph_write" and record.get("action") == "import":
            raise AuditError("audit write failed: [Errno 28] No space left on device")
        self.records.append(dict(record))


async def test_a_job_whose_writes_cannot_be_audited_fails_with_what_was_written(
    graph: Graph, tmp_path: Path
) -> None:
    sink = BatchRecordsFail()
    api = Api(graph, tmp_path, sink=sink, env={"DIBX_IMPORT_MAX_ATTEMPTS": "1"})
    try:
        await api.load(reference())
        token = api.token("GBR", DATA)
        body = (EXAMPLES / "suppliers.csv").read_bytes()
        posted = await _post(api, token, body, entity="suppliers")
        assert posted.status_code == 202
        job = await _finished(api, token, posted.headers["location"])
        assert job["state"] == "failed"
        assert "audit" in job["error"]
        assert job["counts"]["created"] == 0
        assert job["written"] == "0 rows created and 0 updated before it stopped (counts)"
        row = await graph.read_one("MATCH (s:Supplier) RETURN count(s) AS n")
        assert row == {"n": 0}
        finished = [r for r in sink.records if r.get("action") == "importFinished"]
        assert [r["state"] for r in finished] == ["failed"]
    finally:
        await api.close()
