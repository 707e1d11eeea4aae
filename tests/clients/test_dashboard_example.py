"""The dashboard example (docs/dashboard-example.md) with the unmodified graphql-ws client from
npm (pinned in tests/clients/graphql-ws/, installed by `npm ci`) against the real API: it gets
the changes the `changes` query lists for its nation, and resumes after a cursor.

Skipped only where npm is missing.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.live import WAIT_S, query_all, serving
from tests.support.stewardship import REL_GBR, created, supplier_input

pytestmark = pytest.mark.neo4j

CLIENT = Path(__file__).resolve().parent / "graphql-ws"


def _installed() -> str:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm is missing (apt-get install nodejs npm)")
    marker = CLIENT / "node_modules" / ".package-lock.json"
    lock = CLIENT / "package-lock.json"
    if not (marker.is_file() and marker.stat().st_mtime >= lock.stat().st_mtime):
        done = subprocess.run(  # noqa: S603 - npm found on PATH, fixed arguments
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=CLIENT,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed:\n{done.stdout}\n{done.stderr}")
    return node


async def _dashboard(node: str, url: str, token: str, events: int, after: str = "") -> list[Any]:
    env = {
        "PATH": "/usr/bin:/bin",
        "DIBX_WS_URL": url,
        "DIBX_TOKEN": token,
        "DIBX_TYPES": "SUPPLIER",
        "DIBX_EVENTS": str(events),
        "DIBX_AFTER": after,
    }
    child = await asyncio.create_subprocess_exec(
        node, "dashboard.mjs", cwd=CLIENT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(child.communicate(), WAIT_S * 2)
    assert child.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


@pytest.mark.asyncio(loop_scope="session")
async def test_graphql_ws_dashboard_gets_the_feed_and_resumes(api: Api) -> None:
    node = _installed()
    await api.load(b.dataset())
    token = api.token("GBR", ("supplier:read",))
    async with serving(api) as url:
        # Without `after` the subscription starts at the oldest change kept, so writes made
        # while the client connects are not missed.
        tile = asyncio.create_task(_dashboard(node, url, token, events=2))
        for key in ("alpha", "beta", "gamma"):
            await created(api, supplier_input(key, record=REL_GBR, marking=REL_GBR, name=key))
        first_two = await tile
        rest = await _dashboard(node, url, token, events=1, after=first_two[-1]["cursor"])
    listed, _ = await query_all(api, token, {"types": ["SUPPLIER"]})

    def same(changes: list[Any]) -> list[Any]:
        return [{k: v for k, v in c.items() if k != "cursor"} for c in changes]

    assert same(first_two + rest) == same(listed)
