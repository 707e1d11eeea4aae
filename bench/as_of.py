"""`asOf` reads against current reads, through the real app in process.

    .venv/bin/python -m bench.as_of --suppliers 3000 --writes 300 --rounds 30

Starts an embedded Neo4j, loads the reference data and a synthetic graph, makes `--writes`
stewarded updates through the API (so some suppliers carry states), then times the same
documents with and without `asOf` (a time in the middle of the writes) and prints the median
and p90 of each in milliseconds. Not a test: figures for the notes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from dibx import config, neo4j_server
from dibx import data as shipped
from dibx.app import build_runtime, create_app
from dibx.graph import migrations
from dibx.graph.driver import Graph, connect
from dibx.graph.writes import write_dataset
from dibx.ingest import synthetic
from dibx.ingest.reference import load_reference
from dibx.schema.ids import encode_id
from dibx.services.audit import MemorySink

DOCUMENTS = {
    "suppliers page": """query Q($at: DateTime) { suppliers(first: 20, asOf: $at) {
        totalCount nodes { key name employees nation { code } } } }""",
    "suppliers sorted": """query Q($at: DateTime) { suppliers(first: 20, asOf: $at,
        sort: [{field: NAME}]) { nodes { key name } } }""",
    "suppliers by nation": """query Q($at: DateTime) { suppliers(first: 20, asOf: $at,
        filter: {nations: ["GBR"]}) { totalCount nodes { key } } }""",
    "supplier nested": """query Q($at: DateTime, $id: ID!) { supplier(id: $id, asOf: $at) {
        key name capabilities { edges { capacity node { key name } } }
        suppliers { edges { share node { key } } } } }""",
}
UPDATE = """mutation U($input: UpdateSupplierInput!) { updateSupplier(input: $input) {
  changes { version } userErrors { code message } } }"""


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = neo4j_server.start(
            Path(tmp) / "neo4j", neo4j_server.free_port(), tie_to_parent=True
        )
        try:
            await run(args, server.uri, Path(tmp))
        finally:
            server.stop()


async def run(args: argparse.Namespace, uri: str, tmp: Path) -> None:
    driver = connect(uri, "neo4j", "")
    graph = Graph(driver, "neo4j")
    await migrations.apply(graph)
    reference = load_reference(shipped.reference_dir())
    data = reference.dataset.merged(
        synthetic.generate(args.suppliers, seed=7).replaced(nodes={"Nation": []})
    )
    await write_dataset(graph, data)
    await graph.write("CALL db.awaitIndexes(600)")
    settings = config.load(
        {
            "DIBX_ENV": "test",
            "DIBX_DATA_DIR": str(tmp),
            "DIBX_RATE_PER_ADDRESS": "0",
            "DIBX_RATE_PER_TOKEN": "0",
        }
    )
    runtime = build_runtime(settings, graph=graph, audit=MemorySink())
    app = create_app(runtime, own_graph=False)
    assert runtime.issuer is not None
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")

    def token(nation: str, scopes: tuple[str, ...]) -> str:
        assert runtime.issuer is not None
        return runtime.issuer.issue(
            subject="bench",
            client_id="bench",
            nation=nation,
            scopes=scopes,
            attributes=(),
            org="bench",
        )

    async def query(document: str, variables: dict[str, Any], bearer: str) -> dict[str, Any]:
        r = await client.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        body: dict[str, Any] = r.json()
        if r.status_code != 200 or body.get("errors"):
            raise RuntimeError(str(body))
        return body

    rows = await graph.read(
        "MATCH (s:Supplier)-[:BASED_IN]->(n:Nation {code: 'USA'}) "
        "RETURN s.id AS id, coalesce(s.version, 1) AS v ORDER BY s.id LIMIT $n",
        {"n": args.writes},
    )
    writer = token("USA", ("supplier:read", "data:write"))
    middle = None
    for i, row in enumerate(rows):
        await query(
            UPDATE,
            {
                "input": {
                    "id": encode_id("Supplier", row["id"]),
                    "expectedVersion": row["v"],
                    "fields": {"employees": {"value": i + 1, "marking": "CUI"}},
                }
            },
            writer,
        )
        if i == len(rows) // 2:
            middle = datetime.now(UTC).isoformat()
    reader = token("USA", ("supplier:read",))
    some = encode_id("Supplier", rows[0]["id"]) if rows else None
    print(f"{args.suppliers} suppliers, {len(rows)} stewarded updates, {args.rounds} rounds")
    for name, document in DOCUMENTS.items():
        for label, at in (("now", None), ("asOf", middle)):
            variables: dict[str, Any] = {"at": at}
            if "$id" in document:
                variables["id"] = some
            await query(document, variables, reader)  # warm the plan cache
            times = []
            for _ in range(args.rounds):
                started = time.perf_counter()
                await query(document, variables, reader)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p90 = times[int(len(times) * 0.9) - 1]
            print(
                f"{name:22} {label:5} median {statistics.median(times):8.1f} ms  p90 {p90:8.1f} ms"
            )
    await client.aclose()
    await driver.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--suppliers", type=int, default=3000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=30)
    asyncio.run(main(parser.parse_args()))
