"""Benchmark: commit-to-delivery latency and delivered events/s of the `changes` subscription.

    .venv/bin/python -m bench.live --subscribers 500 --writes 100 --rate 5

Starts its own embedded Neo4j (or `--neo4j-uri`), loads the reference data and a small
synthetic graph, starts `dibx serve` (one process) on a loopback port, and opens
`--subscribers` graphql-transport-ws sockets (the `websockets` library), each with its own
token, spread over USA, GBR, AUS, CAN and JPN, each subscribed to SUPPLIER changes after the
feed's current end (its nation's `endCursor` from the `changes` query). One GBR writer then
creates `--writes` suppliers through the HTTP API at up to `--rate` a second, their markings
cycling so the nations see different subsets (REL TO USA, GBR / REL TO USA, AUS, CAN, GBR,
NZL / REL TO USA, CAN, GBR; JPN sees none of them: its sockets cost reads, not deliveries).
Each nation's expected events are what the `changes` query lists for it afterwards; the run
waits until every socket has them (or `--timeout`).

Reports, never asserts: latency from each event's `committedAt` (stamped in its transaction,
just before COMMIT) to its arrival at the client, p50 / p99 over all deliveries; delivered
events a second (all sockets, first commit to last delivery); the poller's rounds and feed
reads; the load average. Clients and server share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from bench.analytics import neo4j
from bench.load import loadavg
from dibx import config
from dibx import data as shipped
from dibx.app import build_runtime
from dibx.auth.principal import Principal
from dibx.graph import migrations
from dibx.graph.driver import Graph
from dibx.graph.driver import connect as neo4j_connect
from dibx.graph.writes import write_dataset
from dibx.ingest import synthetic
from dibx.ingest.reference import load_reference
from dibx.neo4j_server import free_port

NATIONS = ("USA", "GBR", "AUS", "CAN", "JPN")
MARKINGS = (
    "CUI//REL TO USA, GBR",
    "CUI//REL TO USA, AUS, CAN, GBR, NZL",
    "CUI//REL TO USA, CAN, GBR",
)
SUBSCRIPTION = (
    "subscription Live($after: String) { changes(after: $after, types: [SUPPLIER]) "
    "{ cursor kind id committedAt } }"
)
QUERY = (
    "query Feed($after: String) { changes(after: $after, first: 100, types: [SUPPLIER]) "
    "{ changes { id } endCursor hasNextPage } }"
)
CREATE = (
    "mutation($i: CreateSupplierInput!) { createSupplier(input: $i) "
    "{ changes { key } userErrors { code message } } }"
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def serving(uri: str, data_dir: Path, port: int, subscribers: int) -> Iterator[dict[str, str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DIBX_")},
        "DIBX_NEO4J_URI": uri,
        "DIBX_DATA_DIR": str(data_dir),
        "DIBX_PORT": str(port),
        "DIBX_RATE_PER_ADDRESS": "0",
        "DIBX_RATE_PER_TOKEN": "0",
        "DIBX_LIVE_MAX_SUBSCRIBERS": str(max(subscribers, 1)),
        "DIBX_LOG_LEVEL": "warning",
    }
    log = (data_dir / "serve.log").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "dibx.cli", "serve"], env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            if child.poll() is not None:
                raise RuntimeError("dibx serve exited")
            time.sleep(0.3)
        yield env
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=120)
        log.close()


def token(env: dict[str, str], nation: str, scope: str) -> str:
    argv = [sys.executable, "-m", "dibx.cli", "token", "--nation", nation, "--scope", scope]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    return done.stdout.strip()


async def end_cursor(client: httpx.AsyncClient, bearer: str) -> tuple[str | None, int]:
    """The nation's current end of the feed, and how many SUPPLIER changes it passed."""
    after: str | None = None
    seen = 0
    while True:
        reply = await client.post(
            "/graphql",
            json={"query": QUERY, "variables": {"after": after}},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        page = reply.json()["data"]["changes"]
        seen += len(page["changes"])
        after = page["endCursor"]
        if not page["hasNextPage"]:
            return after, seen


class Socket:
    def __init__(self, nation: str, progress: asyncio.Event) -> None:
        self.nation = nation
        self.progress = progress  # set on every delivery
        self.latencies: list[float] = []
        self.last_at = 0.0
        self.closed: str | None = None

    async def run(self, url: str, bearer: str, after: str | None, ready: asyncio.Event) -> None:
        protocols = [Subprotocol("graphql-transport-ws")]
        async with connect(url, subprotocols=protocols, open_timeout=120) as ws:
            await self._start(ws, bearer, after)
            ready.set()
            async for raw in ws:
                now = time.time()
                message = json.loads(raw)
                if message.get("type") != "next":
                    self.closed = str(message)
                    return
                change = message["payload"]["data"]["changes"]
                committed = datetime.fromisoformat(change["committedAt"]).timestamp()
                self.latencies.append((now - committed) * 1000)
                self.last_at = now
                self.progress.set()

    async def _start(self, ws: ClientConnection, bearer: str, after: str | None) -> None:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"not acknowledged: {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"after": after}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))


async def feed_reads(
    env: dict[str, str], uri: str, starts: dict[str, str | None]
) -> dict[str, float]:
    """What one poller read costs: the feed's `read_from` (the read each subscriber group
    gets per round) from each nation's start over the run's changes, median of 3, in ms."""
    graph = Graph(neo4j_connect(uri, "neo4j", ""), "neo4j")
    runtime = build_runtime(config.load(env), graph=graph)
    feed = runtime.services.changes
    assert feed is not None
    today = datetime.now(UTC).date()
    timings: dict[str, float] = {}
    for nation, cursor in starts.items():
        who = Principal(f"b-{nation}", "bench", nation, None, frozenset(), frozenset(), None)
        groups = await runtime.memberships.groups_of(nation, today)
        scope = runtime.policy.scope_for(who, groups, today)
        position = feed.position(scope, cursor, types=["Supplier"])
        spent = []
        for _ in range(3):
            began = time.perf_counter()
            await feed.read_from(scope, position, first=100, types=["Supplier"])
            spent.append((time.perf_counter() - began) * 1000)
        timings[nation] = round(statistics.median(spent), 1)
    await graph.close()
    return timings


async def run(args: argparse.Namespace, uri: str) -> dict[str, Any]:
    graph = Graph(neo4j_connect(uri, "neo4j", ""), "neo4j")
    await migrations.apply(graph)
    data = load_reference(shipped.reference_dir()).dataset
    await write_dataset(graph, data.merged(synthetic.generate(args.suppliers, seed=7)))
    await graph.close()
    with tempfile.TemporaryDirectory(prefix="dibx-bench-live-") as tmp:
        port = free_port()
        with serving(uri, Path(tmp), port, args.subscribers) as env:
            readers = {n: token(env, n, "supplier:read") for n in NATIONS}
            writer = token(env, "GBR", "supplier:read data:write")
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=300) as client:
                starts = {n: await end_cursor(client, readers[n]) for n in NATIONS}
                progress = asyncio.Event()
                sockets = [
                    Socket(NATIONS[i % len(NATIONS)], progress) for i in range(args.subscribers)
                ]
                url = f"ws://127.0.0.1:{port}/graphql"
                tasks = []
                for s in sockets:
                    ready = asyncio.Event()
                    tasks.append(
                        asyncio.create_task(
                            s.run(url, readers[s.nation], starts[s.nation][0], ready)
                        )
                    )
                    await asyncio.wait_for(ready.wait(), 120)
                print(f"{len(sockets)} subscribed", flush=True)
                first_commit = time.time()
                stamp = int(first_commit)
                for i in range(args.writes):
                    began = time.perf_counter()
                    marking = MARKINGS[i % len(MARKINGS)]
                    given = {
                        "key": f"live-{stamp}-{i}",
                        "marking": marking,
                        "fields": {"name": {"value": f"Live {i}", "marking": marking}},
                        "nation": {"key": "GBR", "marking": "CUI"},
                    }
                    reply = await client.post(
                        "/graphql",
                        json={"query": CREATE, "variables": {"i": given}},
                        headers={"Authorization": f"Bearer {writer}"},
                    )
                    body = reply.json()
                    refused = body.get("errors") or body["data"]["createSupplier"]["userErrors"]
                    if reply.status_code != 200 or refused:
                        raise RuntimeError(f"write refused: {body}")
                    await asyncio.sleep(max(0.0, 1 / args.rate - (time.perf_counter() - began)))
                expected = {
                    n: (await end_cursor(client, readers[n]))[1] - starts[n][1] for n in NATIONS
                }
                deadline = time.monotonic() + args.timeout
                while time.monotonic() < deadline and any(
                    len(s.latencies) < expected[s.nation] for s in sockets
                ):
                    progress.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(progress.wait(), deadline - time.monotonic())
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            reads = await feed_reads(env, uri, {n: starts[n][0] for n in NATIONS})
    latencies = [t for s in sockets for t in s.latencies]
    short = sum(1 for s in sockets if len(s.latencies) < expected[s.nation])
    last = max((s.last_at for s in sockets), default=first_commit)
    return {
        "subscribers": args.subscribers,
        "writes": args.writes,
        "rate": args.rate,
        "expected_per_nation": expected,
        "delivered": len(latencies),
        "sockets_short": short,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(pct(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "events_per_s": round(len(latencies) / max(last - first_commit, 1e-9), 1),
        "feed_read_ms": reads,
        "loadavg": loadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="writes a second at most")
    parser.add_argument("--suppliers", type=int, default=200, help="synthetic graph size")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
    parser.add_argument("--neo4j-uri", default=None)
    args = parser.parse_args()
    before = loadavg()
    with neo4j(args.neo4j_uri) as uri:
        result = asyncio.run(run(args, uri))
    result["loadavg_before"] = before
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
