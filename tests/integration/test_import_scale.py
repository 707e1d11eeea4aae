"""Bulk import at scale over a real Neo4j: synthetic files with malformed rows, a re-run that
changes nothing, and a SIGKILL half-way that a re-run repairs into exactly a clean run's graph.

DIBX_IMPORT_ROWS sets the size (default 2,000 rows: 20,000 took 4-5 minutes
on a loaded machine; the issue's figure is DIBX_IMPORT_ROWS=100000).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sys
from asyncio.subprocess import DEVNULL, PIPE, STDOUT
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dibx.exchange.importer import ImportReport, Source, operator, run_import
from dibx.exchange.samples import write_files
from dibx.graph import tallies
from dibx.graph.driver import Graph
from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from dibx.ingest.reference import nation_records
from dibx.services.audit import MemorySink, WriteAudit
from tests.support import builders as b
from tests.support.api import Api
from tests.support.exchange import export

pytestmark = pytest.mark.neo4j

ROWS = int(os.environ.get("DIBX_IMPORT_ROWS", "2000"))
ROWS_PER_SUPPLIER = 4.85  # what the synthetic generator gives, all entities together
ORDER = ("suppliers", "capabilities", "provides", "sources_from", "subsidiary_of", "requires")


async def _reference(api_or_graph: Api) -> None:
    """The test nations and memberships, and every other ISO nation (suppliers are based
    anywhere)."""
    extra = [n for n in nation_records() if n.key not in b.NATIONS]
    await api_or_graph.load(b.dataset().merged(Dataset.of(extra)))


def _paths(directory: Path) -> list[Path]:
    return [directory / f"{name}.csv" for name in ORDER]


def _sources(directory: Path) -> list[Source]:
    return [Source(p.name, p.open("rb"), p.stat().st_size) for p in _paths(directory)]


async def _import(api: Api, directory: Path, **kw: Any) -> ImportReport:
    policy = api.runtime.policy
    audit = WriteAudit(MemorySink(), operation="import", policy_version=policy.version)
    return await run_import(
        api.graph, policy, operator(policy, "USA"), _sources(directory), audit=audit, **kw
    )


def _rewrite(path: Path, change: Mapping[int, Any]) -> None:
    """Replace data rows (1-based file line -> new cells, or a raw text line) in a CSV."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        for number, row in enumerate(rows, start=1):
            new = change.get(number, row)
            if isinstance(new, str):
                f.write(new + "\n")
            else:
                w.writerow(new)


def _corrupt(directory: Path) -> tuple[dict[tuple[str, int], str], set[str]]:
    """Break about 1% of the rows in several ways; returns the expected reject code per
    (file, line) of the rows broken on purpose, and the keys of the suppliers broken."""
    expected: dict[tuple[str, int], str] = {}
    bad_suppliers: set[str] = set()
    path = directory / "suppliers.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    col = {name: i for i, name in enumerate(header)}
    ways = [
        ("employees", "many", "INVALID"),  # a bad number
        ("name.marking", "CUI//BOGUS", "MARKING_INVALID"),  # a bad marking
        ("marking", "PUBLIC", "MARKING_BELOW_FLOOR"),  # below the policy's floor
        ("cage", "no!", "INVALID"),  # a value its column does not take
        ("name", "", "INVALID"),  # a required value missing
        ("nation", "ZZZ", "NOT_FOUND"),  # a nation that does not exist
    ]
    change: dict[int, Any] = {}
    for n, line in enumerate(range(11, len(rows) + 1, 100)):
        column, value, code = ways[n % len(ways)]
        row = list(rows[line - 1])
        row[col[column]] = value
        change[line] = row
        expected[("suppliers.csv", line)] = code
        bad_suppliers.add(row[col["key"]])
    _rewrite(path, change)

    # Edges: an out-of-range value, an end that does not exist, a line of the wrong shape.
    path = directory / "provides.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    col = {name: i for i, name in enumerate(rows[0])}
    change = {}
    for n, line in enumerate(range(17, len(rows) + 1, 60)):
        row = list(rows[line - 1])
        if row[col["supplier"]] in bad_suppliers:
            continue
        if n % 3 == 0:
            row[col["trl"]] = "12"
            expected[("provides.csv", line)] = "INVALID"
        elif n % 3 == 1:
            row[col["capability"]] = "no-such-capability"
            expected[("provides.csv", line)] = "NOT_FOUND"
        else:
            row = "this,is,not,a,row"  # type: ignore[assignment]
            expected[("provides.csv", line)] = "MALFORMED"
        change[line] = row
    _rewrite(path, change)

    path = directory / "sources_from.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    col = {name: i for i, name in enumerate(rows[0])}
    change = {}
    for n, line in enumerate(range(29, len(rows) + 1, 80)):
        row = list(rows[line - 1])
        if {row[col["buyer"]], row[col["supplier"]]} & bad_suppliers:
            continue
        if n % 2 == 0:
            row[col["share"]] = "1.5"
            expected[("sources_from.csv", line)] = "INVALID"
        else:
            row[col["supplier"]] = "no-such-supplier"
            expected[("sources_from.csv", line)] = "NOT_FOUND"
        change[line] = row
    _rewrite(path, change)
    return expected, bad_suppliers


def _dependents(directory: Path, bad: set[str], skip: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """Edge rows naming a broken supplier: rejected as depending on it."""
    out: set[tuple[str, int]] = set()
    for name, ends in (
        ("provides.csv", ("supplier",)),
        ("sources_from.csv", ("buyer", "supplier")),
        ("subsidiary_of.csv", ("child", "parent")),
    ):
        with (directory / name).open(encoding="utf-8", newline="") as f:
            for line, row in enumerate(csv.DictReader(f), start=2):
                if (name, line) in skip:
                    continue
                if any(row.get(e) in bad for e in ends):
                    out.add((name, line))
    return out


def _data_rows(directory: Path) -> int:
    total = 0
    for p in _paths(directory):
        with p.open(encoding="utf-8") as f:
            total += sum(1 for _ in f) - 1
    return total


async def _counts(graph: Graph) -> dict[str, int]:
    rows = await graph.read(
        "CALL () { MATCH (n:Supplier) RETURN 'Supplier' AS k, count(n) AS n "
        "UNION ALL MATCH (n:Capability) RETURN 'Capability' AS k, count(n) AS n "
        "UNION ALL MATCH ()-[r:PROVIDES]->() RETURN 'PROVIDES' AS k, count(r) AS n "
        "UNION ALL MATCH ()-[r:SOURCES_FROM]->() RETURN 'SOURCES_FROM' AS k, count(r) AS n "
        "UNION ALL MATCH ()-[r:SUBSIDIARY_OF]->() RETURN 'SUBSIDIARY_OF' AS k, count(r) AS n "
        "UNION ALL MATCH ()-[r:REQUIRES]->() RETURN 'REQUIRES' AS k, count(r) AS n "
        "UNION ALL MATCH (s) WHERE s:SupplierState OR s:CapabilityState OR s:ProvidesState "
        "OR s:SourcesFromState OR s:SubsidiaryOfState OR s:RequiresState "
        "RETURN 'states' AS k, count(s) AS n "
        "UNION ALL MATCH (n) WHERE n:Supplier OR n:Capability "
        "RETURN 'versions' AS k, sum(n.version) AS n } RETURN k, n"
    )
    return {r["k"]: r["n"] for r in rows}


async def test_synthetic_rows_with_malformed_ones(api: Api, tmp_path: Path) -> None:
    await _reference(api)
    policy = api.runtime.policy
    directory = tmp_path / "files"
    write_files(directory, max(50, int(ROWS / ROWS_PER_SUPPLIER)), floors=policy.stewardship.floors)
    expected, bad = _corrupt(directory)
    dependents = _dependents(directory, bad, set(expected))
    total = _data_rows(directory)
    assert len(expected) >= total // 200  # about 1% broken, several ways
    assert dependents  # some rows depend on broken ones

    report = await _import(api, directory, batch_size=500)
    got = {(r.source, r.line): r.code for r in report.rejects}
    assert report.read == total
    assert set(got) == set(expected) | dependents
    for where, code in expected.items():
        assert got[where] == code, (
            where,
            [str(r) for r in report.rejects if (r.source, r.line) == where],
        )
    assert all(got[w] == "DEPENDS_ON_REJECTED" for w in dependents)
    bad_line = next(r for r in report.rejects if r.code == "DEPENDS_ON_REJECTED")
    assert "suppliers.csv:" in bad_line.reason  # names the row it depends on
    good = total - len(got)
    assert report.created == good
    assert (report.updated, report.unchanged, report.rejected) == (0, 0, len(got))
    counts = await _counts(api.graph)
    assert counts["states"] == good  # one created state per record and edge
    assert (
        counts["Supplier"]
        + counts["Capability"]
        + counts["PROVIDES"]
        + counts["SOURCES_FROM"]
        + counts["SUBSIDIARY_OF"]
        + counts["REQUIRES"]
        == good
    )

    again = await _import(api, directory, batch_size=500)
    assert (again.created, again.updated, again.unchanged) == (0, 0, good)
    assert again.rejected == report.rejected
    assert await _counts(api.graph) == counts  # no new state, no new version


# -- SIGKILL half-way -------------------------------------------------------------------

# Properties that differ between two runs of the same import whatever happens: clocks
# (an event's `committedAt` too), an event's `seq` (batches written at once commit, and are
# numbered, in the order they finish: the numbers are compared as a whole, `_seqs`), the
# random edge uid, and an owner's
# release-tally flag (a random generation id, set when its tallies were last recounted: the
# CLI recounts at its end, the in-process run does not; the tallies equal the per-link count
# either way, tests/security/test_release_tallies.py).
VOLATILE = (
    "markedAt",
    "reviewBy",
    "validFrom",
    "validTo",
    "uid",
    "committedAt",
    "seq",
    tallies.flag(""),
)


def _stable(props: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in sorted(props.items()) if not any(k.startswith(p) for p in VOLATILE)}


async def dump(graph: Graph) -> list[str]:
    """The graph's stewarded records, edges and states, timestamps left out, sorted."""
    nodes = await graph.read(
        "MATCH (n) WHERE n:Supplier OR n:Capability OR n:RetiredSupplier "
        "RETURN labels(n) AS l, properties(n) AS p"
    )
    edges = await graph.read(
        "MATCH (a)-[r]->(b) WHERE type(r) IN ['PROVIDES', 'SOURCES_FROM', 'SUBSIDIARY_OF', "
        "'REQUIRES', 'BASED_IN'] RETURN type(r) AS t, coalesce(a.id, a.code) AS a, "
        "coalesce(b.id, b.code) AS b, properties(r) AS p"
    )
    states = await graph.read(
        "MATCH (s) WHERE any(l IN labels(s) WHERE l ENDS WITH 'State') "
        "OPTIONAL MATCH (s)-[:STATE_OF]->(n) "
        "RETURN labels(s) AS l, n.id AS of, properties(s) AS p, "
        "COUNT { (s)-[:PREVIOUS]->() } AS previous"
    )
    out = [json.dumps(["node", sorted(r["l"]), _stable(r["p"])], default=str) for r in nodes]
    out += [
        json.dumps(["edge", r["t"], r["a"], r["b"], _stable(r["p"])], default=str) for r in edges
    ]
    out += [
        json.dumps(["state", r["l"], r["of"], r["previous"], _stable(r["p"])], default=str)
        for r in states
    ]
    return sorted(out)


async def _seqs(graph: Graph) -> list[int]:
    rows = await graph.read("MATCH (s:Change) RETURN s.seq AS seq ORDER BY seq")
    return [r["seq"] for r in rows]


def _env(neo4j_uri: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DIBX_ENV": "test",
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_DATA_DIR": str(tmp_path / "data"),
        "DIBX_AUDIT_SINK": f"file:{tmp_path / 'audit.jsonl'}",
    }


async def test_sigkill_half_way_then_rerun_equals_a_clean_run(
    api: Api, neo4j_uri: str, tmp_path: Path
) -> None:
    await _reference(api)
    directory = tmp_path / "files"
    write_files(directory, 250, floors=api.runtime.policy.stewardship.floors)
    files = [str(p) for p in _paths(directory)]
    env = _env(neo4j_uri, tmp_path)
    argv = [sys.executable, "-m", "dibx.cli", "import", *files, "--nation", "USA"]

    child = await asyncio.create_subprocess_exec(
        *argv, "--batch-size", "25", env=env, stdout=DEVNULL, stderr=DEVNULL
    )
    try:
        # Kill it once some batches have committed, long before the last one.
        for _ in range(6000):
            if (await _counts(api.graph)).get("states", 0) >= 50:
                break
            await asyncio.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()
    partial = await _counts(api.graph)
    total = _data_rows(directory)
    assert 0 < partial["states"] < total  # it died half-way
    code, out = await _run(*argv, env=env)
    assert code == 0, out
    assert "rejected 0" in out
    after_kill = await dump(api.graph)
    numbered = await _seqs(api.graph)
    assert numbered == list(range(1, len(numbered) + 1))  # every event numbered, no gap
    # A full export (`run_export`, as `dibx export --nation USA` writes it) sees what the API
    # would answer; the dump sees what is stored (versions, states, marking metadata).
    exported_after_kill, tally = await export(api, "USA")
    assert tally.total == total

    # A clean run into a fresh database.
    await clear_database(api.graph)  # keeps the :Migration records later tests rely on
    await _reference(api)
    clean = await _import(api, directory)
    assert clean.rejected == 0
    assert await dump(api.graph) == after_kill
    assert await _seqs(api.graph) == numbered
    exported_clean, _ = await export(api, "USA")
    assert exported_clean == exported_after_kill


async def _run(*argv: str, env: Mapping[str, str]) -> tuple[int | None, str]:
    child = await asyncio.create_subprocess_exec(*argv, env=env, stdout=PIPE, stderr=STDOUT)
    out, _ = await child.communicate()
    return child.returncode, out.decode()


async def test_cli_reports_rejects_and_exits_non_zero(
    graph: Graph, neo4j_uri: str, tmp_path: Path
) -> None:
    """A file with one bad row: the report names it, the report file lists it, exit 1; a dry
    run writes nothing."""
    data = tmp_path / "gbr.capabilities.csv"
    data.write_text(
        "key,marking,name,area,jurisdiction,eccn\n"
        "cap.ok,CUI,Good,Materials,EAR,EAR99\n"
        "cap.bad,CUI,Bad,Materials,ITAR,\n",
        encoding="utf-8",
    )
    env = _env(neo4j_uri, tmp_path)
    report = tmp_path / "rejects.jsonl"
    argv = [sys.executable, "-m", "dibx.cli", "import", str(data), "--nation", "USA"]
    code, out = await _run(*argv, "--dry-run", env=env)
    assert code == 1, out
    assert "dry run: read 2, valid 1, rejected 1" in out
    assert await graph.read("MATCH (c:Capability) RETURN count(c) AS n") == [{"n": 0}]
    code, out = await _run(*argv, "--report", str(report), env=env)
    assert code == 1, out
    assert "read 2, created 1, updated 0, unchanged 0, rejected 1" in out
    assert "gbr.capabilities.csv:3 INVALID: an ITAR item needs its USML category" in out
    lines = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines()]
    assert lines == [
        {
            "source": "gbr.capabilities.csv",
            "line": 3,
            "column": "",
            "code": "INVALID",
            "reason": "an ITAR item needs its USML category (usml)",
        }
    ]
    code, out = await _run(*argv, env=env)
    assert "read 2, created 0, updated 0, unchanged 1, rejected 1" in out
