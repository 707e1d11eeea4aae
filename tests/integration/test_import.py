"""Bulk import over a real Neo4j: the example files, rejects by line, idempotence, history."""

from __future__ import annotations

from pathlib import Path

import pytest

from dibx.exchange.importer import ImportReport, Source, operator, run_import
from dibx.services.audit import MemorySink, WriteAudit
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import sid

pytestmark = pytest.mark.neo4j

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "exchange"
CATALOGUE = ("capabilities.csv", "requires.csv")
GBR_FILES = ("suppliers.csv", "provides.csv", "sources_from.csv", "subsidiary_of.csv", "gbr.jsonl")

OFFERS = """
query S($id: ID!) { supplier(id: $id) {
  key name employees marking
  nation { code }
  capabilities { edges { capacity unit trl node { key name } } }
  suppliers { edges { item share node { key } } }
  subsidiaries { edges { share node { key } } }
} }
"""


def files(*names: str) -> list[Source]:
    return [Source(n, (EXAMPLES / n).open("rb"), (EXAMPLES / n).stat().st_size) for n in names]


async def imported(
    api: Api, nation: str, sources: list[Source], sink: MemorySink | None = None, **kw: object
) -> ImportReport:
    policy = api.runtime.policy
    audit = WriteAudit(sink or MemorySink(), operation="import", policy_version=policy.version)
    return await run_import(
        api.graph,
        policy,
        operator(policy, nation),
        sources,
        audit=audit,
        **kw,  # type: ignore[arg-type]
    )


async def test_example_files_import_and_read_back_as_gbr(api: Api) -> None:
    await api.load(b.dataset())
    sink = MemorySink()
    usa = await imported(api, "USA", files(*CATALOGUE), sink)
    assert usa.rejects == []
    assert (usa.read, usa.created, usa.rejected) == (3, 3, 0)
    gbr = await imported(api, "GBR", files(*GBR_FILES), sink)
    assert gbr.rejects == [], [str(r) for r in gbr.rejects]
    assert (gbr.read, gbr.created, gbr.updated, gbr.unchanged) == (7, 7, 0, 0)
    assert {r["event"] for r in sink.records} == {"graph_write"}
    assert all(r["action"] == "import" for r in sink.records)

    reply = await api.query(OFFERS, {"id": sid("GBR:acme-magnetics")}, nation="GBR")
    assert reply.errors == [], reply.body
    acme = reply.data["supplier"]
    assert acme["name"] == "Acme Magnetics Ltd"
    assert acme["employees"] == 420
    assert acme["nation"] == {"code": "GBR"}
    offer = acme["capabilities"]["edges"][0]
    assert (offer["capacity"], offer["unit"], offer["trl"]) == (1200.0, "tonnes", 8)
    assert offer["node"]["key"] == "USA:cap.sintered-ndfeb"
    assert acme["suppliers"]["edges"][0]["node"]["key"] == "GBR:north-sea-alloys"
    assert acme["subsidiaries"]["edges"][0]["share"] == 0.51

    # Stored as a mutation stores it: origin, version 1 and a created state per record/edge.
    rows = await api.graph.read(
        "MATCH (s:Supplier {id: 'GBR:acme-magnetics'})<-[:STATE_OF]-(st:SupplierState) "
        "RETURN s.originNation AS o, s.version AS v, st.kind AS kind, st.BASED_IN AS nation"
    )
    assert rows == [{"o": "GBR", "v": 1, "kind": "created", "nation": "GBR"}]
    states = await api.graph.read("MATCH (st:ProvidesState) RETURN count(st) AS n")
    assert states == [{"n": 2}]

    # The same files again change nothing: no new state, no new version, no audit record.
    before = len(sink.records)
    again = await imported(api, "GBR", files(*GBR_FILES), sink)
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 7, 0)
    assert len(sink.records) == before
    states = await api.graph.read(
        "MATCH (st) WHERE st:SupplierState OR st:ProvidesState OR st:SourcesFromState "
        "OR st:SubsidiaryOfState RETURN count(st) AS n"
    )
    assert states == [{"n": 7}]
