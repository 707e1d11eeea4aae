"""Bulk import over a real Neo4j: the example files, rejects by line, idempotence, history."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dibx.exchange.importer import ImportReport, Source, operator, run_import
from dibx.services.audit import AuditError, MemorySink, WriteAudit
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    CREATE_SUPPLIER,
    HISTORY,
    REL_GBR,
    payload,
    sid,
    supplier_input,
    write,
)

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


async def test_import_stores_what_a_mutation_stores(api: Api, tmp_path: Path) -> None:
    """The same supplier created by `createSupplier` and by an import row: the same record,
    BASED_IN and state properties, but for the key, the clock and who did it."""
    await api.load(b.dataset())
    reply = await write(api, CREATE_SUPPLIER, supplier_input("by-api", record=REL_GBR, city=None))
    assert payload(reply)["userErrors"] == []
    data = tmp_path / "suppliers.csv"
    data.write_text(
        "key,marking,name,name.marking,employees,employees.marking,nation,nation.marking\n"
        f'by-import,"{REL_GBR}",Acme Ltd,CUI,100,CUI,GBR,CUI\n',
        encoding="utf-8",
    )
    policy = api.runtime.policy
    report = await run_import(
        api.graph,
        policy,
        operator(policy, "GBR", "test-org"),
        [Source(data.name, data.open("rb"))],
        audit=WriteAudit(MemorySink(), operation="import"),
    )
    assert (report.created, report.rejected) == (1, 0), [str(r) for r in report.rejects]
    rows = await api.graph.read(
        "MATCH (st)-[:STATE_OF]->(s:Supplier)-[l:BASED_IN]->() "
        "RETURN s.id AS key, properties(s) AS s, properties(l) AS l, properties(st) AS st "
        "ORDER BY key"
    )
    # Ids, clocks, who, and the change feed's position and commit time.
    volatile = (
        *("id", "markedAt", "reviewBy", "markedBySubject", "validFrom", "actor"),
        *("seq", "committedAt"),
    )

    def stable(props: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in props.items() if not k.startswith(volatile)}

    by_api, by_import = rows
    assert (by_api["key"], by_import["key"]) == ("GBR:by-api", "GBR:by-import")
    for part in ("s", "l", "st"):
        assert stable(by_import[part]) == stable(by_api[part]), part
    assert set(by_import["s"]) == set(by_api["s"])


async def test_changed_rows_update_with_history_and_others_records_are_refused(
    api: Api, tmp_path: Path
) -> None:
    await api.load(b.dataset())
    assert (await imported(api, "USA", files(*CATALOGUE))).rejected == 0
    assert (await imported(api, "GBR", files("suppliers.csv"))).created == 2
    lines = (EXAMPLES / "suppliers.csv").read_text(encoding="utf-8").splitlines()
    changed = tmp_path / "suppliers.csv"
    changed.write_text("\n".join([lines[0], lines[1].replace(",420,", ",500,")]) + "\n")
    report = await imported(api, "GBR", [Source(changed.name, [changed.read_text()])])
    assert (report.updated, report.unchanged, report.rejected) == (1, 0, 0)
    hist = await api.query(HISTORY, {"id": sid("GBR:acme-magnetics")}, nation="GBR")
    assert hist.errors == [], hist.body
    revs = hist.data["supplier"]["history"]
    assert [(r["kind"], r["version"]) for r in revs] == [("UPDATED", 2), ("CREATED", 1)]
    assert [(c["field"], c["oldValue"], c["newValue"]) for c in revs[0]["changes"]] == [
        ("employees", 420, 500)
    ]

    # A marking change needs its reason, as a mutation does.
    remarked = lines[1].replace(',"CUI//REL TO USA, FVEY",Acme', ',"CUI//REL TO USA, GBR",Acme')
    report = await imported(api, "GBR", [Source("suppliers.csv", [lines[0] + "\n", remarked])])
    assert [(r.line, r.column, r.code) for r in report.rejects] == [
        (2, "reason", "REASON_REQUIRED")
    ]
    header = lines[0] + ",reason\n"
    report = await imported(
        api,
        "GBR",
        [Source("suppliers.csv", [header, remarked.replace(",500,", ",420,") + ",narrowed\n"])],
    )
    assert (report.updated, report.rejected) == (1, 0)

    # USA may see GBR's supplier but not change its links.
    offer = "supplier,capability,marking\nGBR:acme-magnetics,cap.gan-mmic,CUI\n"
    report = await imported(api, "USA", [Source("provides.csv", [offer])])
    assert [(r.column, r.code) for r in report.rejects] == [("supplier", "FORBIDDEN")]


class _FailingSink:
    def write(self, record: Mapping[str, Any]) -> None:
        raise AuditError("the audit disk is full")


async def test_a_batch_whose_audit_record_fails_is_rolled_back(api: Api) -> None:
    await api.load(b.dataset())
    policy = api.runtime.policy
    report = await run_import(
        api.graph,
        policy,
        operator(policy, "GBR"),
        files("suppliers.csv"),
        audit=WriteAudit(_FailingSink(), operation="import"),
    )
    assert report.stopped == "the audit disk is full"
    assert report.created == 0
    rows = await api.graph.read(
        "MATCH (n) WHERE n:Supplier OR n:SupplierState RETURN count(n) AS n"
    )
    assert rows == [{"n": 0}]
