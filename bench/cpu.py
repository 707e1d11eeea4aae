"""The dibx app's own CPU per request, in-process: no socket, no HTTP client, no uvicorn.

    .venv/bin/python -m bench.cpu --neo4j-uri bolt://127.0.0.1:7687 --requests 300
    .venv/bin/python -m bench.cpu --neo4j-uri ... --ops tree --cprofile /tmp/tree.prof

Each request is handed to the ASGI app directly (a scope, one body message, the reply
collected), one after another, with a real bearer token per caller nation, the shipped policy
and a file audit sink, against the graph bench/run.py loads (`--load auto` loads it into an
empty database). The figure is the process's CPU time (every thread: token check, GraphQL,
the driver's decoding, the audit write) divided by the requests: Neo4j runs in its own
process, so its CPU is not in it. Sequential requests on a shared machine: CPU time is the
stable figure, wall time is not.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import operations
from bench.load import loadavg
from bench.run import load_data, make_callers, operation_name, params_for, pick_parameters
from dibx import config
from dibx.app import build_runtime, create_app
from dibx.graph.driver import Graph, connect
from dibx.services.audit import FileSink


class AsgiCaller:
    """POSTs GraphQL requests straight into an ASGI app and returns the decoded reply."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def post(self, document: str, variables: dict[str, Any], name: str, token: str) -> Any:
        body = orjson.dumps({"query": document, "variables": variables, "operationName": name})
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"dibx.bench"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"authorization", f"Bearer {token}".encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("dibx.bench", 80),
        }
        sent = False
        chunks: list[bytes] = []
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # never: the app does not read past the body
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        reply = orjson.loads(b"".join(chunks))
        if status != 200 or reply.get("errors"):
            raise RuntimeError(f"HTTP {status}: {str(reply)[:300]}")
        return reply


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    tmp = Path(tempfile.mkdtemp(prefix="dibx-cpu-"))
    settings = config.load(
        {
            **os.environ,
            "DIBX_ENV": "development",
            "DIBX_DATA_DIR": str(tmp / "dibx"),
            "DIBX_NEO4J_URI": args.neo4j_uri,
            "DIBX_AUDIT_SINK": f"file:{tmp / 'audit.jsonl'}",
            # One client sends every request as fast as it can: not what the limits are for.
            "DIBX_RATE_PER_ADDRESS": "0",
            "DIBX_RATE_PER_TOKEN": "0",
        }
    )
    driver = connect(args.neo4j_uri, "neo4j", os.environ.get("DIBX_NEO4J_PASSWORD", ""))
    graph = Graph(driver, "neo4j")
    results: list[dict[str, Any]] = []
    try:
        await load_data(graph, args.suppliers, args.seed, 5000, args.load)
        picked = await pick_parameters(driver, "neo4j", 20)
        callers = await make_callers(settings, graph, args.nations)
        runtime = build_runtime(settings, graph=graph, audit=FileSink(tmp / "audit.jsonl"))
        app = AsgiCaller(create_app(runtime, own_graph=False))
        ops = [op for op in operations.build(datetime.now(UTC).date()) if op.name in args.ops]
        for op in ops:
            values = params_for(op, picked)
            name = operation_name(op.dibx_document)
            for nation, caller in callers.items():

                async def one(
                    i: int, op: Any = op, values: Any = values, name: str = name, token: str = ""
                ) -> None:
                    await app.post(
                        op.dibx_document, op.dibx_variables(values[i % len(values)]), name, token
                    )

                for i in range(args.warmup):
                    await one(i, token=caller.token)
                profiler = cProfile.Profile(time.process_time) if args.cprofile else None
                cpu, wall = time.process_time(), time.perf_counter()
                if profiler is not None:
                    profiler.enable()
                for i in range(args.requests):
                    await one(i, token=caller.token)
                if profiler is not None:
                    profiler.disable()
                cpu_ms = (time.process_time() - cpu) * 1000 / args.requests
                wall_ms = (time.perf_counter() - wall) * 1000 / args.requests
                row = {
                    "op": op.name,
                    "nation": nation,
                    "cpu_ms": round(cpu_ms, 2),
                    "wall_ms": round(wall_ms, 2),
                    "load": loadavg(),
                }
                results.append(row)
                print(
                    f"{op.name:9} {nation}  CPU {cpu_ms:6.2f} ms/req  wall {wall_ms:6.2f} ms/req"
                    f"  (load {' '.join(f'{x:.2f}' for x in loadavg())})",
                    flush=True,
                )
                if profiler is not None:
                    out = Path(f"{args.cprofile}-{op.name}-{nation}")
                    profiler.dump_stats(out)
                    with out.with_suffix(".txt").open("w") as text:
                        stats = pstats.Stats(profiler, stream=text)
                        stats.sort_stats("tottime").print_stats(45)
                        stats.sort_stats("cumulative").print_stats(60)
    finally:
        await driver.close()
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.split("\n")[0])
    p.add_argument("--neo4j-uri", required=True)
    p.add_argument("--suppliers", type=int, default=20_000, help="graph size when loading")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--load", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--requests", type=int, default=200, help="measured requests per cell")
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--ops", default="list,tree,providers,count,page,chain")
    p.add_argument("--nations", default="USA,GBR")
    p.add_argument("--cprofile", default="", help="write cProfile stats to <this>-<op>-<nation>")
    args = p.parse_args(argv)
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    args.nations = [n.strip().upper() for n in args.nations.split(",") if n.strip()]
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
