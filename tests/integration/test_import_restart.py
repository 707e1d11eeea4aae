"""An API restart while an HTTP import job runs: the job is neither lost nor repeated.

The real `dibx serve` takes a job of DIBX_TEST_RESTART_ROWS suppliers (written in batches of
DIBX_IMPORT_BATCH_ROWS); once some batches are committed and others not, it is killed with
SIGKILL. The job is left `running` under a lease nobody renews. A second `dibx serve` on the
same Neo4j claims it when the lease has run out and runs it again from its stored body: the
rows already written come back unchanged, the rest are created, and the database is exactly
what a clean run leaves: one record, one BASED_IN and one created state per row, all at
version 1. The submission and the completion are each audited once.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dibx.auth.dev_issuer import DevIssuer
from dibx.graph.driver import Graph
from dibx.graph.writes import write_dataset
from dibx.neo4j_server import free_port
from tests.support.builders import reference

pytestmark = pytest.mark.neo4j

ROWS = int(os.environ.get("DIBX_TEST_RESTART_ROWS", "500"))
BATCH = max(ROWS // 20, 1)
WAIT_S = 240.0  # a bound for a stuck process, never a measure of speed
OWN = "MATCH (s:Supplier) WHERE s.id STARTS WITH 'GBR:'"


async def _wait(condition: str, check: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting until {condition}")


async def _ready(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(f"{url}/readyz", timeout=5)).status_code == 200
    except httpx.TransportError:
        return False


class Served:
    """`dibx serve` processes over one data directory (one set of dev keys) and Neo4j."""

    def __init__(self, neo4j_uri: str, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DIBX_")},
            "PYTHONUNBUFFERED": "1",
            "DIBX_ENV": "test",
            "DIBX_NEO4J_URI": neo4j_uri,
            "DIBX_DATA_DIR": str(data_dir),
            "DIBX_AUDIT_SINK": f"file:{data_dir / 'audit.jsonl'}",
            "DIBX_RATE_PER_ADDRESS": "0",
            "DIBX_RATE_PER_TOKEN": "0",
            "DIBX_IMPORT_LEASE": "3",
            "DIBX_IMPORT_POLL": "1",
            "DIBX_IMPORT_BATCH_ROWS": str(BATCH),
            "DIBX_NEO4J_TX_TIMEOUT": "300",
        }
        self.children: list[subprocess.Popen[bytes]] = []

    async def start(self, client: httpx.AsyncClient) -> tuple[subprocess.Popen[bytes], str]:
        child, url = self.spawn()

        async def ready() -> bool:
            return child.poll() is None and await _ready(client, url)

        await _wait(f"{url} is ready", ready)
        return child, url

    def spawn(self) -> tuple[subprocess.Popen[bytes], str]:
        port = free_port()
        log = (self.data_dir / f"serve-{len(self.children)}.log").open("wb")
        child = subprocess.Popen(
            [sys.executable, "-m", "dibx.cli", "serve"],
            env={**self.env, "DIBX_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.children.append(child)
        return child, f"http://127.0.0.1:{port}"

    def token(self) -> str:
        issuer = DevIssuer.from_path(
            self.data_dir / "dev-keys" / "jwks-private.json", "http://127.0.0.1:8000", "dibx"
        )
        return issuer.issue(
            subject="steward",
            client_id="test",
            nation="GBR",
            scopes=["supplier:read", "data:write"],
            org="gbr-mod",
        )

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()


@pytest.fixture
def served(neo4j_uri: str, tmp_path: Path) -> Iterator[Served]:
    processes = Served(neo4j_uri, tmp_path)
    try:
        yield processes
    finally:
        processes.stop()


def _body() -> bytes:
    lines = ["key,marking,name,nation"]
    lines += [f"supplier-{i:06d},CUI,Supplier {i},GBR" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


async def test_a_job_survives_sigkill_of_its_api_process_and_writes_nothing_twice(
    graph: Graph, served: Served
) -> None:
    await write_dataset(graph, reference())
    async with httpx.AsyncClient(timeout=60) as client:
        await _restart(graph, served, client)


async def _restart(graph: Graph, served: Served, client: httpx.AsyncClient) -> None:
    first, url = await served.start(client)
    token = served.token()
    posted = await client.post(
        f"{url}/imports",
        params={"entity": "suppliers"},
        content=_body(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"},
    )
    assert posted.status_code == 202, posted.text
    job_id = posted.json()["id"]

    # Kill the process once some batches are committed and others are not.
    written = 0
    while written < ROWS and first.poll() is None:
        row = await graph.read_one(f"{OWN} RETURN count(s) AS n")
        written = int(row["n"]) if row else 0
        if 0 < written < ROWS:
            first.kill()
            first.wait()
            break
        await asyncio.sleep(0.02)
    assert 0 < written < ROWS, f"the job was not caught half-way ({written} of {ROWS} rows)"
    job = await graph.read_one(
        "MATCH (j:ImportJob {id: $id}) RETURN j.state AS state, j.attempts AS attempts",
        {"id": job_id},
    )
    assert job == {"state": "running", "attempts": 1}  # orphaned: nobody renews its lease

    _, url = await served.start(client)
    final: dict[str, Any] = {}

    async def ended() -> bool:
        nonlocal final
        reply = await client.get(
            f"{url}/imports/{job_id}", headers={"Authorization": f"Bearer {token}"}
        )
        final = reply.json()
        return final.get("state") in ("succeeded", "failed")

    await _wait("the job ended in the second process", ended)
    assert final["state"] == "succeeded", final
    assert final["attempts"] == 2
    counts = final["counts"]
    assert counts["read"] == ROWS
    assert counts["rejected"] == counts["updated"] == 0
    # Rows the killed process had committed came back unchanged; the others were created.
    assert counts["unchanged"] >= written
    assert counts["created"] + counts["unchanged"] == ROWS

    # Exactly the database of a clean run: each row once, version 1, one created state.
    assert await _one(graph, f"{OWN} RETURN count(s) AS n") == ROWS
    assert await _one(graph, f"{OWN} AND s.version <> 1 RETURN count(s) AS n") == 0
    assert (
        await _one(
            graph,
            f"{OWN} MATCH (s)<-[:STATE_OF]-(st:SupplierState) "
            "WITH s, collect(st.kind) AS kinds WHERE kinds <> ['created'] RETURN count(s) AS n",
        )
        == 0
    )
    assert await _one(graph, f"{OWN} MATCH (s)-[b:BASED_IN]->() RETURN count(b) AS n") == ROWS
    assert await _one(graph, "MATCH (st:SupplierState) RETURN count(st) AS n") == ROWS

    records = [
        json.loads(line) for line in (served.data_dir / "audit.jsonl").read_text().splitlines()
    ]
    actions = [r.get("action") for r in records if r.get("event") == "graph_write"]
    assert actions.count("importSubmitted") == 1
    assert actions.count("importFinished") == 1


async def _one(graph: Graph, query: str) -> int:
    row = await graph.read_one(query)
    assert row is not None
    return int(row["n"])
