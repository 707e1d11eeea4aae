"""`dibx serve` as an operator runs it: stderr holds JSON log lines only, uvicorn's own
included, each line of a request carrying its id; stdout holds nothing; the audit goes to its
file under DIBX_DATA_DIR, refused requests included.

The service runs as a real subprocess against the test session's Neo4j (DIBX_NEO4J_URI), so
no embedded server is started for it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dibx.graph.driver import Graph
from dibx.neo4j_server import free_port

pytestmark = pytest.mark.neo4j

Q = "query Directory { suppliers { totalCount } }"


def _token(data_dir: Path, scope: str) -> str:
    env = {**os.environ, "DIBX_DATA_DIR": str(data_dir)}
    argv = [sys.executable, "-m", "dibx.cli", "token", "--nation", "GBR", "--scope", scope]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True, timeout=120)  # noqa: S603
    return done.stdout.strip()


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def test_serve_logs_json_on_stderr_and_audits_apart(
    graph: Graph, neo4j_uri: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DIBX_")},
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_DATA_DIR": str(data_dir),
        "DIBX_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
    }
    read = _token(data_dir, "supplier:read")
    challenge_only = _token(data_dir, "marking:challenge")
    out, err = (tmp_path / "stdout").open("wb"), (tmp_path / "stderr").open("wb")
    child = subprocess.Popen(
        [sys.executable, "-m", "dibx.cli", "serve"], env=env, stdout=out, stderr=err
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while child.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        else:
            pytest.fail("dibx serve did not become ready:\n" + (tmp_path / "stderr").read_text())
        sent = {
            "srv-200": (f"Bearer {read}", 200),
            "srv-401": ("Bearer not-a-jwt", 401),
            "srv-403": (f"Bearer {challenge_only}", 403),
        }
        for request_id, (authorization, status) in sent.items():
            reply = httpx.post(
                f"{url}/graphql",
                json={"query": Q},
                headers={"Authorization": authorization, "X-Request-Id": request_id},
                timeout=60,
            )
            assert reply.status_code == status, reply.text
            assert reply.headers["x-request-id"] == request_id
    finally:
        child.send_signal(signal.SIGINT)
        code = child.wait(timeout=60)
        out.close()
        err.close()
    assert code == 0

    assert (tmp_path / "stdout").read_bytes() == b""
    text = (tmp_path / "stderr").read_text()
    assert "Traceback" not in text
    lines: list[dict[str, Any]] = [json.loads(line) for line in text.splitlines()]
    for line in lines:
        assert {"event", "level", "logger", "time"} <= line.keys()
        assert line["event"] != "graphql_request"  # no audit record among the logs
        assert "token_id" not in line
    assert any(line["event"].startswith("dibx is up") for line in lines)  # the banner, as JSON
    access = {
        line["request_id"]: line
        for line in lines
        if line["logger"] == "uvicorn.access" and line.get("path") == "/graphql"
    }
    assert {rid: line["status"] for rid, line in access.items()} == {
        "srv-200": 200,
        "srv-401": 401,
        "srv-403": 403,
    }
    rejected = [line for line in lines if line.get("request_id") == "srv-401"]
    assert [line["event"] for line in rejected] == ["token_rejected", "http_access"]

    audit_file = data_dir / "audit" / "audit.jsonl"
    records = {r["request_id"]: r for r in map(json.loads, audit_file.read_text().splitlines())}
    assert set(records) == set(sent)
    for request_id, (_, status) in sent.items():
        record = records[request_id]
        assert record["status"] == status
        assert record["client_address"] == "127.0.0.1"
        assert record["duration_ms"] >= 0
    assert records["srv-401"]["token_id"] is None
    assert records["srv-403"]["token_id"] == _jti(challenge_only)
    assert records["srv-200"]["token_id"] == _jti(read)
