"""`dibx serve --workers 2`: two processes answer on one port, against one Neo4j.

Both workers answer (their access log lines carry their pids), /metrics counts the
requests of both (multiprocess mode), every request has one whole audit record in the one
file, and SIGINT stops them all with exit code 0. A worker count the rate limits were not
declared for is refused before anything starts.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from dibx.graph.driver import Graph
from dibx.neo4j_server import free_port

pytestmark = pytest.mark.neo4j

Q = "query Directory { suppliers { totalCount } }"


def _env(neo4j_uri: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DIBX_")},
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_DATA_DIR": str(data_dir),
        "DIBX_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _token(env: dict[str, str]) -> str:
    argv = [
        sys.executable,
        "-m",
        "dibx.cli",
        "token",
        "--nation",
        "GBR",
        "--scope",
        "supplier:read",
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=120)  # noqa: S603
    return done.stdout.strip()


def _graphql_count(metrics: str) -> float:
    pattern = r'^dibx_http_requests_total\{route="/graphql",status="200"\} (\S+)$'
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_two_workers_answer_count_and_audit_together(
    graph: Graph, neo4j_uri: str, tmp_path: Path
) -> None:
    data_dir, port = tmp_path / "var", free_port()
    env = _env(neo4j_uri, data_dir, port, DIBX_RATE_INSTANCES="2")
    token = _token(env)
    err = (tmp_path / "stderr").open("wb")
    argv = [sys.executable, "-m", "dibx.cli", "serve", "--workers", "2"]
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    sent = 0
    try:
        deadline = time.monotonic() + 240
        while child.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("dibx serve did not become ready:\n" + (tmp_path / "stderr").read_text())
        workers: set[int] = set()
        # Each request on a new connection: the kernel hands connections to either worker.
        while sent < 200 and len(workers) < 2:
            reply = httpx.post(
                f"{url}/graphql",
                json={"query": Q},
                headers={"Authorization": f"Bearer {token}", "X-Request-Id": f"w-{sent}"},
                timeout=60,
            )
            assert reply.status_code == 200, reply.text
            sent += 1
            if sent % 5 == 0:
                workers = _workers(tmp_path / "stderr")
        workers = _workers(tmp_path / "stderr")
        assert len(workers) == 2, f"one worker answered all {sent} requests"
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
        assert _graphql_count(metrics) == sent  # summed over both workers
    finally:
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=90)
        err.close()
    assert code == 0
    assert "Traceback" not in (tmp_path / "stderr").read_text()
    lines = (data_dir / "audit" / "audit.jsonl").read_bytes().split(b"\n")[:-1]
    records = [json.loads(line) for line in lines]
    assert sorted(r["request_id"] for r in records) == sorted(f"w-{i}" for i in range(sent))


def _workers(stderr: Path) -> set[int]:
    """Pids of the workers whose access lines answered /graphql."""
    found = set()
    for line in stderr.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("logger") == "uvicorn.access" and entry.get("path") == "/graphql":
            found.add(int(entry["worker"]))
    return found


def test_more_workers_than_declared_rate_instances_is_refused(
    neo4j_uri: str, tmp_path: Path
) -> None:
    env = _env(neo4j_uri, tmp_path / "var", free_port())
    argv = [sys.executable, "-m", "dibx.cli", "serve", "--workers", "3"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert done.returncode == 2
    assert "DIBX_RATE_INSTANCES" in done.stderr
