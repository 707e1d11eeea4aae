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
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from dibx import cli, neo4j_server
from dibx.graph.driver import Graph
from tests.support.served import dev_token, serve_env, spawn, wait_ready

pytestmark = pytest.mark.neo4j

Q = "query Directory { suppliers { totalCount } }"


def _graphql_count(metrics: str) -> float:
    pattern = r'^dibx_http_requests_total\{route="/graphql",status="200"\} (\S+)$'
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_two_workers_answer_count_and_audit_together(
    graph: Graph, neo4j_uri: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    env = serve_env(neo4j_uri, data_dir, DIBX_RATE_INSTANCES="2")
    token = dev_token(env, "GBR", "supplier:read")
    served = spawn(env, tmp_path / "stderr", "--workers", "2")
    url = served.url
    sent = 0
    try:
        wait_ready(served.child, url, served.log)
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
        code = served.interrupt()
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
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused by the command before Neo4j or any worker starts (run in-process: nothing
    here needs a process of its own)."""
    for name in [k for k in os.environ if k.startswith("DIBX_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DIBX_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setattr(neo4j_server, "start", _no_neo4j)
    assert cli.main(["serve", "--workers", "3"]) == 2
    assert "DIBX_RATE_INSTANCES" in capsys.readouterr().err


def _no_neo4j(*args: object, **kwargs: object) -> NoReturn:
    raise AssertionError("Neo4j must not start for a refused worker count")
