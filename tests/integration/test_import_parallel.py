"""Parallel batches (`run_import(parallel=N)`) over a real Neo4j: the same graph, counts and
rejects as one batch at a time, change numbers still 1..N without a gap, and batches sharing
end nodes wait for each other instead of deadlocking."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from dibx.exchange.importer import ImportReport, Source, operator, run_import
from dibx.exchange.samples import write_files
from dibx.graph import outbox
from dibx.graph.driver import Graph, TxRunner
from dibx.graph.writes import clear_database
from dibx.services.audit import AuditError, MemorySink, WriteAudit
from tests.integration.test_import import CATALOGUE, GBR_FILES, files, imported
from tests.integration.test_import_scale import (
    _corrupt,
    _import,
    _reference,
    _seqs,
    _sources,
    dump,
)
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

DEADLOCK = "Neo.TransientError.Transaction.DeadlockDetected"


async def stored(graph: Graph) -> tuple[list[str], list[int]]:
    """The graph's dump (`test_import_scale.dump`: no change numbers, with parallel batches
    they follow commit order, not file order) and the change numbers, sorted."""
    return await dump(graph), await _seqs(graph)


def outcome(report: ImportReport) -> tuple[dict[str, object], list[tuple[Any, ...]]]:
    """Counts, and the rejects in the order of their files and lines."""
    rejects = [(r.source, r.line, r.column, r.code, r.reason) for r in report.rejects]
    return report.as_dict(), sorted(rejects, key=lambda r: (r[0], r[1]))


async def wipe(api: Api) -> None:
    await clear_database(api.graph)  # keeps the :Migration records later tests rely on


async def test_example_files_in_parallel_batches_equal_one_batch_at_a_time(api: Api) -> None:
    seen = []
    for parallel in (1, 3):
        await wipe(api)
        await api.load(b.dataset())
        usa = await imported(api, "USA", files(*CATALOGUE), batch_size=1, parallel=parallel)
        gbr = await imported(api, "GBR", files(*GBR_FILES), batch_size=1, parallel=parallel)
        again = await imported(api, "GBR", files(*GBR_FILES), batch_size=1, parallel=parallel)
        assert (gbr.created, again.unchanged) == (7, 7)
        seen.append((outcome(usa), outcome(gbr), outcome(again), await stored(api.graph)))
    assert seen[1] == seen[0]
    seqs = seen[0][-1][1]
    assert len(seqs) >= 10
    assert seqs == list(range(1, len(seqs) + 1))  # numbered without a gap


async def test_synthetic_rows_with_malformed_ones_in_parallel_batches(
    api: Api, tmp_path: Path
) -> None:
    directory = tmp_path / "files"
    write_files(directory, 160, floors=api.runtime.policy.stewardship.floors)
    expected, _ = _corrupt(directory)
    assert expected
    seen = []
    for parallel in (1, 3):
        await wipe(api)
        await _reference(api)
        report = await _import(api, directory, batch_size=40, parallel=parallel)
        assert report.stopped is None
        assert report.rejected >= len(expected)
        seen.append((outcome(report), await stored(api.graph)))
    assert seen[1] == seen[0]
    (counts, _), (_, seqs) = seen[0]
    assert len(seqs) >= int(str(counts["created"]))
    assert seqs == list(range(1, len(seqs) + 1))


def _provides(directory: Path, capabilities: int, per_batch: int) -> int:
    """Rewrite provides.csv: every supplier offers each of the first `capabilities`
    capabilities, in ascending order in one batch of `per_batch` suppliers, descending in the
    next, so two batches written at once reach the same capabilities in opposite orders;
    returns the rows."""
    with (directory / "suppliers.csv").open(encoding="utf-8", newline="") as f:
        suppliers = [r["key"] for r in csv.DictReader(f)]
    with (directory / "capabilities.csv").open(encoding="utf-8", newline="") as f:
        caps = [r["key"] for r in csv.DictReader(f)][:capabilities]
    path = directory / "provides.csv"
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        template = next(reader)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, header, lineterminator="\n")
        w.writeheader()
        for n, supplier in enumerate(suppliers):
            for cap in caps if (n // per_batch) % 2 == 0 else reversed(caps):
                w.writerow({**template, "supplier": supplier, "capability": cap})
                rows += 1
    return rows


async def test_edge_batches_sharing_ends_do_not_deadlock(api: Api, tmp_path: Path) -> None:
    """Every PROVIDES batch reaches the same capabilities, in opposite orders batch by batch;
    four are written at once. They queue on the ends' write locks, which each batch takes
    first, in element id order (`dibx.graph.locks`): no retry may be a deadlock
    (`Graph.stats.retried`). With the tally flag clear in row order, batches deadlocked here;
    with only that clear in element id order, one CI run still saw two retries (their error
    then unrecorded)."""
    await _reference(api)
    directory = tmp_path / "files"
    write_files(directory, 120, floors=api.runtime.policy.stewardship.floors)
    rows = _provides(directory, 12, 6)
    keep = [s for s in _sources(directory) if s.name in ("suppliers.csv", "capabilities.csv")]
    provides = directory / "provides.csv"
    policy = api.runtime.policy
    audit = WriteAudit(MemorySink(), operation="import", policy_version=policy.version)
    records = await run_import(api.graph, policy, operator(policy, "USA"), keep, audit=audit)
    assert records.rejected == 0
    api.graph.stats.retried.clear()
    report = await run_import(
        api.graph,
        policy,
        operator(policy, "USA"),
        [Source("provides.csv", provides.open("rb"))],
        audit=audit,
        batch_size=12 * 6,  # six suppliers a batch, each batch on every capability
        parallel=4,  # (with 2 the deadlock below showed less reliably)
    )
    assert report.stopped is None
    assert (report.created, report.rejected) == (rows, 0)
    assert DEADLOCK not in api.graph.stats.retried, api.graph.stats.retried


class _FailsAt(MemorySink):
    """Takes graph_write records until the `n`th, which fails (a full audit disk)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n
        self.seen = 0

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("event") == "graph_write":
            self.seen += 1
            if self.seen == self.n:
                raise AuditError("the audit disk is full")
        super().write(record)


async def test_a_failed_batch_stops_the_import_and_counts_every_batch_that_committed(
    api: Api, tmp_path: Path
) -> None:
    await _reference(api)
    directory = tmp_path / "files"
    write_files(directory, 200, floors=api.runtime.policy.stewardship.floors)
    suppliers = directory / "suppliers.csv"
    policy = api.runtime.policy

    async def run(sink: MemorySink) -> ImportReport:
        return await run_import(
            api.graph,
            policy,
            operator(policy, "USA"),
            [Source("suppliers.csv", suppliers.open("rb"))],
            audit=WriteAudit(sink, operation="import", policy_version=policy.version),
            batch_size=10,
            parallel=3,
        )

    sink = _FailsAt(4)
    report = await run(sink)
    assert report.stopped == "the audit disk is full"
    rows = await api.graph.read(
        "MATCH (s:Supplier) WHERE s.originNation = 'USA' "
        "RETURN count(s) AS n, COUNT { (:SupplierState) } AS states"
    )
    # Exactly what committed: the batches before the failed one, and any written at once
    # with it that committed; the failed one rolled back whole.
    assert rows == [{"n": report.created, "states": report.created}]
    assert 30 <= report.created < 200
    assert report.created % 10 == 0
    assert len([r for r in sink.records if r["event"] == "graph_write"]) * 10 == report.created

    rest = await run(MemorySink())  # a re-run completes it
    assert rest.stopped is None
    assert (rest.created, rest.unchanged) == (200 - report.created, report.created)


async def test_a_batch_waits_at_its_start_for_one_holding_the_same_ends(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two PROVIDES batches on the same capabilities; the first, its edges written, is held
    back before its last statement for up to 2 s. The second must not write its edges
    meanwhile: it waits at its first statement, where every batch locks all its ends in one
    order (`dibx.graph.locks`), so no lock it takes later (the tally flag clear, the
    relationship locks Neo4j takes at commit) can cross the first's. Without that, the
    second wrote its edges at once and reached its last statement too."""
    await _reference(api)
    directory = tmp_path / "files"
    write_files(directory, 60, floors=api.runtime.policy.stewardship.floors)
    _provides(directory, 12, 6)
    keep = [s for s in _sources(directory) if s.name in ("suppliers.csv", "capabilities.csv")]
    policy = api.runtime.policy
    audit = WriteAudit(MemorySink(), operation="import", policy_version=policy.version)
    who = operator(policy, "USA")
    assert (await run_import(api.graph, policy, who, keep, audit=audit)).rejected == 0
    path = directory / "provides.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[: 1 + 12 * 12]), encoding="utf-8")  # two batches

    append = outbox.append_pending
    second_arrived = asyncio.Event()
    seen: list[str] = []

    async def held_back(tx: TxRunner) -> int:
        if not seen:
            seen.append("first held")
            try:
                await asyncio.wait_for(second_arrived.wait(), 2)
                seen.append("second reached its last statement meanwhile")
            except TimeoutError:
                seen.append("second waited")
        else:
            second_arrived.set()
        return await append(tx)

    monkeypatch.setattr(outbox, "append_pending", held_back)
    report = await run_import(
        api.graph,
        policy,
        who,
        [Source("provides.csv", path.open("rb"))],
        audit=audit,
        batch_size=6 * 12,
        parallel=2,
    )
    assert (report.created, report.rejected, report.stopped) == (12 * 12, 0, None)
    assert seen == ["first held", "second waited"]
