"""A write commits only if its audit record is durable (DESIGN, promise 6), over a real Neo4j.

Invariants:
* `Graph.write(..., before_commit=hook)` runs the hook after the statement and before COMMIT:
  the hook sees the statement's rows while other sessions do not yet see the write; a hook
  that raises rolls the write back.
* Each challenge mutation (challengeMarking, decideChallenge, escalateChallenge) writes its
  `graph_write` record (who, what, target, old and new marking and state) before it commits.
* With the audit sink full (the real full device /dev/full, or a disk that fills just as the
  write's record is written) each of them answers 503 AUDIT_UNAVAILABLE with no data, and the
  graph is exactly as before: read directly, not through the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from dibx.graph.driver import Graph
from dibx.neo4j_server import free_port
from dibx.services.audit import AuditError, AuditSink, FileSink, MemorySink, sink_from
from tests.support.api import Api, Reply
from tests.support.challenges import (
    CHALLENGER,
    ESCALATE,
    NOFORN,
    REL_GBR,
    US_ADJUDICATING_ORG,
    data,
    decide,
    file,
    filed_id,
)

pytestmark = pytest.mark.neo4j

Rows = list[dict[str, Any]]

FULL_DEVICE = Path("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
SNAPSHOT = (
    "MATCH (n) OPTIONAL MATCH (n)-[r]->(m) "
    "WITH n, collect([type(r), properties(r), elementId(m)]) AS out "
    "RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props, out "
    "ORDER BY id"
)


async def snapshot(graph: Graph) -> list[dict[str, Any]]:
    """Every node, its properties and outgoing edges, read straight from Neo4j."""
    return await graph.read(SNAPSHOT)


class DiskFillsOnWrite:
    """A sink whose disk fills just as a write's own record is written: request records pass."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("event") == "graph_write":
            raise AuditError("audit write failed: [Errno 28] No space left on device")
        self.records.append(dict(record))


class CommitProbe(MemorySink):
    """A working sink that, on each write record, reads the graph from another session: what
    it sees then is the graph before the write, if the record precedes the commit."""

    def __init__(self, graph: Graph, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.graph = graph
        self.loop = loop
        self.seen: list[list[dict[str, Any]]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        super().write(record)
        if record.get("event") == "graph_write":
            # The sink runs in a worker thread; the read runs on the app's event loop.
            self.seen.append(
                asyncio.run_coroutine_threadsafe(snapshot(self.graph), self.loop).result()
            )


# -- the three mutations, each from the state it needs -----------------------------------------

Mutation = Callable[[Api, str | None], Awaitable[Reply]]


async def _prepare_file(api: Api) -> str | None:
    return None


async def _prepare_decide(api: Api) -> str | None:
    return await filed_id(api)


async def _prepare_escalate(api: Api) -> str | None:
    cid = await filed_id(api)
    reply = await decide(api, cid, "UPHOLD")
    assert reply.errors == [], reply.body
    return cid


async def _file(api: Api, _: str | None) -> Reply:
    return await file(api)


async def _decide(api: Api, cid: str | None) -> Reply:
    assert cid is not None
    return await decide(api, cid, "CHANGE", "PUBLIC")


async def _escalate(api: Api, cid: str | None) -> Reply:
    variables = {"id": cid, "reason": "The figure is in the annual report."}
    return await api.query(ESCALATE, variables, nation="GBR", scopes=CHALLENGER)


MUTATIONS = {
    "challengeMarking": (_prepare_file, _file),
    "decideChallenge": (_prepare_decide, _decide),
    "escalateChallenge": (_prepare_escalate, _escalate),
}


def full_device() -> AuditSink:
    return FileSink(FULL_DEVICE)


def dead_syslog() -> AuditSink:
    """Syslog over TCP to a port nobody listens on: the receiver is down."""
    return sink_from(f"syslog+tcp://127.0.0.1:{free_port()}")


# -- the graph's write path ----------------------------------------------------------------------


async def test_a_failing_before_commit_hook_rolls_the_write_back(graph: Graph) -> None:
    seen: list[Rows] = []

    async def refuse(rows: Rows) -> None:
        seen.append(rows)
        raise AuditError("audit write failed: [Errno 28] No space left on device")

    with pytest.raises(AuditError):
        await graph.write(
            "CREATE (p:Probe {k: $k}) RETURN p.k AS k", {"k": 1}, before_commit=refuse
        )
    assert seen == [[{"k": 1}]]  # the statement ran, then the hook refused
    rows = await graph.read("MATCH (p:Probe) RETURN count(p) AS n")
    assert rows == [{"n": 0}]


async def test_the_hook_runs_before_commit_and_then_the_write_commits(graph: Graph) -> None:
    during: list[Rows] = []

    async def look(rows: Rows) -> None:
        # Another session does not see the write yet: the hook runs before COMMIT.
        during.append(await graph.read("MATCH (p:Probe) RETURN count(p) AS n"))

    rows = await graph.write("CREATE (p:Probe {k: 1}) RETURN p.k AS k", before_commit=look)
    assert rows == [{"k": 1}]
    assert during == [[{"n": 0}]]
    assert await graph.read("MATCH (p:Probe) RETURN count(p) AS n") == [{"n": 1}]


# -- a full audit sink during each mutation -------------------------------------------------------


SINKS = [
    pytest.param(
        full_device,
        id="dev-full",
        marks=pytest.mark.skipif(not FULL_DEVICE.exists(), reason="no /dev/full here"),
    ),
    pytest.param(DiskFillsOnWrite, id="fills-on-write"),
    pytest.param(dead_syslog, id="syslog-down"),
]


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_a_full_audit_sink_refuses_the_mutation_and_commits_nothing(
    api: Api, tmp_path: Path, mutation: str, sink: Callable[[], AuditSink]
) -> None:
    await api.load(data())
    prepare, run = MUTATIONS[mutation]
    cid = await prepare(api)  # the state each mutation needs, written with a working sink
    before = await snapshot(api.graph)

    full = Api(api.graph, tmp_path, sink=sink())
    try:
        reply = await run(full, cid)
    finally:
        await full.close()

    assert reply.status == 503, reply.body
    assert reply.data is None
    assert [e["extensions"]["code"] for e in reply.errors] == ["AUDIT_UNAVAILABLE"]
    assert "refused" in reply.errors[0]["message"]
    assert await snapshot(api.graph) == before  # no challenge, state or marking changed


async def test_the_request_record_says_why_when_only_the_write_record_failed(
    api: Api, tmp_path: Path
) -> None:
    await api.load(data())
    cid = await filed_id(api)
    sink = DiskFillsOnWrite()
    full = Api(api.graph, tmp_path, sink=sink)
    try:
        reply = await decide(full, cid, "CHANGE", "PUBLIC")
    finally:
        await full.close()
    assert reply.status == 503
    [request] = sink.records
    assert (request["event"], request["outcome"]) == ("graphql_request", "error")
    assert "AUDIT_UNAVAILABLE" in request["error_codes"]
    assert request["writes"] == []


# -- a working sink: the write's record, before its commit ---------------------------------------


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_each_mutation_records_its_write_before_it_commits(
    api: Api, tmp_path: Path, mutation: str
) -> None:
    await api.load(data())
    prepare, run = MUTATIONS[mutation]
    cid = await prepare(api)
    before = await snapshot(api.graph)
    probe = CommitProbe(api.graph, asyncio.get_running_loop())
    working = Api(api.graph, tmp_path, sink=probe)
    try:
        reply = await run(working, cid)
    finally:
        await working.close()

    assert reply.status == 200, reply.body
    assert reply.errors == [], reply.body
    events = [r["event"] for r in probe.records]
    assert events == ["graph_write", "graphql_request"]  # the write's record comes first
    write, request = probe.records
    assert probe.seen == [before]  # when it was written, the write had not committed
    assert await snapshot(api.graph) != before  # and then it did
    assert request["writes"] == [write["write_id"]]
    assert write["action"] == mutation
    assert write["outcome"] == "committing"
    assert write["target"] == {"type": "Supplier", "key": "masked", "field": "employees"}
    assert write["policy_version"] == request["policy_version"]
    who = ("subject", "nation", "org", "token_id", "operation")
    assert {k: write[k] for k in who} == {k: request[k] for k in who}


async def test_the_decision_record_names_the_old_and_new_marking(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api)
    reply = await decide(api, cid, "CHANGE", REL_GBR)
    assert reply.errors == [], reply.body
    [write] = [r for r in api.audit.records if r["event"] == "graph_write"][-1:]
    assert write["challenge"] == cid
    assert (write["subject"], write["nation"], write["org"]) == (
        "user-usa",
        "USA",
        US_ADJUDICATING_ORG,
    )
    assert (write["state_before"], write["state_after"]) == ("PENDING", "CHANGED")
    assert (write["marking_before"], write["marking_after"]) == (NOFORN, REL_GBR)
    assert write["decision"] == "CHANGE"
    stored = await api.graph.read(
        "MATCH (s:Supplier {id: 'masked'}) RETURN s.marking_employees AS m"
    )
    assert stored == [{"m": REL_GBR}]
