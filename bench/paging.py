"""Deep pages cost what the first does: keyset cursors measured on a large synthetic graph.

For each order (key, name ascending, name descending) it times `first: 20` from the start and
`first: 20` after the cursor of the record at position `--deep` (found by walking back from the
end with `last`), through the whole in-process app (ASGI, token, GraphQL, one compiled read,
audit), the median of `--repeat` runs each; then PROFILEs both compiled queries and reports
the operators that read the page (index seek or scan) and the database hits.

    .venv/bin/python -m bench.paging --suppliers 50000 --deep 49900

Never part of the test run's pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any, LiteralString, cast

import httpx
from neo4j import AsyncDriver

from bench.run import load_data, log, neo4j_instance
from dibx import config
from dibx.app import build_runtime, create_app
from dibx.graph.driver import Graph, connect
from dibx.services.audit import FileSink

ORDERS = {
    "key": "",
    "name asc": ", sort: [{field: NAME}]",
    "name desc": ", sort: [{field: NAME, direction: DESC}]",
}
READ = ("supplier:read",)


def document(order: str, args: str) -> str:
    return (
        f"query Page($n: Int, $c: String) {{ suppliers({args}{ORDERS[order]}) {{ "
        "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } "
        "edges { cursor node { key name nation { code } } } } }"
    )


class InProcess:
    def __init__(self, settings: config.Settings, driver: AsyncDriver) -> None:
        self.graph = Graph(driver, settings.neo4j_database)
        self.runtime = build_runtime(
            settings, graph=self.graph, audit=FileSink(settings.data_dir / "audit.jsonl")
        )
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(self.runtime, own_graph=False)),
            base_url="http://dibx.bench",
        )
        assert self.runtime.issuer is not None
        self.token = self.runtime.issuer.issue(
            subject="bench-usa", client_id="bench", nation="USA", scopes=READ, org="bench"
        )
        self.captured: list[tuple[LiteralString, dict[str, Any]]] = []
        original = self.graph.read

        async def read(query: LiteralString, params: Any = None, **kw: Any) -> list[dict[str, Any]]:
            self.captured.append((query, dict(params or {})))
            return await original(query, params, **kw)

        self.graph.read = read  # type: ignore[method-assign]

    async def query(self, doc: str, variables: dict[str, Any]) -> dict[str, Any]:
        reply = await self.client.post(
            "/graphql",
            json={"query": doc, "variables": variables},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        body = reply.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return cast(dict[str, Any], body["data"]["suppliers"])


async def cursor_at(app: InProcess, order: str, position: int, total: int) -> str:
    """The cursor of the record at `position` (0-based), reached from the end with `last`."""
    before: str | None = None
    remaining = total - position
    while True:
        size = min(100, remaining)
        page = await app.query(document(order, "last: $n, before: $c"), {"n": size, "c": before})
        remaining -= len(page["edges"])
        if remaining <= 0:
            return str(page["edges"][0]["cursor"])
        before = page["pageInfo"]["startCursor"]


async def timed(app: InProcess, doc: str, variables: dict[str, Any], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await app.query(doc, variables)
        times.append((time.perf_counter() - started) * 1000)
    return times


async def profile(
    driver: AsyncDriver, database: str, query: str, params: dict[str, Any]
) -> dict[str, Any]:
    """Operators and database hits of the query, as Neo4j ran it."""
    async with driver.session(database=database) as session:
        result = await session.run(cast(LiteralString, "PROFILE " + query), params)
        summary = await result.consume()
    plan = summary.profile or {}
    operators: list[str] = []
    hits = 0

    def walk(node: dict[str, Any]) -> None:
        nonlocal hits
        operators.append(str(node.get("operatorType", "?")).split("@")[0])
        hits += int(node.get("dbHits", 0))
        for child in node.get("children", []):
            walk(child)

    walk(plan)
    reads = sorted(
        {
            o
            for o in operators
            if "Index" in o or "Scan" in o or o in ("Sort", "Top", "PartialTop", "PartialSort")
        }
    )
    return {"db_hits": hits, "page_operators": reads}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dibx-paging-") as tmp_name:
        tmp = Path(tmp_name)
        with neo4j_instance(args, tmp) as (uri, _pid):
            driver = connect(uri, "neo4j", os.environ.get("DIBX_NEO4J_PASSWORD", ""))
            env = {
                "DIBX_ENV": "development",
                "DIBX_DATA_DIR": str(tmp / "data"),
                "DIBX_NEO4J_URI": uri,
                "DIBX_RATE_PER_ADDRESS": "0",
                "DIBX_RATE_PER_TOKEN": "0",
            }
            settings = config.load({**os.environ, **env})
            graph = Graph(driver, settings.neo4j_database)
            loaded = await load_data(graph, args.suppliers, 7, 5000, args.load)
            app = InProcess(settings, driver)
            results: dict[str, Any] = {
                "suppliers": args.suppliers,
                "deep": args.deep,
                "load": loaded,
            }
            total_doc = "{ suppliers(first: 0) { totalCount } }"
            reply = await app.client.post(
                "/graphql",
                json={"query": total_doc},
                headers={"Authorization": f"Bearer {app.token}"},
            )
            total = int(reply.json()["data"]["suppliers"]["totalCount"])
            results["visible_to_usa"] = total
            for order in ORDERS:
                doc = document(order, "first: $n, after: $c")
                deep = await cursor_at(app, order, args.deep, total)
                await timed(app, doc, {"n": 20, "c": None}, 3)  # warm plans and caches
                await timed(app, doc, {"n": 20, "c": deep}, 3)
                start_ms = await timed(app, doc, {"n": 20, "c": None}, args.repeat)
                deep_ms = await timed(app, doc, {"n": 20, "c": deep}, args.repeat)
                app.captured.clear()
                await app.query(doc, {"n": 20, "c": None})
                await app.query(doc, {"n": 20, "c": deep})
                (q0, p0), (q1, p1) = app.captured[-2:]
                entry = {
                    "first_page_ms_p50": round(statistics.median(start_ms), 1),
                    "deep_page_ms_p50": round(statistics.median(deep_ms), 1),
                    "first_page_profile": await profile(driver, settings.neo4j_database, q0, p0),
                    "deep_page_profile": await profile(driver, settings.neo4j_database, q1, p1),
                }
                results[order] = entry
                log(f"{order}: {json.dumps(entry)}")
            await app.client.aclose()
            await driver.close()
            return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--suppliers", type=int, default=50_000)
    p.add_argument("--deep", type=int, default=49_900, help="position of the deep page's cursor")
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--load", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--neo4j-uri", default=None)
    p.add_argument("--neo4j-pid", type=int, default=None)
    p.add_argument("--heap", default=os.environ.get("DIBX_NEO4J_HEAP", "1g"))
    p.add_argument("--page-cache", default=os.environ.get("DIBX_NEO4J_PAGE_CACHE", "1g"))
    p.add_argument("--tx-memory", default=os.environ.get("DIBX_NEO4J_TX_MEMORY", "512m"))
    args = p.parse_args(argv)
    results = asyncio.run(run(args))
    out = Path("bench/results") / (
        f"{datetime.now().strftime('%Y-%m-%d-%H%M')}-paging-{args.suppliers}.json"
    )
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
