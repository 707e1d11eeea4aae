"""Benchmark: stewarded writes through the real app, in-process, against an embedded Neo4j.

    .venv/bin/python -m bench.writes --suppliers 2000 --updates 40 --concurrency 1 4 16

Loads reference data and a synthetic graph, then for each concurrency level runs that many
writers at once (GBR stewards, each its own token) through the ASGI app in-process (token
validation, GraphQL, validation, one transaction with its lock, version check, state node and
audit record fsynced to a file before COMMIT). Each writer creates a supplier, updates it
`--updates` times (each with the version it got back) and sets a PROVIDES offer from it every
fifth update. Reports p50/p99 latency per mutation and revisions (committed changes, each one
state node) per second. A last run has every writer update one shared record at once, to show
the CONFLICT rate under contention. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.analytics import neo4j
from bench.load import loadavg
from dibx import config
from dibx import data as shipped
from dibx.app import build_runtime, create_app
from dibx.graph import migrations
from dibx.graph.driver import Graph, connect
from dibx.graph.writes import write_dataset
from dibx.ingest import synthetic
from dibx.ingest.reference import load_reference
from dibx.schema.ids import encode_id
from dibx.services.audit import FileSink

PAYLOAD = "changes { key version } userErrors { code field }"
CREATE = f"mutation($i: CreateSupplierInput!) {{ createSupplier(input: $i) {{ {PAYLOAD} }} }}"
UPDATE = f"mutation($i: UpdateSupplierInput!) {{ updateSupplier(input: $i) {{ {PAYLOAD} }} }}"
OFFER = f"mutation($i: SetProvidesInput!) {{ setProvides(input: $i) {{ {PAYLOAD} }} }}"
SCOPES = ("supplier:read", "data:write")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Writer:
    def __init__(self, client: httpx.AsyncClient, token: str, capabilities: list[str]) -> None:
        self.client, self.token, self.capabilities = client, token, capabilities
        self.times: dict[str, list[float]] = {"create": [], "update": [], "setProvides": []}
        self.revisions = 0
        self.conflicts = 0

    async def send(self, kind: str, document: str, given: dict[str, Any]) -> dict[str, Any]:
        started = time.perf_counter()
        response = await self.client.post(
            "/graphql",
            json={"query": document, "variables": {"i": given}},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        self.times[kind].append((time.perf_counter() - started) * 1000)
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{kind}: {response.status_code} {body}")
        out: dict[str, Any] = next(iter(body["data"].values()))
        if out["userErrors"]:
            if out["userErrors"][0]["code"] == "CONFLICT":
                self.conflicts += 1
                return out
            raise RuntimeError(f"{kind}: {out['userErrors']}")
        self.revisions += len(out["changes"])
        return out

    async def run(self, key: str, updates: int) -> None:
        made = await self.send(
            "create",
            CREATE,
            {
                "key": key,
                "marking": "CUI",
                "fields": {
                    "name": {"value": f"Bench {key}", "marking": "CUI"},
                    "employees": {"value": 0, "marking": "CUI"},
                },
                "nation": {"key": "GBR", "marking": "CUI"},
            },
        )
        stored = made["changes"][0]["key"]
        version = made["changes"][0]["version"]
        for i in range(updates):
            out = await self.send(
                "update",
                UPDATE,
                {
                    "id": encode_id("Supplier", stored),
                    "expectedVersion": version,
                    "fields": {"employees": {"value": i + 1, "marking": "CUI"}},
                },
            )
            version = out["changes"][0]["version"]
            if i % 5 == 0:
                capability = self.capabilities[(i // 5) % len(self.capabilities)]
                given: dict[str, Any] = {
                    "supplier": encode_id("Supplier", stored),
                    "capability": encode_id("Capability", capability),
                    "marking": "CUI",
                    "fields": {"trl": {"value": 1 + i % 9, "marking": "CUI"}},
                }
                await self.send("setProvides", OFFER, given)

    async def contend(self, key: str, rounds: int, version_of: Any) -> None:
        for _ in range(rounds):
            version = await version_of()
            await self.send(
                "update",
                UPDATE,
                {
                    "id": encode_id("Supplier", key),
                    "expectedVersion": version,
                    "fields": {"city": {"value": "contended", "marking": "CUI"}},
                },
            )


async def run(args: argparse.Namespace, uri: str) -> list[dict[str, Any]]:
    graph = Graph(connect(uri, "neo4j", ""), "neo4j")
    await migrations.apply(graph)
    if not args.no_load:
        data = load_reference(shipped.reference_dir()).dataset
        data = data.merged(synthetic.generate(args.suppliers, seed=7))
        counts = await write_dataset(graph, data, batch_size=10_000)
        print(f"loaded {counts.get('Supplier')} suppliers")
    rows = await graph.read("MATCH (c:Capability) RETURN c.id AS id ORDER BY id LIMIT 50")
    capabilities = [str(r["id"]) for r in rows]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dibx-bench-writes-") as tmp:
        settings = config.load(
            {
                "DIBX_ENV": "test",
                "DIBX_DATA_DIR": tmp,
                "DIBX_NEO4J_URI": uri,
                "DIBX_RATE_PER_ADDRESS": "0",
                "DIBX_RATE_PER_TOKEN": "0",
            }
        )
        runtime = build_runtime(settings, graph=graph, audit=FileSink(Path(tmp) / "audit.jsonl"))
        app = create_app(runtime, own_graph=False)
        assert runtime.issuer is not None
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
        ) as client:
            stamp = int(time.time())
            # Warm-up (not counted): the first requests compile queries and documents.
            warm = Writer(
                client,
                runtime.issuer.issue(
                    subject="bench-warm",
                    client_id="bench",
                    nation="GBR",
                    scopes=SCOPES,
                    attributes=(),
                    org="bench",
                ),
                capabilities,
            )
            await warm.run(f"b{stamp}-warm", 10)
            for level in args.concurrency:
                writers = [
                    Writer(
                        client,
                        runtime.issuer.issue(
                            subject=f"bench-{i}",
                            client_id="bench",
                            nation="GBR",
                            scopes=SCOPES,
                            attributes=(),
                            org="bench",
                        ),
                        capabilities,
                    )
                    for i in range(level)
                ]
                started = time.perf_counter()
                await asyncio.gather(
                    *(w.run(f"b{stamp}-{level}-{i}", args.updates) for i, w in enumerate(writers))
                )
                elapsed = time.perf_counter() - started
                row: dict[str, Any] = {"concurrency": level, "seconds": round(elapsed, 1)}
                for kind in ("create", "update", "setProvides"):
                    times = [t for w in writers for t in w.times[kind]]
                    row[kind] = (
                        round(statistics.median(times), 1),
                        round(pct(times, 0.99), 1),
                        len(times),
                    )
                revisions = sum(w.revisions for w in writers)
                row["revisions"] = revisions
                row["revisions_per_s"] = round(revisions / elapsed, 1)
                results.append(row)
                print(row, flush=True)
            # Contention: every writer updates one record with the version it just read.
            shared = writers[0]
            made = await shared.send(
                "create",
                CREATE,
                {
                    "key": f"shared-{stamp}",
                    "marking": "CUI",
                    "fields": {"name": {"value": "Shared", "marking": "CUI"}},
                    "nation": {"key": "GBR", "marking": "CUI"},
                },
            )
            key = made["changes"][0]["key"]

            async def version_of() -> int:
                found = await graph.read_one(
                    "MATCH (s:Supplier {id: $k}) RETURN s.version AS v", {"k": key}
                )
                assert found is not None
                return int(found["v"])

            for w in writers:
                w.revisions = w.conflicts = 0
                w.times["update"] = []
            started = time.perf_counter()
            await asyncio.gather(*(w.contend(key, args.updates // 2, version_of) for w in writers))
            elapsed = time.perf_counter() - started
            times = [t for w in writers for t in w.times["update"]]
            row = {
                "concurrency": len(writers),
                "contended": True,
                "update": (
                    round(statistics.median(times), 1),
                    round(pct(times, 0.99), 1),
                    len(times),
                ),
                "won": sum(w.revisions for w in writers),
                "conflicts": sum(w.conflicts for w in writers),
                "revisions_per_s": round(sum(w.revisions for w in writers) / elapsed, 1),
                "final_version": await version_of(),
            }
            results.append(row)
            print(row, flush=True)
    await graph.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suppliers", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=40)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--neo4j-uri", default=None)
    parser.add_argument("--no-load", action="store_true")
    args = parser.parse_args()
    before = loadavg()
    with neo4j(args.neo4j_uri) as uri:
        results = asyncio.run(run(args, uri))
    print(f"load average before {before}, after {loadavg()}")
    for row in results:
        print(row)


if __name__ == "__main__":
    main()
