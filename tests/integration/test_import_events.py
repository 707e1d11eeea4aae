"""Bulk import appends change events as stewarded writes do (docs/changes.md)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dibx.exchange.importer import Source, operator, run_import
from dibx.graph.outbox import pending_count
from dibx.services.audit import AuditError, WriteAudit
from tests.integration.test_changes import changes
from tests.integration.test_import import CATALOGUE, EXAMPLES, GBR_FILES, files, imported
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import REL_GBR, created, sid, supplier_input

pytestmark = pytest.mark.neo4j

RECORDS = ["SUPPLIER", "CAPABILITY", "PROVIDES", "SOURCES_FROM", "SUBSIDIARY_OF", "REQUIRES"]
READ = "query S($id: ID!) { supplier(id: $id) { key } }"
GBR_SUPPLIERS = ("GBR:acme-magnetics", "GBR:north-sea-alloys", "GBR:fenland-optics")


async def feed(api: Api, nation: str, after: str | None = None) -> dict[str, Any]:
    return await changes(api, nation, types=RECORDS, first=100, after=after)


def summary(page: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return sorted((c["kind"], c["type"], c["id"]) for c in page["changes"])


def fields(event: dict[str, Any]) -> dict[str, tuple[Any, bool, str | None]]:
    return {f["field"]: (f["value"], f["released"], f["marking"]) for f in event["fields"]}


async def readable(api: Api, nation: str, key: str) -> bool:
    reply = await api.query(READ, {"id": sid(key)}, nation=nation)
    assert reply.errors == [], reply.body
    return reply.data["supplier"] is not None


async def test_example_files_are_created_events_for_who_may_see_them(api: Api) -> None:
    await api.load(b.dataset())
    start = {n: (await feed(api, n))["endCursor"] for n in ("GBR", "AUS", "CHN")}
    assert (await imported(api, "USA", files(*CATALOGUE))).rejected == 0
    assert (await imported(api, "GBR", files(*GBR_FILES))).rejected == 0
    assert await pending_count(api.graph) == 0

    gbr = await feed(api, "GBR", start["GBR"])
    assert {k for k, _, _ in summary(gbr)} == {"CREATED"}
    assert sorted(t for _, t, _ in summary(gbr)) == sorted(
        ["CAPABILITY"] * 2
        + ["SUPPLIER"] * 3
        + ["PROVIDES"] * 2
        + ["REQUIRES"]
        + ["SOURCES_FROM", "SUBSIDIARY_OF"]
    )
    # A supplier is an event for a nation exactly when that nation may read it.
    for nation in ("AUS", "CHN"):
        page = await feed(api, nation, start[nation])
        seen = {i for _, t, i in summary(page) if t == "SUPPLIER"}
        expected = {sid(k) for k in GBR_SUPPLIERS if await readable(api, nation, k)}
        assert seen == expected, nation
    aus = await feed(api, "AUS", start["AUS"])
    assert sid("GBR:acme-magnetics") in {i for _, _, i in summary(aus)}
    assert sid("GBR:north-sea-alloys") not in {i for _, _, i in summary(aus)}
    # Edges to a supplier AUS cannot see are no event for AUS.
    assert {t for _, t, _ in summary(aus)} & {"SOURCES_FROM", "SUBSIDIARY_OF"} == set()
    assert (await feed(api, "CHN", start["CHN"]))["changes"] == []

    # Field by field: AUS sees acme's employees withheld, GBR sees the value.
    acme = sid("GBR:acme-magnetics")
    by_gbr = next(c for c in gbr["changes"] if c["id"] == acme)
    by_aus = next(c for c in aus["changes"] if c["id"] == acme)
    assert fields(by_gbr)["employees"][:2] == (420, True)
    assert fields(by_aus)["employees"][:2] == (None, False)

    # The same files again: nothing changed, no event.
    again = await imported(api, "GBR", files(*GBR_FILES))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 7)
    assert (await feed(api, "GBR", gbr["endCursor"]))["changes"] == []
    assert await pending_count(api.graph) == 0


async def test_an_updated_row_is_an_updated_event_with_only_what_changed(
    api: Api, tmp_path: Path
) -> None:
    await api.load(b.dataset())
    assert (await imported(api, "USA", files(*CATALOGUE))).rejected == 0
    assert (await imported(api, "GBR", files("suppliers.csv"))).created == 2
    cursors = {n: (await feed(api, n))["endCursor"] for n in ("GBR", "AUS")}
    lines = (EXAMPLES / "suppliers.csv").read_text(encoding="utf-8").splitlines()
    changed = "\n".join([lines[0], lines[1].replace(",420,", ",500,")]) + "\n"
    report = await imported(api, "GBR", [Source("suppliers.csv", [changed])])
    assert (report.updated, report.rejected) == (1, 0)
    assert await pending_count(api.graph) == 0
    gbr = (await feed(api, "GBR", cursors["GBR"]))["changes"]
    assert [(c["kind"], c["id"]) for c in gbr] == [("UPDATED", sid("GBR:acme-magnetics"))]
    assert fields(gbr[0]) == {"employees": (500, True, "CUI//PROPIN//REL TO USA, GBR")}
    # AUS may not read employees, before or after, under the same marking: no event.
    assert (await feed(api, "AUS", cursors["AUS"]))["changes"] == []


async def test_an_imported_record_is_the_event_a_mutation_writes(api: Api, tmp_path: Path) -> None:
    await api.load(b.dataset())
    cursor = (await feed(api, "USA"))["endCursor"]
    await created(api, supplier_input("by-api", record=REL_GBR, city=None))
    data = (
        "key,marking,name,name.marking,employees,employees.marking,nation,nation.marking\n"
        f'by-import,"{REL_GBR}",Acme Ltd,CUI,100,CUI,GBR,CUI\n'
    )
    report = await imported(api, "GBR", [Source("suppliers.csv", [data])])
    assert (report.created, report.rejected) == (1, 0)
    by_api, by_import = (await feed(api, "USA", cursor))["changes"]
    assert (by_api["id"], by_import["id"]) == (sid("GBR:by-api"), sid("GBR:by-import"))
    for part in ("kind", "type", "marking"):
        assert by_import[part] == by_api[part], part
    assert fields(by_import) == fields(by_api)


class _FailingSink:
    def write(self, record: Mapping[str, Any]) -> None:
        raise AuditError("the audit disk is full")


async def test_no_pending_state_after_a_dry_run_a_refused_row_or_a_failed_audit(
    api: Api,
) -> None:
    await api.load(b.dataset())
    assert (await imported(api, "USA", files("capabilities.csv"))).rejected == 0
    cursor = (await feed(api, "USA"))["endCursor"]
    cycle = (
        "capability,requires,marking\n"
        "cap.gan-mmic,cap.sintered-ndfeb,CUI\ncap.sintered-ndfeb,cap.gan-mmic,CUI\n"
    )
    dry = await imported(api, "USA", [Source("requires.csv", [cycle])], dry_run=True)
    assert dry.dry_run
    assert await pending_count(api.graph) == 0
    assert (await feed(api, "USA", cursor))["changes"] == []

    # The second row closes a cycle: the batch is rolled back and run again without it.
    report = await imported(api, "USA", [Source("requires.csv", [cycle])])
    assert (report.created, [r.code for r in report.rejects]) == (1, ["INVALID"])
    assert await pending_count(api.graph) == 0
    page = await feed(api, "USA", cursor)
    assert summary(page) == [("CREATED", "REQUIRES", None)]

    policy = api.runtime.policy
    failed = await run_import(
        api.graph,
        policy,
        operator(policy, "GBR"),
        files("suppliers.csv"),
        audit=WriteAudit(_FailingSink(), operation="import"),
    )
    assert failed.stopped == "the audit disk is full"
    assert await pending_count(api.graph) == 0
    assert (await feed(api, "USA", page["endCursor"]))["changes"] == []
