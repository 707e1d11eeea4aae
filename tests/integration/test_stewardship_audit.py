"""Every stewarded write is audited before it commits; a failed audit record rolls it back.

With a sink that refuses the write's own record (a disk filling just then) or a full device,
each mutation answers 503 AUDIT_UNAVAILABLE and the graph is exactly as before, read straight
from Neo4j. With a working sink, the `graph_write` record carries who, the operation and per
change the kind, version and before/after digests, and is written while other sessions do not
yet see the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from dibx.graph.driver import Graph
from dibx.services.audit import AuditError, AuditSink, FileSink, MemorySink
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    APPLY,
    CREATE_SUPPLIER,
    RETIRE_SUPPLIER,
    SET_PROVIDES,
    UPDATE_SUPPLIER,
    cid,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j

FULL_DEVICE = Path("/dev/full")
SNAPSHOT = (
    "MATCH (n) OPTIONAL MATCH (n)-[r]->(m) "
    "WITH n, collect([type(r), properties(r), elementId(m)]) AS out "
    "RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props, out ORDER BY id"
)


async def snapshot(graph: Graph) -> list[dict[str, Any]]:
    return await graph.read(SNAPSHOT)


class FillsOnWrite:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("event") == "graph_write":
            raise AuditError("audit write failed: [Errno 28] No space left on device")
        self.records.append(dict(record))


class CommitProbe(MemorySink):
    def __init__(self, graph: Graph, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.graph, self.loop = graph, loop
        self.seen: list[list[dict[str, Any]]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        super().write(record)
        if record.get("event") == "graph_write":
            self.seen.append(
                asyncio.run_coroutine_threadsafe(snapshot(self.graph), self.loop).result()
            )


def data() -> Any:
    return b.dataset(
        suppliers=[b.supplier("bae", "GBR", record="CUI", employees=5)],
        capabilities=[b.capability("cap", record="CUI")],
    )


UPDATE = {
    "id": sid("bae"),
    "expectedVersion": 1,
    "fields": {"employees": {"value": 6, "marking": "PUBLIC"}},
}
MUTATIONS: dict[str, tuple[str, Any]] = {
    "createSupplier": (CREATE_SUPPLIER, supplier_input("new")),
    "updateSupplier": (UPDATE_SUPPLIER, UPDATE),
    "retireSupplier": (RETIRE_SUPPLIER, {"id": sid("bae"), "expectedVersion": 1}),
    "setProvides": (
        SET_PROVIDES,
        {"supplier": sid("bae"), "capability": cid("cap"), "marking": "CUI"},
    ),
    "applyChanges": (APPLY, [{"updateSupplier": UPDATE}, {"createSupplier": supplier_input("n2")}]),
}
SINKS: list[Any] = [
    pytest.param(FillsOnWrite, id="fills-on-write"),
    pytest.param(
        lambda: FileSink(FULL_DEVICE),
        id="dev-full",
        marks=pytest.mark.skipif(not FULL_DEVICE.exists(), reason="no /dev/full here"),
    ),
]


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_a_failed_audit_record_rolls_the_write_back(
    api: Api, tmp_path: Path, mutation: str, sink: Callable[[], AuditSink]
) -> None:
    await api.load(data())
    before = await snapshot(api.graph)
    document, input = MUTATIONS[mutation]
    full = Api(api.graph, tmp_path, sink=sink())
    try:
        reply = await write(full, document, input)
    finally:
        await full.close()
    assert reply.status == 503, reply.body
    assert reply.data is None
    assert [e["extensions"]["code"] for e in reply.errors] == ["AUDIT_UNAVAILABLE"]
    assert await snapshot(api.graph) == before


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
async def test_the_write_record_is_durable_before_the_commit(
    api: Api, tmp_path: Path, mutation: str
) -> None:
    await api.load(data())
    before = await snapshot(api.graph)
    probe = CommitProbe(api.graph, asyncio.get_running_loop())
    working = Api(api.graph, tmp_path, sink=probe)
    document, input = MUTATIONS[mutation]
    try:
        reply = await write(working, document, input)
    finally:
        await working.close()
    assert reply.status == 200, reply.body
    assert reply.errors == [], reply.body
    assert [r["event"] for r in probe.records] == ["graph_write", "graphql_request"]
    record, request = probe.records
    assert probe.seen == [before]  # written while the change was not yet visible
    assert await snapshot(api.graph) != before
    assert request["writes"] == [record["write_id"]]
    assert record["action"] == mutation
    assert (record["nation"], record["subject"]) == ("GBR", "user-gbr")
    for change in record["changes"]:
        assert len(change["after"]) == 64
        assert change["kind"] in ("created", "updated", "retired")
        assert (change["before"] is None) == (change["kind"] == "created")


async def test_a_refused_write_leaves_no_write_record(api: Api) -> None:
    await api.load(data())
    reply = await write(api, UPDATE_SUPPLIER, {**UPDATE, "expectedVersion": 9})
    assert reply.status == 200
    assert [r["event"] for r in api.audit.records] == ["graphql_request"]
