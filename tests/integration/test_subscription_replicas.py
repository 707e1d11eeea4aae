"""Two API processes on one Neo4j: a write through one reaches a subscriber on the other (no
in-process bus: each process polls the outbox), and a cursor one handed out resumes on the
other (both seal with the deployment's server secret)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dibx.graph.driver import Graph
from dibx.graph.writes import write_dataset
from dibx.neo4j_server import free_port
from tests.support import builders as b
from tests.support.live import LiveClient
from tests.support.stewardship import CREATE_SUPPLIER, REL_GBR, supplier_input

pytestmark = pytest.mark.neo4j


def _env(neo4j_uri: str, data_dir: Path, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DIBX_")},
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_DATA_DIR": str(data_dir),
        "DIBX_PORT": str(port),
        "DIBX_RATE_PER_ADDRESS": "0",
        "DIBX_RATE_PER_TOKEN": "0",
        "DIBX_LIVE_POLL_MS": "100",
        "PYTHONUNBUFFERED": "1",
    }


def _token(env: dict[str, str], *scopes: str) -> str:
    argv = [
        sys.executable,
        "-m",
        "dibx.cli",
        "token",
        "--nation",
        "GBR",
        "--scope",
        " ".join(scopes),
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=120)  # noqa: S603
    return done.stdout.strip()


@contextlib.contextmanager
def _serving(env: dict[str, str], log: Path) -> Iterator[str]:
    err = log.open("wb")
    argv = [sys.executable, "-m", "dibx.cli", "serve"]
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)  # noqa: S603
    url = f"http://127.0.0.1:{env['DIBX_PORT']}"
    try:
        deadline = time.monotonic() + 240
        while child.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            time.sleep(0.3)
        else:
            pytest.fail("dibx serve did not become ready:\n" + log.read_text())
        yield url
    finally:
        child.send_signal(signal.SIGINT)
        child.wait(timeout=90)
        err.close()


def _create(url: str, token: str, key: str) -> None:
    given = supplier_input(key, record=REL_GBR, marking=REL_GBR, name=key)
    reply = httpx.post(
        f"{url}/graphql",
        json={"query": CREATE_SUPPLIER, "variables": {"input": given}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    assert reply.status_code == 200, reply.text
    body: dict[str, Any] = reply.json()
    assert "errors" not in body, body


@pytest.mark.asyncio(loop_scope="session")
async def test_write_through_one_process_reaches_a_subscriber_on_the_other(
    graph: Graph, neo4j_uri: str, tmp_path: Path
) -> None:
    await write_dataset(graph, b.dataset())
    data_dir = tmp_path / "var"
    one = _env(neo4j_uri, data_dir, free_port())
    two = _env(neo4j_uri, data_dir, free_port())
    writer = _token(one, "supplier:read", "data:write")
    reader = _token(one, "supplier:read")
    with (
        _serving(one, tmp_path / "one.log") as url_one,
        _serving(two, tmp_path / "two.log") as url_two,
    ):
        ws_one, ws_two = (u.replace("http://", "ws://") + "/graphql" for u in (url_one, url_two))
        async with LiveClient.opened(ws_two) as client:
            assert await client.init(reader) == {"type": "connection_ack"}
            await client.subscribe({"types": ["SUPPLIER"]})
            _create(url_one, writer, "via-one")
            [first] = await client.events(1)
        assert first["kind"] == "CREATED"
        _create(url_one, writer, "while-away")
        # The cursor process two handed out resumes on process one: nothing lost, no repeat.
        async with LiveClient.opened(ws_one) as client:
            assert await client.init(reader) == {"type": "connection_ack"}
            await client.subscribe({"types": ["SUPPLIER"], "after": first["cursor"]})
            [second] = await client.events(1)
    assert first["id"] != second["id"]
    names = [{f["field"]: f["value"] for f in e["fields"]}["name"] for e in (first, second)]
    assert names == ["via-one", "while-away"]
