"""Releasable export against a raw driver read of the same records and edges.

    .venv/bin/python -m bench.export --suppliers 20000 --nations USA GBR --rounds 2

Starts an embedded Neo4j, loads the reference data and a synthetic graph (seed 7), then per
nation times `run_export` (JSON Lines, to a null sink: keyset pages of 1000, release decided
in Cypher, rows shaped and serialised) and a floor: one read transaction per entity on the
async driver, `MATCH` every stewarded record and edge and return its properties, no release
checks, no paging, records consumed as dicts. Prints rows, seconds and rows/s of each (best
of `--rounds`) and the load average. Not a test: figures for bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, LiteralString

from dibx import data as shipped
from dibx import neo4j_server
from dibx.auth import policy as policy_module
from dibx.exchange.export import operator_scope, run_export
from dibx.graph import migrations
from dibx.graph.driver import NO_TIMEOUT, Graph, compiled, connect
from dibx.graph.model import MODEL
from dibx.graph.stewardship import STEWARDED_EDGES, STEWARDED_NODES
from dibx.graph.writes import write_dataset
from dibx.ingest import synthetic
from dibx.ingest.reference import load_reference
from dibx.services.memberships import MembershipDirectory


class Null:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def flush(self) -> None:
        pass


def _raw_queries() -> list[LiteralString]:
    out = []
    for name in STEWARDED_NODES:
        node = MODEL.nodes[name]
        out.append(
            compiled(f"MATCH (n:{node.label}) RETURN n.{node.key} AS key, properties(n) AS p")
        )
    for rel in STEWARDED_EDGES:
        edge = MODEL.edges[rel]
        start, end = MODEL.nodes[edge.start], MODEL.nodes[edge.end]
        out.append(
            compiled(
                f"MATCH (a:{start.label})-[r:{rel}]->(b:{end.label}) "
                f"RETURN a.{start.key} AS a, b.{end.key} AS b, properties(r) AS p"
            )
        )
    return out


async def raw_read(graph: Graph) -> int:
    rows = 0
    async with graph.driver.session(database=graph.database) as session:
        for query in _raw_queries():

            async def work(tx: Any, q: LiteralString = query) -> int:
                result = await tx.run(q)
                return len([dict(zip(r.keys(), r, strict=True)) async for r in result])

            rows += await session.execute_read(work)
    return rows


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = neo4j_server.start(
            Path(tmp) / "neo4j", neo4j_server.free_port(), tie_to_parent=True
        )
        try:
            await run(args, server.uri)
        finally:
            server.stop()


async def run(args: argparse.Namespace, uri: str) -> None:
    graph = Graph(connect(uri, "neo4j", ""), "neo4j", tx_timeout=NO_TIMEOUT)
    await migrations.apply(graph)
    reference = load_reference(shipped.reference_dir())
    data = reference.dataset.merged(
        synthetic.generate(args.suppliers, seed=7).replaced(nodes={"Nation": []})
    )
    await write_dataset(graph, data)
    await graph.write("CALL db.awaitIndexes(600)")
    policy = policy_module.load(shipped.policy_file())
    today = datetime.now(UTC).date()
    print(f"{args.suppliers} suppliers; load average before: {os.getloadavg()}")
    best_raw = float("inf")
    for _ in range(args.rounds):
        started = time.perf_counter()
        raw_rows = await raw_read(graph)
        best_raw = min(best_raw, time.perf_counter() - started)
    print(
        f"raw read (no checks): {raw_rows} rows {best_raw:.2f} s {raw_rows / best_raw:,.0f} rows/s"
    )
    for nation in args.nations:
        groups = await MembershipDirectory(graph).groups_of(nation, today)
        scope = operator_scope(policy, nation, groups, today)
        best = float("inf")
        rows = 0
        for _ in range(args.rounds):
            sink = Null()
            started = time.perf_counter()
            tally = await run_export(
                graph,
                scope,
                fmt="jsonl",
                out=None,
                stdout=sink,
                catalogue_steward=policy.stewardship.catalogue_steward,
            )
            best = min(best, time.perf_counter() - started)
            rows = tally.total
        print(
            f"export {nation} jsonl: {rows} rows {best:.2f} s {rows / best:,.0f} rows/s "
            f"({sink.bytes / 1e6:.1f} MB)"
        )
    print(f"load average after: {os.getloadavg()}")
    await graph.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suppliers", type=int, default=20_000)
    parser.add_argument("--nations", nargs="+", default=["USA", "GBR"])
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
