"""Benchmark: bulk import end to end, against a floor on the same Neo4j and the same rows.

    .venv/bin/python -m bench.import --rows 1000000
    .venv/bin/python -m bench.import --rows 100000 --batch-size 5000 --neo4j-uri bolt://...
    .venv/bin/python -m bench.import --rows 30000 --parallel 1      # one batch at a time

Writes the synthetic dataset as exchange files (`dibx sample-files`, not timed), then on one
Neo4j (embedded, started for the run, unless `--neo4j-uri`) holding only reference data:

1. **floor**: the same rows read from the same files with `csv` and written by plain
   `UNWIND $rows ... CREATE` batches through the driver (nodes by label with their BASED_IN,
   edges matched by key): no validation, no markings metadata, no states, no audit;
2. the database is emptied back to reference data;
3. **import**: `dibx import FILES --nation USA` as an operator would run it (its own process:
   parsing, the stewardship validator, the batched writer, an fsynced file audit record per
   batch), timed from start to exit, its peak RSS from `wait4`;
4. **re-import** of the unchanged files (every row "unchanged").

Prints rows/s of each and the ratios, with the load average. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.analytics import neo4j
from bench.load import loadavg
from dibx import config
from dibx.exchange.format import ENTITIES, KEY, MARKING, SUFFIX
from dibx.graph import migrations
from dibx.graph.driver import Graph, compiled, connect
from dibx.graph.model import MODEL
from dibx.ingest.seeding import seed

ORDER = ("suppliers", "capabilities", "provides", "sources_from", "subsidiary_of", "requires")
ROWS_PER_SUPPLIER = 4.85


def _typed(entity: Any, row: dict[str, str]) -> dict[str, Any]:
    """The row's values typed by the model (the floor does as little as it can)."""
    out: dict[str, Any] = {}
    fields = {f.name: f for f in (entity.node or entity.edge).fields}
    for name, text in row.items():
        if text == "" or name.endswith(SUFFIX) or name in (KEY, MARKING):
            continue
        f = fields.get(name)
        if f is None:
            continue
        kind = f.kind
        out[name] = (
            float(text)
            if kind is float
            else int(text)
            if kind is int
            else text == "true"
            if kind is bool
            else text
        )
    return out


def read_rows(path: Path) -> Any:
    with path.open(encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


async def floor(graph: Graph, directory: Path, batch: int) -> int:
    written = 0
    for name in ORDER:
        entity = ENTITIES[name]
        if entity.node is not None:
            node = entity.node
            q = compiled(
                f"UNWIND $rows AS r CREATE (n:{node.label}) SET n = r.props, n.{node.key} = r.key "
                + (
                    "WITH n, r MATCH (x:Nation {code: r.nation}) CREATE (n)-[:BASED_IN]->(x)"
                    if entity.owned
                    else ""
                )
            )
        else:
            edge = entity.edge
            assert edge is not None
            a, b = MODEL.nodes[edge.start], MODEL.nodes[edge.end]
            q = compiled(
                f"UNWIND $rows AS r MATCH (a:{a.label} {{{a.key}: r.a}}) "
                f"MATCH (b:{b.label} {{{b.key}: r.b}}) "
                f"CREATE (a)-[e:{edge.rel}]->(b) SET e = r.props"
            )
        rows: list[dict[str, Any]] = []
        for row in read_rows(directory / f"{name}.csv"):
            item: dict[str, Any] = {"props": _typed(entity, row)}
            if entity.node is not None:
                item["key"] = row[KEY]
                if entity.owned:
                    item["nation"] = row["nation"]
            else:
                assert entity.ends is not None
                item["a"], item["b"] = row[entity.ends[0]], row[entity.ends[1]]
            rows.append(item)
            if len(rows) >= batch:
                await graph.write(q, {"rows": rows})
                written += len(rows)
                rows = []
        if rows:
            await graph.write(q, {"rows": rows})
            written += len(rows)
    return written


async def wipe(graph: Graph) -> None:
    """Back to reference data: every stewarded record, edge and state goes, 2,000 nodes per
    transaction (one transaction for all would pass the server's transaction memory limit
    from about 50k rows). `IN TRANSACTIONS` needs an implicit transaction: a plain session
    run, not `Graph.write`'s managed one."""
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run(
            "MATCH (n) WHERE n:Supplier OR n:Capability OR n:RetiredSupplier "
            "OR n:RetiredCapability OR any(l IN labels(n) WHERE l ENDS WITH 'State') "
            "CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 2000 ROWS"
        )
        await result.consume()


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(1 for _ in f) - 1


def server_cpu() -> float:
    """CPU seconds used so far by the embedded Neo4j (a child JVM of this process; 0 with
    `--neo4j-uri`): with the importer's own CPU, a measure that a loaded machine distorts
    far less than wall time."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == os.getpid() and b"java" in (entry / "cmdline").read_bytes():
                total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_child(argv: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Runs a command; (wall seconds, peak RSS in MB, its stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=err)  # noqa: S603
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode()
        err.seek(0)
        said = err.read().decode(errors="replace").splitlines()
    CPU.append(usage.ru_utime + usage.ru_stime)
    # Why `dibx import` stopped before the end (its figures then are not an import's).
    STOPPED.append(next((line for line in said if "import stopped" in line), None))
    return wall, usage.ru_maxrss // 1024, text


CPU: list[float] = []  # CPU seconds of each child run by `run_child`, in order
STOPPED: list[str | None] = []  # the "import stopped" line of each child, if it printed one


async def prepare(
    work: Path, uri: str, rows: int, **extra_env: str
) -> tuple[dict[str, str], Path, list[Path], int, Graph]:
    """The set-up both import benches share: the child processes' environment (plus
    `extra_env`), about `rows` synthetic rows written as exchange files (not timed), their
    paths in import order and row count, and a graph holding reference data only."""
    env = {
        **os.environ,
        "DIBX_ENV": "test",
        "DIBX_NEO4J_URI": uri,
        "DIBX_DATA_DIR": str(work / "data"),
        "DIBX_AUDIT_SINK": f"file:{work / 'audit.jsonl'}",
        **extra_env,
    }
    suppliers = max(50, int(rows / ROWS_PER_SUPPLIER))
    files = work / "files"
    sample = [sys.executable, "-m", "dibx.cli", "sample-files", str(files)]
    await asyncio.to_thread(run_child, [*sample, "--suppliers", str(suppliers)], env)
    paths = [files / f"{n}.csv" for n in ORDER]
    graph = Graph(connect(uri, "neo4j", ""), "neo4j")
    await migrations.apply(graph)
    reference = config.load({"DIBX_ENV": "test"}).reference_dir
    await seed(graph, reference, demo=False, reset=True)
    return env, files, paths, sum(count_rows(p) for p in paths), graph


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="dibx-import-bench-") as tmp,
        neo4j(args.neo4j_uri) as uri,
    ):
        env, files, paths, rows, graph = await prepare(Path(tmp), uri, args.rows)
        load_before = loadavg()
        cpu0, py0 = server_cpu(), time.process_time()
        started = time.perf_counter()
        floored = await floor(graph, files, args.batch_size)
        floor_s = time.perf_counter() - started
        cpu1, py1 = server_cpu(), time.process_time()
        await wipe(graph)
        argv = [sys.executable, "-m", "dibx.cli", "import", *map(str, paths), "--nation", "USA"]
        argv += ["--batch-size", str(args.batch_size)]
        if args.parallel is not None:
            argv += ["--parallel", str(args.parallel)]
        cpu2 = server_cpu()
        import_s, rss, out = await asyncio.to_thread(run_child, argv, env)
        cpu3 = server_cpu()
        reimport_s, rss2, out2 = await asyncio.to_thread(run_child, argv, env)
        cpu4 = server_cpu()
        load_after = loadavg()
        await graph.close()
    return {
        "rows": rows,
        "floor_rows": floored,
        "batch_size": args.batch_size,
        "parallel": args.parallel,
        "floor_s": round(floor_s, 2),
        "floor_rows_per_s": round(rows / floor_s),
        "import_s": round(import_s, 2),
        "import_rows_per_s": round(rows / import_s),
        "import_vs_floor": round(floor_s / import_s, 3),
        "reimport_s": round(reimport_s, 2),
        "reimport_rows_per_s": round(rows / reimport_s),
        "cpu_s": {  # (client, Neo4j) CPU seconds of each phase
            "floor": [round(py1 - py0, 1), round(cpu1 - cpu0, 1)],
            "import": [round(CPU[-2], 1), round(cpu3 - cpu2, 1)],
            "reimport": [round(CPU[-1], 1), round(cpu4 - cpu3, 1)],
        },
        "import_peak_rss_mb": rss,
        "reimport_peak_rss_mb": rss2,
        "import_report": out.strip().splitlines()[0] if out.strip() else "",
        "import_stopped": STOPPED[-2],
        "reimport_stopped": STOPPED[-1],
        "reimport_report": out2.strip().splitlines()[0] if out2.strip() else "",
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }


def cli() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="synthetic rows in all (about)")
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument(
        "--parallel", type=int, default=None, help="dibx import --parallel (default: its own)"
    )
    p.add_argument("--neo4j-uri", default=None, help="a running server (it will be wiped)")
    args = p.parse_args()
    print(json.dumps(asyncio.run(main(args)), indent=2))


if __name__ == "__main__":
    cli()
