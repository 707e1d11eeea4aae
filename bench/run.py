"""Benchmark: the same reads through the raw driver, through dibx and through @neo4j/graphql.

    .venv/bin/python -m bench.run --suppliers 20000 --requests 200 --concurrency 4

Starts an embedded Neo4j in a temporary directory (or uses --neo4j-uri), loads the reference
data and the synthetic graph, then times four read operations (bench/operations.py) on the
same database and data, each way in turn:

  raw            hand-written Cypher on the neo4j async driver, no release checks (the floor)
  raw+checks     the same Cypher with dibx's release predicates, per caller nation
  dibx-cypher    the exact query dibx compiles for the operation, replayed on the driver
                 (diagnostic: the query's own cost, without HTTP, tokens, GraphQL or audit)
  dibx           the real app under uvicorn over HTTP with a bearer token, file audit sink
  neo4j-graphql  @neo4j/graphql + Apollo Server over HTTP (no releasability at all)

Results go to bench/results/<date>-<suppliers>.{json,md}. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, LiteralString, cast

import httpx
import neo4j
from neo4j import AsyncDriver

from bench import operations, profiling, report
from bench.load import Measurement, loadavg, measure
from bench.operations import Operation
from bench.servers import Child, ngql_problem, start_dibx, start_ngql
from dibx import config, neo4j_server
from dibx import data as shipped
from dibx.app import build_runtime, create_app
from dibx.auth.principal import Principal
from dibx.graph import migrations
from dibx.graph.driver import Graph, connect
from dibx.graph.writes import write_dataset
from dibx.ingest import synthetic
from dibx.ingest.reference import load_reference
from dibx.services.audit import FileSink
from dibx.services.memberships import MembershipDirectory

READ_SCOPES = ("supplier:read", "supply_chain:read")
RESULTS = Path(__file__).resolve().parent / "results"
ALL_WAYS = ("raw", "raw+checks", "dibx-cypher", "dibx", "neo4j-graphql")


def log(message: str) -> None:
    load = " ".join(f"{x:.2f}" for x in loadavg())
    print(f"[{datetime.now().strftime('%H:%M:%S')} load {load}] {message}", flush=True)


# --- Neo4j and data -------------------------------------------------------------------------


@contextlib.contextmanager
def neo4j_instance(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[str, int | None]]:
    """(bolt URI, server pid when we started it)."""
    if args.neo4j_uri:
        yield args.neo4j_uri, args.neo4j_pid
        return
    log(f"starting embedded Neo4j (heap {args.heap}, page cache {args.page_cache})")
    started = time.perf_counter()
    server = neo4j_server.start(
        tmp / "neo4j",
        neo4j_server.free_port(),
        heap=args.heap,
        page_cache=args.page_cache,
        tx_memory=args.tx_memory,
        tie_to_parent=True,
    )
    log(f"Neo4j ready at {server.uri} in {time.perf_counter() - started:.1f}s")
    try:
        yield server.uri, server.pid
    finally:
        server.stop()


async def supplier_count(driver: AsyncDriver, database: str) -> int:
    records, _, _ = await driver.execute_query(
        "MATCH (s:Supplier) RETURN count(s) AS n", database_=database
    )
    return int(records[0]["n"])


async def load_data(
    graph: Graph, suppliers: int, seed: int, batch_size: int, mode: str
) -> dict[str, Any]:
    await migrations.apply(graph)
    present = await supplier_count(graph.driver, graph.database)
    if mode == "never" or (mode == "auto" and present > 0):
        log(f"not loading: the database holds {present} suppliers already (--load {mode})")
        return {"loaded": False, "suppliers_present": present}

    started = time.perf_counter()
    reference = load_reference(shipped.reference_dir())
    if reference.rejected:
        raise SystemExit(f"reference data rejected: {reference.rejected[:3]}")
    generated = synthetic.generate(suppliers, seed=seed)
    # Nations come with the reference data already.
    dataset = reference.dataset.merged(generated.replaced(nodes={"Nation": []}))
    generate_s = time.perf_counter() - started
    counts = dataset.counts()
    rows = sum(counts.values())
    log(f"generated {rows:,} rows in {generate_s:.1f}s: {counts}")

    last = [time.perf_counter()]

    def progress(kind: str, written: int) -> None:
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            log(f"  writing {kind}: {written:,}")

    started = time.perf_counter()
    written = await write_dataset(graph, dataset, batch_size=batch_size, progress=progress)
    await graph.write("CALL db.awaitIndexes(600)")
    write_s = time.perf_counter() - started
    log(f"wrote {rows:,} rows in {write_s:.1f}s ({rows / write_s:,.0f} rows/s)")
    return {
        "loaded": True,
        "counts": counts,
        "written": written,
        "rows": rows,
        "nodes": sum(counts[k] for k in ("Nation", "Agreement", "Supplier", "Capability")),
        "edges": rows - sum(counts[k] for k in ("Nation", "Agreement", "Supplier", "Capability")),
        "generate_seconds": round(generate_s, 2),
        "write_seconds": round(write_s, 2),
        "rows_per_second": round(rows / write_s),
        "batch_size": batch_size,
    }


PICK_SUPPLIERS: LiteralString = """
MATCH (s:Supplier) WHERE s.release = []
WITH s, COUNT { (s)-[:SOURCES_FROM]->() } AS degree WHERE degree >= 3
RETURN s.id AS key ORDER BY degree DESC, key LIMIT $n
"""

PICK_CAPABILITIES: LiteralString = """
MATCH (c:Capability) WHERE c.release = []
WITH c, COUNT { (c)<-[:PROVIDES]-() } AS providers WHERE providers >= 3
RETURN c.id AS key ORDER BY providers DESC, key LIMIT $n
"""


async def pick_parameters(driver: AsyncDriver, database: str, n: int) -> dict[str, list[str]]:
    """Busy records whose own marking is PUBLIC, so every caller sees the root record."""
    sup, _, _ = await driver.execute_query(PICK_SUPPLIERS, {"n": n}, database_=database)
    cap, _, _ = await driver.execute_query(PICK_CAPABILITIES, {"n": n}, database_=database)
    return {"suppliers": [r["key"] for r in sup], "capabilities": [r["key"] for r in cap]}


def params_for(op: Operation, picked: dict[str, list[str]]) -> list[str | None]:
    if op.name in ("list", "page"):
        return [None]
    return list(picked["suppliers"] if op.name == "tree" else picked["capabilities"])


# --- the ways ----------------------------------------------------------------------------------


async def raw_call(
    driver: AsyncDriver, database: str, query: LiteralString, params: dict[str, Any]
) -> list[dict[str, Any]]:
    async def work(tx: neo4j.AsyncManagedTransaction) -> list[dict[str, Any]]:
        result = await tx.run(query, params)
        return [record.data() async for record in result]

    async with driver.session(database=database, default_access_mode=neo4j.READ_ACCESS) as s:
        return await s.execute_read(work)


@dataclasses.dataclass
class Caller:
    nation: str
    token: str
    cypher_params: dict[str, Any]


async def make_callers(
    settings: config.Settings, graph: Graph, nations: list[str]
) -> dict[str, Caller]:
    """A token per nation, and the release parameters dibx derives for that caller."""
    runtime = build_runtime(settings, graph=graph)
    assert runtime.issuer is not None
    policy = runtime.policy  # the model's default markings under the file's overrides
    memberships = MembershipDirectory(graph)
    today = datetime.now(UTC).date()
    callers = {}
    for nation in nations:
        token = runtime.issuer.issue(
            subject=f"bench-{nation.lower()}",
            client_id="bench",
            nation=nation,
            scopes=READ_SCOPES,
            org="bench",
            ttl=24 * 3600,
        )
        principal = Principal(
            subject=f"bench-{nation.lower()}",
            client_id="bench",
            nation=nation,
            org="bench",
            scopes=frozenset(READ_SCOPES),
            attributes=frozenset(),
            token_id=None,
        )
        groups = await memberships.groups_of(nation, today)
        scope = policy.scope_for(principal, groups, today)
        callers[nation] = Caller(nation, token, scope.cypher_params())
    return callers


class GraphQLFailure(RuntimeError):
    pass


async def graphql_call(
    client: httpx.AsyncClient,
    url: str,
    document: str,
    variables: dict[str, Any],
    operation_name: str,
    token: str | None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        url,
        json={"query": document, "variables": variables, "operationName": operation_name},
        headers=headers,
    )
    if response.status_code != 200:
        raise GraphQLFailure(f"HTTP {response.status_code}: {response.text[:300]}")
    body = response.json()
    if body.get("errors"):
        raise GraphQLFailure(json.dumps(body["errors"])[:500])
    return cast(dict[str, Any], body["data"])


def operation_name(document: str) -> str:
    return document.split("query", 1)[1].split("(", 1)[0].split("{", 1)[0].strip()


class CompiledCapture:
    """Runs dibx in-process once per parameter to capture the Cypher it compiles.

    Graph.read is wrapped on this in-process runtime only: the served app is untouched.
    """

    def __init__(self, settings: config.Settings, driver: AsyncDriver, audit: Path) -> None:
        self.graph = Graph(driver, settings.neo4j_database)
        self.runtime = build_runtime(settings, graph=self.graph, audit=FileSink(audit))
        self.app = create_app(self.runtime, own_graph=False)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://dibx.bench"
        )
        self.captured: list[tuple[LiteralString, dict[str, Any]]] = []
        original = self.graph.read

        async def read(query: LiteralString, params: Any = None, **kw: Any) -> list[dict[str, Any]]:
            self.captured.append((query, dict(params or {})))
            return await original(query, params, **kw)

        self.graph.read = read  # type: ignore[method-assign]

    async def compiled(
        self, op: Operation, param: str | None, token: str
    ) -> tuple[LiteralString, dict[str, Any]]:
        await self.runtime.memberships.refresh()
        # The first request after a refresh also reads the memberships released to the
        # caller (for the banner); the second reads only the compiled query.
        for _ in range(2):
            self.captured.clear()
            await graphql_call(
                self.client,
                "/graphql",
                op.dibx_document,
                op.dibx_variables(param),
                operation_name(op.dibx_document),
                token,
            )
        if len(self.captured) != 1:
            seen = "; ".join(q[:120] for q, _ in self.captured)
            raise RuntimeError(f"{op.name}: expected one compiled read, saw {seen}")
        return self.captured[0]

    async def compiled_for_all(
        self, op: Operation, values: list[str | None], token: str
    ) -> dict[str | None, tuple[LiteralString, dict[str, Any]]]:
        """The compiled query for each parameter value, running dibx once: the text is the
        same for every value, and the one parameter holding the key is swapped."""
        query, params = await self.compiled(op, values[0], token)
        holders = [k for k, v in params.items() if values[0] is not None and v == values[0]]
        if values[0] is not None and len(holders) != 1:
            # Not one obvious key parameter: capture each value for real.
            return {v: await self.compiled(op, v, token) for v in values}
        return {v: (query, {**params, **dict.fromkeys(holders, v)}) for v in values}

    async def close(self) -> None:
        await self.client.aclose()


# --- measuring -----------------------------------------------------------------------------


@dataclasses.dataclass
class Way:
    name: str  # e.g. "raw+checks"
    nation: str | None  # the caller, for ways with releasability
    call: Callable[[int], Awaitable[None]]
    check: Callable[[str | None], Awaitable[Any]]  # keys of one answer, for cross-checks

    @property
    def label(self) -> str:
        return f"{self.name} {self.nation}" if self.nation else self.name


def _rotating(values: list[str | None]) -> Callable[[int], str | None]:
    return lambda i: values[i % len(values)]


async def ways_for(
    op: Operation,
    values: list[str | None],
    *,
    args: argparse.Namespace,
    driver: AsyncDriver,
    database: str,
    callers: dict[str, Caller],
    capture: CompiledCapture | None,
    dibx: Child | None,
    ngql: Child | None,
    client: httpx.AsyncClient,
) -> list[Way]:
    pick = _rotating(values)
    ways: list[Way] = []
    selected = set(args.ways)

    def raw_way(name: str, nation: str | None, query: LiteralString, extra: dict[str, Any]) -> Way:
        async def keys(param: str | None) -> Any:
            rows = await raw_call(driver, database, query, {**extra, **op.cypher_params(param)})
            return op.keys_raw(rows)

        async def call(i: int) -> None:
            await raw_call(driver, database, query, {**extra, **op.cypher_params(pick(i))})

        return Way(name, nation, call, keys)

    if "raw" in selected:
        ways.append(raw_way("raw", None, op.plain_cypher, {}))
    if "raw+checks" in selected:
        for nation, caller in callers.items():
            ways.append(raw_way("raw+checks", nation, op.checked_cypher, caller.cypher_params))
    if "dibx-cypher" in selected and capture is not None:
        for nation, caller in callers.items():
            compiled = await capture.compiled_for_all(op, values, caller.token)

            def compiled_way(nation: str, compiled: dict[Any, Any]) -> Way:
                async def call(i: int) -> None:
                    query, params = compiled[pick(i)]
                    await raw_call(driver, database, query, params)

                async def keys(param: str | None) -> Any:
                    query, params = compiled[param]
                    return len(await raw_call(driver, database, query, params))

                return Way("dibx-cypher", nation, call, keys)

            ways.append(compiled_way(nation, compiled))
    name = operation_name(op.dibx_document)
    if "dibx" in selected and dibx is not None:
        for nation, caller in callers.items():

            def dibx_way(token: str, nation: str) -> Way:
                async def keys(param: str | None) -> Any:
                    data = await graphql_call(
                        client, dibx.url, op.dibx_document, op.dibx_variables(param), name, token
                    )
                    return op.keys_dibx(data)

                async def call(i: int) -> None:
                    await graphql_call(
                        client, dibx.url, op.dibx_document, op.dibx_variables(pick(i)), name, token
                    )

                return Way("dibx", nation, call, keys)

            ways.append(dibx_way(caller.token, nation))
    if "neo4j-graphql" in selected and ngql is not None:

        async def ngql_keys(param: str | None) -> Any:
            data = await graphql_call(
                client, ngql.url, op.ngql_document, op.ngql_variables(param), name, None
            )
            return op.keys_ngql(data)

        async def ngql_call(i: int) -> None:
            await graphql_call(
                client, ngql.url, op.ngql_document, op.ngql_variables(pick(i)), name, None
            )

        ways.append(Way("neo4j-graphql", None, ngql_call, ngql_keys))
    return ways


async def cross_check(op: Operation, ways: list[Way], values: list[str | None]) -> dict[str, Any]:
    """Do the ways return the same records? raw vs neo4j-graphql; raw+checks vs dibx."""
    sample = values[:3]
    outcome: dict[str, Any] = {}
    by_label: dict[str, list[Any]] = {}
    for way in ways:
        if way.name == "dibx-cypher":
            continue
        try:
            by_label[way.label] = [await way.check(v) for v in sample]
        except Exception as exc:  # noqa: BLE001 - reported, and the way is measured anyway
            by_label[way.label] = [f"error: {type(exc).__name__}: {exc}"[:300]]
    pairs = [("raw", "neo4j-graphql")] + [
        (f"raw+checks {w.nation}", f"dibx {w.nation}") for w in ways if w.name == "dibx"
    ]
    for left, right in pairs:
        if left in by_label and right in by_label:
            same = by_label[left] == by_label[right]
            outcome[f"{left} == {right}"] = same
            if not same:
                log(
                    f"  MISMATCH {op.name}: {left} -> {str(by_label[left])[:300]}\n"
                    f"                      {right} -> {str(by_label[right])[:300]}"
                )
    return outcome


# --- profile -------------------------------------------------------------------------------


async def profile_dibx(
    capture: CompiledCapture,
    ops: list[Operation],
    picked: dict[str, list[str]],
    token: str,
    out_prefix: Path,
    rounds: int,
) -> dict[str, Any]:
    """Profile dibx in-process (ASGI, no socket) over `rounds` requests per operation."""
    found: dict[str, Any] = {}
    for op in ops:
        values = params_for(op, picked)
        name = operation_name(op.dibx_document)

        async def one(
            i: int, op: Operation = op, values: list[str | None] = values, name: str = name
        ) -> None:
            await graphql_call(
                capture.client,
                "/graphql",
                op.dibx_document,
                op.dibx_variables(values[i % len(values)]),
                name,
                token,
            )

        for i in range(10):
            await one(i)
        path = out_prefix.with_name(f"{out_prefix.name}-profile-{op.name}.txt")
        result = await profiling.profile(one, rounds, path)
        if result is None:
            log("pyinstrument is not installed: no profile (pip install pyinstrument)")
            return found
        found[op.name] = result
        log(f"profile of {op.name} -> {path}")
    return found


# --- main ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def http_client(concurrency: int) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=120.0) as client:
        yield client


async def run(
    args: argparse.Namespace, neo4j_uri: str, neo4j_pid: int | None, tmp: Path
) -> dict[str, Any]:
    database = "neo4j"
    driver = connect(neo4j_uri, "neo4j", os.environ.get("DIBX_NEO4J_PASSWORD", ""))
    graph = Graph(driver, database)
    result: dict[str, Any] = {}
    children: list[Child] = []
    capture: CompiledCapture | None = None
    try:
        result["load"] = await load_data(
            graph, args.suppliers, args.seed, args.batch_size, args.load
        )
        result["suppliers_in_database"] = await supplier_count(driver, database)
        picked = await pick_parameters(driver, database, args.params)
        result["parameters"] = picked
        log(
            f"parameters: {len(picked['suppliers'])} suppliers, "
            f"{len(picked['capabilities'])} capabilities"
        )

        data_dir = tmp / "dibx"
        env = {
            "DIBX_ENV": "development",
            "DIBX_DATA_DIR": str(data_dir),
            "DIBX_NEO4J_URI": neo4j_uri,
            "DIBX_AUDIT_SINK": f"file:{tmp / 'audit-inprocess.jsonl'}",
            # The profile sends hundreds of requests as one token: measured, not throttled.
            "DIBX_RATE_PER_TOKEN": "0",
            "DIBX_RATE_PER_ADDRESS": "0",
        }
        if args.max_depth:
            env["DIBX_MAX_DEPTH"] = str(args.max_depth)
        settings = config.load({**os.environ, **env})
        callers = await make_callers(settings, graph, args.nations)

        dibx = ngql = None
        if "dibx" in args.ways:
            dibx = start_dibx(
                neo4j_uri=neo4j_uri,
                port=neo4j_server.free_port(),
                data_dir=data_dir,
                audit_file=tmp / "audit.jsonl",
                log=tmp / "dibx.log",
                max_depth=args.max_depth,
                workers=args.dibx_workers,
            )
            children.append(dibx)
            log(f"dibx serving at {dibx.url}")
        if "neo4j-graphql" in args.ways:
            problem = ngql_problem()
            if problem:
                log(f"skipping @neo4j/graphql: {problem}")
                result["neo4j_graphql_skipped"] = problem
            else:
                ngql = start_ngql(
                    neo4j_uri=neo4j_uri, port=neo4j_server.free_port(), log=tmp / "ngql.log"
                )
                children.append(ngql)
                log(f"@neo4j/graphql serving at {ngql.url}")
        if "dibx-cypher" in args.ways or args.profile:
            capture = CompiledCapture(settings, driver, tmp / "audit-inprocess.jsonl")

        pids = {"client": os.getpid()}
        if neo4j_pid is not None:
            pids["neo4j"] = neo4j_pid
        pids.update({c.name: c.process.pid for c in children})
        ops = [op for op in operations.build(date.today()) if op.name in args.ops]
        measurements: list[Measurement] = []
        checks: dict[str, Any] = {}
        compiled_text: dict[str, str] = {}
        started = time.monotonic()
        busy = args.busy_clients if args.busy_clients > args.concurrency else 0
        async with http_client(max(args.concurrency, busy)) as client:
            for op in ops:
                values = params_for(op, picked)
                ways = await ways_for(
                    op,
                    values,
                    args=args,
                    driver=driver,
                    database=database,
                    callers=callers,
                    capture=capture,
                    dibx=dibx,
                    ngql=ngql,
                    client=client,
                )
                if capture is not None:
                    first = next(iter(callers.values()))
                    compiled_text[op.name] = (await capture.compiled(op, values[0], first.token))[0]
                checks[op.name] = await cross_check(op, ways, values)
                for way in ways:
                    if time.monotonic() - started > args.budget:
                        log(f"time budget of {args.budget:.0f}s spent: skipping {way.label}")
                        continue
                    m = await measure(
                        way.label,
                        op.name,
                        way.call,
                        requests=args.requests,
                        concurrency=args.concurrency,
                        warmup=args.warmup,
                        max_seconds=args.max_seconds,
                        pids=pids,
                    )
                    measurements.append(m)
                    log(
                        f"{op.name:9} {way.label:18} p50 {m.p50:8.2f} ms  p99 {m.p99:8.2f} ms  "
                        f"{m.throughput:8.1f} req/s  errors {m.errors}"
                        + (f"  ({m.first_error})" if m.first_error else "")
                    )
                    if not busy or not way.label.startswith(("dibx ", "neo4j-graphql")):
                        continue
                    # Throughput with many clients: only the two GraphQL servers, over HTTP.
                    m = await measure(
                        f"{way.label} @{busy}",
                        op.name,
                        way.call,
                        requests=max(args.requests, 4 * busy),
                        concurrency=busy,
                        warmup=args.warmup,
                        max_seconds=args.max_seconds,
                        pids=pids,
                    )
                    measurements.append(m)
                    log(f"{op.name:9} {m.way:18} {m.throughput:8.1f} req/s at {busy} clients")
        result["operations"] = {op.name: op.title for op in ops}
        result["documents"] = {
            op.name: {
                "dibx": op.dibx_document.strip(),
                "neo4j-graphql": op.ngql_document.strip(),
                "raw": op.plain_cypher.strip(),
                "raw+checks": op.checked_cypher.strip(),
                "dibx-cypher": compiled_text.get(op.name, ""),
            }
            for op in ops
        }
        result["cross_checks"] = checks
        result["measurements"] = measurements
        if args.profile and capture is not None:
            first = next(iter(callers.values()))
            result["profiles"] = await profile_dibx(
                capture, ops, picked, first.token, args.out_prefix, args.profile
            )
        for child in children:
            if child.process.poll() is not None:
                log(f"{child.name} died during the run:\n{child.tail()}")
    finally:
        if capture is not None:
            await capture.close()
        for child in children:
            child.stop()
        await driver.close()
    return result


def source_version() -> str:
    """The checkout's commit, with "+dirty" when src/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    p.add_argument("--suppliers", type=int, default=20_000, help="synthetic graph size")
    p.add_argument("--requests", type=int, default=200, help="measured requests per cell")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    p.add_argument(
        "--busy-clients",
        type=int,
        default=16,
        help="also measure the GraphQL servers' throughput at this many clients (0: off)",
    )
    p.add_argument("--warmup", type=int, default=None, help="default: max(20, requests/5)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="cap per measured cell")
    p.add_argument("--budget", type=float, default=20 * 60.0, help="cap on all measuring")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--params", type=int, default=20, help="ids rotated through per operation")
    p.add_argument("--neo4j-uri", default=None, help="use this Neo4j instead of starting one")
    p.add_argument("--neo4j-pid", type=int, default=None, help="its pid, to count its CPU time")
    p.add_argument(
        "--load",
        choices=("auto", "always", "never"),
        default="auto",
        help="auto: load only into a database without suppliers",
    )
    p.add_argument("--batch-size", type=int, default=5000)
    p.add_argument("--heap", default=os.environ.get("DIBX_NEO4J_HEAP", "1g"))
    p.add_argument("--page-cache", default=os.environ.get("DIBX_NEO4J_PAGE_CACHE", "1g"))
    p.add_argument("--tx-memory", default=os.environ.get("DIBX_NEO4J_TX_MEMORY", "512m"))
    p.add_argument("--nations", default="USA,GBR", help="caller nations for dibx and checks")
    p.add_argument("--ways", default=",".join(ALL_WAYS))
    p.add_argument("--ops", default="list,tree,providers,count,page,chain")
    p.add_argument("--max-depth", type=int, default=12, help="DIBX_MAX_DEPTH for the app")
    p.add_argument(
        "--dibx-workers", type=int, default=1, help="API processes (`dibx serve --workers N`)"
    )
    p.add_argument("--profile", type=int, default=100, help="profiled requests per op (0: off)")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--keep-tmp", action="store_true")
    args = p.parse_args(argv)
    args.nations = [n.strip().upper() for n in args.nations.split(",") if n.strip()]
    args.ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    unknown = set(args.ways) - set(ALL_WAYS)
    if unknown:
        p.error(f"unknown way(s) {sorted(unknown)}; known: {', '.join(ALL_WAYS)}")
    if args.warmup is None:
        args.warmup = max(20, args.requests // 5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y-%m-%d-%H%M")
    args.out_prefix = args.out / f"{stamp}-{args.suppliers}"
    tmp = Path(tempfile.mkdtemp(prefix="dibx-bench-"))
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, "-m", "bench.run", *sys.argv[1:]]),
        "dibx_version": source_version(),
        "suppliers": args.suppliers,
        "requests": args.requests,
        "warmup": args.warmup,
        "concurrency": args.concurrency,
        "dibx_workers": args.dibx_workers,
        "max_seconds": args.max_seconds,
        "nations": args.nations,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_at_start": loadavg(),
            "neo4j_heap": args.heap,
            "neo4j_page_cache": args.page_cache,
        },
    }
    try:
        with neo4j_instance(args, tmp) as (uri, pid):
            result = asyncio.run(run(args, uri, pid, tmp))
    finally:
        if args.keep_tmp:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    meta["machine"]["load_at_end"] = loadavg()
    meta["wall_seconds"] = round(time.perf_counter() - started, 1)
    json_path, md_path = report.write(args.out_prefix, meta, result)
    log(f"results: {json_path} and {md_path} ({meta['wall_seconds']}s in all)")
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
