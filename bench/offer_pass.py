"""Benchmark: Neo4j CPU per `capabilityGap` and `disruption` call (the per-offer pass).

    .venv/bin/python -m bench.offer_pass --data-dir /tmp/dibx-offers --suppliers 50000
    .venv/bin/python -m bench.offer_pass --data-dir /tmp/dibx-offers --stop

Keeps its own embedded Neo4j under `--data-dir` between runs (started on a free port if none
runs there, loaded with the synthetic graph if empty), so code before and after a change can
be measured on one loaded database. Calls the Analytics service directly (no HTTP, GraphQL or
time limit) as a USA and a GBR caller: `capabilityGap` at depth 3 on the capability with the
most transitive inputs (as bench/analytics.py picks it) and `disruption` of CHN at depth 3.
Per call it reports the Neo4j process's CPU time (read from /proc: wall times on a shared
machine move with the load, CPU time much less), the wall time and a hash of the report
(same hash, same answer). Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from bench.analytics import pick_roots
from bench.load import loadavg
from dibx import config, neo4j_server
from dibx import data as shipped
from dibx.app import build_runtime
from dibx.auth.principal import Principal
from dibx.graph import migrations
from dibx.graph.driver import Graph, connect
from dibx.graph.writes import write_dataset
from dibx.ingest import synthetic
from dibx.ingest.reference import load_reference
from dibx.services.audit import FileSink

TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """User + system CPU time of process `pid` (every thread), in ms."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / TICK


def server(data_dir: Path) -> neo4j_server.ServerStatus:
    found = neo4j_server.status(data_dir)
    if found is not None:
        return found
    started = neo4j_server.start(
        data_dir, neo4j_server.free_port(), heap="2g", page_cache="2g", timeout=300
    )
    return neo4j_server.ServerStatus(pid=started.pid, port=started.port, uri=started.uri)


async def load_if_empty(graph: Graph, suppliers: int, seed: int) -> None:
    row = await graph.read_one("MATCH (s:Supplier) RETURN count(s) AS n")
    if row is not None and row["n"] > 0:
        return
    data = load_reference(shipped.reference_dir()).dataset
    data = data.merged(synthetic.generate(suppliers, seed=seed))
    counts = await write_dataset(graph, data, batch_size=10_000)
    print(f"loaded {counts}")


def digest(report: Any) -> str:
    return hashlib.sha256(repr(report).encode()).hexdigest()[:16]


async def run(args: argparse.Namespace, status: neo4j_server.ServerStatus) -> None:
    graph = Graph(connect(status.uri, "neo4j", ""), "neo4j", tx_timeout=600)
    await migrations.apply(graph)
    await load_if_empty(graph, args.suppliers, args.seed)
    capability, _, _ = await pick_roots(graph)
    with tempfile.TemporaryDirectory(prefix="dibx-bench-app-") as tmp:
        settings = config.load(
            {"DIBX_ENV": "test", "DIBX_DATA_DIR": tmp, "DIBX_NEO4J_URI": status.uri}
        )
        runtime = build_runtime(settings, graph=graph, audit=FileSink(Path(tmp) / "audit.jsonl"))
        service = runtime.services.analytics
        service = service.with_limits(
            replace(service.limits, time_limit_s=600.0, parallel_reads=args.parallel)
        )
        print(f"capability {capability}; load average {loadavg()}")
        for nation in ("USA", "GBR"):
            who = Principal(
                f"bench-{nation}", "bench", nation, None, frozenset(), frozenset(), None
            )
            groups = await runtime.memberships.groups_of(nation, date.today())
            scope = runtime.policy.scope_for(who, groups, date.today())
            calls = {
                "gap": lambda s=scope: service.capability_gap(s, capability, 3),
                "disruption": lambda s=scope: service.disruption(
                    s, nations=["CHN"], suppliers=[], depth=3, first=5
                ),
            }
            for name, call in calls.items():
                if args.only and name not in args.only:
                    continue
                cpus, walls, hashes = [], [], set()
                for _ in range(args.repeat + 1):
                    before, started = cpu_ms(status.pid), time.perf_counter()
                    report = await call()
                    walls.append((time.perf_counter() - started) * 1000)
                    cpus.append(cpu_ms(status.pid) - before)
                    hashes.add(digest(report))
                cpus, walls = cpus[1:], walls[1:]  # the first call plans the queries
                print(
                    f"{nation} {name:<10} neo4j cpu ms {' / '.join(f'{c:.0f}' for c in cpus)} "
                    f"(median {statistics.median(cpus):.0f})   wall ms "
                    f"{' / '.join(f'{w:.0f}' for w in walls)}   {' '.join(sorted(hashes))}"
                )
    await graph.close()
    print(f"load average {loadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--suppliers", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=1, help="parallel reads per analysis")
    parser.add_argument("--only", action="append", default=[], help="gap or disruption")
    parser.add_argument("--stop", action="store_true", help="stop the server and exit")
    args = parser.parse_args()
    if args.stop:
        print("stopped" if neo4j_server.stop(args.data_dir) else "none running")
        return
    asyncio.run(run(args, server(args.data_dir)))


if __name__ == "__main__":
    main()
