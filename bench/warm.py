"""The first request of each trusted read, with and without the warm-up at start.

    .venv/bin/python -m bench.warm --neo4j-uri bolt://127.0.0.1:7687 [--rounds 2]

The documents of `bench/operations.py` are registered as trusted documents of an in-process
app (the shipped policy, a file audit sink) over the graph bench/run.py loads (`--load auto`
loads it into an empty database). Each round clears Neo4j's query caches
(`db.clearQueryCaches()`, what a restart of Neo4j or an index change does), then either
sends each operation's first request at once ("cold"), or first runs the app's warm-up
(`app.state.warm_up`, what the lifespan starts) and then sends them ("warmed"). Rounds
alternate cold and warmed so that neither gets a JVM the other warmed. Per operation it
prints the wall time of the first request and of a second one (its plan cached either way),
and the warm-up's own time. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import operations
from bench.cpu import AsgiCaller
from bench.load import loadavg
from bench.run import load_data, make_callers, operation_name, params_for, pick_parameters
from dibx import config
from dibx.app import build_runtime, create_app
from dibx.app.persisted import document_hash
from dibx.graph.driver import Graph, connect
from dibx.services.audit import FileSink


async def _round(
    warmed: bool, app: Any, graph: Graph, ops: list[Any], picked: Any, token: str
) -> dict[str, Any]:
    await graph.write("CALL db.clearQueryCaches()")
    warm_s = None
    if warmed:
        started = time.perf_counter()
        await app.state.warm_up()
        warm_s = time.perf_counter() - started
    caller = AsgiCaller(app)
    first: dict[str, float] = {}
    second: dict[str, float] = {}
    for op in ops:
        values = params_for(op, picked)
        name = operation_name(op.dibx_document)
        for i, into in enumerate((first, second)):
            started = time.perf_counter()
            await caller.post(
                op.dibx_document, op.dibx_variables(values[i % len(values)]), name, token
            )
            into[op.name] = (time.perf_counter() - started) * 1000
    return {
        "warmed": warmed,
        "warm_up_s": warm_s,
        "first_ms": first,
        "second_ms": second,
        "load": loadavg(),
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="dibx-warm-"))
    ops = [op for op in operations.build(datetime.now(UTC).date()) if op.name in args.ops]
    manifest = tmp / "trusted-documents.json"
    manifest.write_text(
        json.dumps({document_hash(op.dibx_document): op.dibx_document for op in ops})
    )
    settings = config.load(
        {
            **os.environ,
            "DIBX_ENV": "development",
            "DIBX_DATA_DIR": str(tmp / "dibx"),
            "DIBX_NEO4J_URI": args.neo4j_uri,
            "DIBX_AUDIT_SINK": f"file:{tmp / 'audit.jsonl'}",
            "DIBX_TRUSTED_DOCUMENTS_FILE": str(manifest),
            "DIBX_RATE_PER_ADDRESS": "0",
            "DIBX_RATE_PER_TOKEN": "0",
        }
    )
    driver = connect(args.neo4j_uri, "neo4j", os.environ.get("DIBX_NEO4J_PASSWORD", ""))
    graph = Graph(driver, "neo4j", tx_timeout=600)
    rounds: list[dict[str, Any]] = []
    try:
        await load_data(graph, args.suppliers, args.seed, 5000, args.load)
        picked = await pick_parameters(driver, "neo4j", 4)
        callers = await make_callers(settings, graph, [args.nation])
        runtime = build_runtime(settings, graph=graph, audit=FileSink(tmp / "audit.jsonl"))
        app = create_app(runtime, own_graph=False)
        token = callers[args.nation].token
        for i in range(args.rounds * 2):
            result = await _round(i % 2 == 1, app, graph, ops, picked, token)
            rounds.append(result)
            kind = "warmed" if result["warmed"] else "cold  "
            warm = f"warm-up {result['warm_up_s']:.1f}s; " if result["warmed"] else ""
            cells = "  ".join(
                f"{op.name} {result['first_ms'][op.name]:.0f}/{result['second_ms'][op.name]:.0f}"
                for op in ops
            )
            print(
                f"{kind} {warm}first/second ms: {cells}  (load {result['load'][0]:.2f})", flush=True
            )
        for warmed in (False, True):
            mine = [r for r in rounds if r["warmed"] is warmed]
            total = [sum(r["first_ms"].values()) for r in mine]
            print(
                f"{'warmed' if warmed else 'cold'}: first requests of all operations, "
                f"median of {len(mine)} rounds: {statistics.median(total):.0f} ms",
                flush=True,
            )
    finally:
        await driver.close()
    return rounds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.warm", description=__doc__.split("\n")[0])
    p.add_argument("--neo4j-uri", required=True)
    p.add_argument("--suppliers", type=int, default=20_000, help="graph size when loading")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--load", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--rounds", type=int, default=2, help="cold and warmed rounds each")
    p.add_argument("--ops", default="list,tree,providers,count,page,chain")
    p.add_argument("--nation", default="GBR")
    args = p.parse_args(argv)
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
