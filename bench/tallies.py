"""Benchmark: the providers query with release tallies current, then counted link by link.

    .venv/bin/python -m bench.tallies --data-dir /tmp/dibx-offers [--rounds 2 --repeat 3]

On a loaded database kept by `bench.offer_pass` (same `--data-dir`; started if not running):
builds the tallies (timed), then records the Cypher dibx compiles for the providers document
of `bench.operations` on the capabilities `bench.run` picks, as USA and GBR, and reads each
query `--repeat` times with the tallies current, then with every owner's flag removed (the
same query then counts link by link, as on a database without tallies), then refreshes them
again (timed). Per way it prints the Neo4j process's CPU per read (mean; /proc counts in
ticks, so single reads round to 10 ms) and the median wall time. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, LiteralString

from bench import operations
from bench.cpu import AsgiCaller
from bench.offer_pass import cpu_ms, server
from bench.run import make_callers, operation_name, params_for, pick_parameters
from dibx import config
from dibx.app import build_runtime, create_app
from dibx.graph import tallies
from dibx.graph.driver import Graph, connect
from dibx.services.audit import FileSink

# Removes every owner's flag: the compiled query then counts link by link.
_UNFLAG = (
    "MATCH (c:Capability) WHERE c.tallied_providers IS NOT NULL "
    "SET c._tallyLock = true REMOVE c._tallyLock, c.tallied_providers"
)


class Recording(Graph):
    """Keeps every read of a query naming PROVIDES, with its parameters."""

    def __init__(self, graph: Graph) -> None:
        super().__init__(graph.driver, graph.database, tx_timeout=600)
        self.reads: list[tuple[LiteralString, Mapping[str, Any] | None]] = []

    async def read(
        self, query: LiteralString, params: Mapping[str, Any] | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        if "PROVIDES" in query:
            self.reads.append((query, params))
        return await super().read(query, params, **kw)


async def _measure(graph: Graph, pid: int, reads: list[Any], repeat: int) -> str:
    cpus, walls = [], []
    for _ in range(repeat):
        for query, params in reads:
            before, started = cpu_ms(pid), time.perf_counter()
            await graph.read(query, params)
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append(cpu_ms(pid) - before)
    return (
        f"Neo4j CPU {statistics.mean(cpus):5.1f} ms/read, wall median "
        f"{statistics.median(walls):5.1f} ms ({len(cpus)} reads)"
    )


async def main(args: argparse.Namespace) -> None:
    found = server(args.data_dir)
    graph = Graph(connect(found.uri, "neo4j", ""), "neo4j", tx_timeout=600)
    try:
        started = time.perf_counter()
        owners = await tallies.refresh(graph)
        print(f"tallies built for {owners} owners in {time.perf_counter() - started:.1f}s")
        with tempfile.TemporaryDirectory() as tmp:
            settings = config.load(
                {
                    **os.environ,
                    "DIBX_ENV": "development",
                    "DIBX_DATA_DIR": tmp,
                    "DIBX_NEO4J_URI": found.uri,
                    "DIBX_RATE_PER_ADDRESS": "0",
                    "DIBX_RATE_PER_TOKEN": "0",
                }
            )
            recording = Recording(graph)
            runtime = build_runtime(settings, graph=recording, audit=FileSink(Path(tmp) / "a"))
            app = AsgiCaller(create_app(runtime, own_graph=False))
            picked = await pick_parameters(graph.driver, "neo4j", 20)
            callers = await make_callers(settings, graph, list(args.nations))
            op = next(
                o for o in operations.build(datetime.now(UTC).date()) if o.name == "providers"
            )
            name = operation_name(op.dibx_document)
            by_nation = {}
            for nation in args.nations:
                recording.reads.clear()
                for values in params_for(op, picked):
                    await app.post(
                        op.dibx_document, op.dibx_variables(values), name, callers[nation].token
                    )
                by_nation[nation] = list(recording.reads)
            for round_ in range(1, args.rounds + 1):
                for nation, reads in by_nation.items():
                    line = await _measure(graph, found.pid, reads, args.repeat)
                    print(f"round {round_} tallied  {nation}: {line}")
                await graph.write(_UNFLAG)
                for nation, reads in by_nation.items():
                    line = await _measure(graph, found.pid, reads, args.repeat)
                    print(f"round {round_} per link {nation}: {line}")
                started = time.perf_counter()
                owners = await tallies.refresh(graph)
                print(f"refreshed {owners} owners in {time.perf_counter() - started:.1f}s")
    finally:
        await graph.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--nations", type=lambda s: s.split(","), default=["USA", "GBR"])
    asyncio.run(main(p.parse_args()))
