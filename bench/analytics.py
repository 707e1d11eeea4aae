"""Benchmark: each supply-chain analysis on the synthetic graph, through the real app.

    .venv/bin/python -m bench.analytics --suppliers 200000 --repeat 5

Starts an embedded Neo4j in a temporary directory (or uses --neo4j-uri with data already
loaded: pass --no-load), loads reference data and the synthetic graph, picks a capability
rooted high in the REQUIRES tree (the most transitive inputs) and the supplier with the most
direct suppliers, then times every analysis as a USA and a GBR caller through the ASGI app
in-process (token validation, GraphQL, release-checked Cypher, networkx, audit). Reports min
and median of `--repeat` cold runs (the read cache emptied first) after one warm-up, the
median of `--repeat` repeated runs (answered from the read cache, the answer checked equal),
the time until `--together` clients asking at once on an empty cache all have their answer,
and the answer's size. Not part of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.load import loadavg
from dibx import config, neo4j_server
from dibx import data as shipped
from dibx.app import build_runtime, create_app
from dibx.graph import migrations
from dibx.graph.driver import Graph, connect
from dibx.graph.writes import write_dataset
from dibx.ingest import synthetic
from dibx.ingest.reference import load_reference
from dibx.schema.ids import encode_id
from dibx.services.audit import FileSink

RESULTS = Path(__file__).resolve().parent / "results"

ANALYSES: dict[str, tuple[str, str]] = {
    # name: (document, which root it takes: capability | supplier | none)
    "capabilityGap": (
        "query($c: ID!) { capabilityGap(capability: $c, depth: 3) { marking "
        "inputs { providers totalCapacity groupsWithoutProvider } soleSourced { key } } }",
        "capability",
    ),
    "supplyChain(capability, depth 3)": (
        "query($r: ID!) { supplyChain(root: $r, depth: 3) { nodeCount edgeCount marking } }",
        "capability",
    ),
    "supplyChain(supplier, depth 3)": (
        "query($r: ID!) { supplyChain(root: $r, depth: 3) { nodeCount edgeCount marking } }",
        "supplier",
    ),
    "supplyChain(busiest buyer, depth 4): the node limit": (
        "query($r: ID!) { supplyChain(root: $r, depth: 4) { nodeCount edgeCount marking } }",
        "busiest",
    ),
    "singlePointsOfFailure": (
        "query($r: ID!) { singlePointsOfFailure(root: $r, depth: 3) { nodeCount inputs "
        "suppliers { supplier { key } } nations marking } }",
        "supplier",
    ),
    "concentration": (
        "query($c: ID!) { concentration(capability: $c) { providers hhiByNation hhiBySupplier "
        "allied { group share } marking } }",
        "capability",
    ),
    "exposure": (
        "query($r: ID!) { exposure(root: $r, depth: 3) { reached nearestTier maxShare "
        "pathCount marking } }",
        "supplier",
    ),
    "disruption(CHN)": (
        '{ disruption(removeNations: ["CHN"], depth: 3) { lost { key } '
        "impaired { capability { key } } marking } }",
        "none",
    ),
    "substitutes": (
        "query($r: ID!) { substitutes(root: $r) { groups { candidates { rank } } marking } }",
        "supplier",
    ),
    "tradePathway(AUS)": (
        'query($c: ID!) { tradePathway(capability: $c, destination: "AUS") { outcome marking } }',
        "capability",
    ),
}


@contextmanager
def neo4j(uri: str | None) -> Iterator[str]:
    if uri:
        yield uri
        return
    os.environ.setdefault("DIBX_NEO4J_HEAP", "2g")
    os.environ.setdefault("DIBX_NEO4J_PAGE_CACHE", "2g")
    with (
        tempfile.TemporaryDirectory(prefix="dibx-bench-") as tmp,
        neo4j_server.running(Path(tmp) / "neo4j", tie_to_parent=True, timeout=300) as server,
    ):
        yield server.uri


async def pick_roots(graph: Graph) -> tuple[str, str, str]:
    """The capability with the most transitive inputs, a typical buyer (3-8 direct
    suppliers, first by key) and the busiest buyer (to show the node limit at work)."""
    cap = await graph.read_one(
        "MATCH (c:Capability) "
        "RETURN c.id AS id, COUNT { MATCH (c)-[:REQUIRES*1..4]->(:Capability) } AS inputs "
        "ORDER BY inputs DESC, id LIMIT 1"
    )
    buyer = await graph.read_one(
        "MATCH (s:Supplier) RETURN s.id AS id, COUNT { (s)-[:SOURCES_FROM]->() } AS n "
        "ORDER BY n DESC, id LIMIT 1"
    )
    typical = await graph.read_one(
        "MATCH (s:Supplier) WITH s, COUNT { (s)-[:SOURCES_FROM]->() } AS n "
        "WHERE 3 <= n <= 8 RETURN s.id AS id ORDER BY id LIMIT 1"
    )
    assert cap is not None
    assert buyer is not None
    assert typical is not None
    return str(cap["id"]), str(typical["id"]), str(buyer["id"])


async def run(args: argparse.Namespace, uri: str) -> dict[str, Any]:
    graph = Graph(connect(uri, "neo4j", ""), "neo4j")
    await migrations.apply(graph)
    load: dict[str, Any] = {}
    if not args.no_load:
        started = time.perf_counter()
        data = load_reference(shipped.reference_dir()).dataset
        data = data.merged(synthetic.generate(args.suppliers, seed=args.seed))
        generated = time.perf_counter()
        counts = await write_dataset(graph, data, batch_size=10_000)
        load = {
            "generate_s": round(generated - started, 1),
            "write_s": round(time.perf_counter() - generated, 1),
            "counts": counts,
        }
        print(f"loaded in {load['write_s']} s: {counts}")
    capability, supplier, busiest = await pick_roots(graph)
    print(f"capability {capability}, supplier {supplier}, busiest {busiest}")

    with tempfile.TemporaryDirectory(prefix="dibx-bench-app-") as tmp:
        settings = config.load({"DIBX_ENV": "test", "DIBX_DATA_DIR": tmp, "DIBX_NEO4J_URI": uri})
        runtime = build_runtime(settings, graph=graph, audit=FileSink(Path(tmp) / "audit.jsonl"))
        app = create_app(runtime, own_graph=False)
        assert runtime.issuer is not None
        cache = runtime.services.analytics.cache
        assert cache is not None
        assert cache.enabled
        rows = []
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=120
        ) as client:
            for nation in ("USA", "GBR"):
                token = runtime.issuer.issue(
                    f"bench-{nation.lower()}",
                    "bench",
                    nation,
                    ["supplier:read", "supply_chain:read"],
                )
                for name, (document, root) in ANALYSES.items():
                    if args.only and not any(name.startswith(o) for o in args.only):
                        continue
                    variables = {
                        "capability": {"c": encode_id("Capability", capability)},
                        "supplier": {"r": encode_id("Supplier", supplier)},
                        "busiest": {"r": encode_id("Supplier", busiest)},
                        "none": {},
                    }[root]
                    if root == "capability" and "$r" in document:
                        variables = {"r": encode_id("Capability", capability)}

                    async def ask(
                        document: str = document,
                        variables: dict[str, Any] = variables,
                        token: str = token,
                    ) -> tuple[float, dict[str, Any]]:
                        started = time.perf_counter()
                        response = await client.post(
                            "/graphql",
                            json={"query": document, "variables": variables},
                            headers={"Authorization": f"Bearer {token}"},
                        )
                        return time.perf_counter() - started, response.json()

                    # Cold: the read cache emptied before each run (the first run, not timed,
                    # warms Neo4j's plan cache); then repeated: the same request again, as a
                    # dashboard asks it, answered from the read cache while nothing changes.
                    cold, cached, body = [], [], {}
                    for i in range(args.repeat + 1):
                        cache.clear()
                        elapsed, body = await ask()
                        if i:
                            cold.append(elapsed)
                    for _ in range(args.repeat):
                        elapsed, again = await ask()
                        cached.append(elapsed)
                        if again != body:
                            raise SystemExit(f"{name} as {nation}: the cached answer differs")
                    # Together: `--together` clients ask at once on an empty cache, as
                    # dashboards do after a write moved the data generation.
                    together_ms = None
                    if args.together > 1:
                        # One token each (other users of the same nation): a token's own
                        # heavy work is limited (DIBX_HEAVY_PER_TOKEN).
                        tokens = [
                            runtime.issuer.issue(
                                f"bench-{nation.lower()}-{i}",
                                "bench",
                                nation,
                                ["supplier:read", "supply_chain:read"],
                            )
                            for i in range(args.together)
                        ]
                        cache.clear()
                        started = time.perf_counter()
                        answers = await asyncio.gather(*(ask(token=t) for t in tokens))
                        together_ms = round((time.perf_counter() - started) * 1000, 1)
                        if any(a != body for _, a in answers):
                            raise SystemExit(f"{name} as {nation}: an answer together differs")
                    error = (body.get("errors") or [{}])[0].get("message")
                    rows.append(
                        {
                            "analysis": name,
                            "nation": nation,
                            "min_ms": round(min(cold) * 1000, 1),
                            "median_ms": round(statistics.median(cold) * 1000, 1),
                            "cached_median_ms": round(statistics.median(cached) * 1000, 1),
                            "together_ms": together_ms,
                            "answer_bytes": len(json.dumps(body.get("data"))),
                            "error": error,
                        }
                    )
                    print(rows[-1])
        await graph.close()
    return {
        "load": load,
        "capability": capability,
        "supplier": supplier,
        "busiest": busiest,
        "rows": rows,
    }


def markdown(args: argparse.Namespace, result: dict[str, Any], load_avg: tuple[Any, Any]) -> str:
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    lines = [
        f"# dibx analytics benchmark: {args.suppliers:,} suppliers ({when})",
        "",
        f"`python -m bench.analytics {' '.join(args.argv)}`",
        "",
        f"- load average (1/5/15 min): start {load_avg[0]}, end {load_avg[1]}",
        f"- load: {result['load']}",
        f"- capability rooted highest: `{result['capability']}`; "
        f"typical buyer: `{result['supplier']}`; busiest buyer: `{result['busiest']}`",
        "",
        "Cold: the read cache emptied before each run; repeated: the same request again, "
        "answered from the read cache (same answer, checked); together: "
        f"{args.together} clients asking at once on an empty cache, until the last answer.",
        "",
        "| analysis | caller | cold min ms | cold median ms | repeated median ms | "
        "together ms | answer bytes | error |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r['analysis']} | {r['nation']} | {r['min_ms']} | {r['median_ms']} | "
        f"{r['cached_median_ms']} | {r.get('together_ms') or '-'} | {r['answer_bytes']} | "
        f"{r['error'] or ''} |"
        for r in result["rows"]
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suppliers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--together", type=int, default=4, help="clients asking at once on an empty cache"
    )
    parser.add_argument("--neo4j-uri", default=None)
    parser.add_argument("--no-load", action="store_true", help="use the data already there")
    parser.add_argument(
        "--only", action="append", default=[], help="analyses whose name starts with this"
    )
    args = parser.parse_args()
    args.argv = sys.argv[1:]  # the command as run, for the results header
    start_load = loadavg()
    with neo4j(args.neo4j_uri) as uri:
        result = asyncio.run(run(args, uri))
    text = markdown(args, result, (start_load, loadavg()))
    RESULTS.mkdir(exist_ok=True)
    stem = f"{datetime.now(UTC):%Y-%m-%d-%H%M}-analytics-{args.suppliers}"
    (RESULTS / f"{stem}.md").write_text(text)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2, default=str))
    print(text)


if __name__ == "__main__":
    main()
