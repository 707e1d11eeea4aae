"""`dibx serve` as an operator runs it: stderr holds JSON log lines only, uvicorn's own
included, each line of a request carrying its id; stdout holds nothing; the audit goes to its
file under DIBX_DATA_DIR, refused requests included.

The service runs as a real subprocess against the test session's Neo4j (DIBX_NEO4J_URI), so
no embedded server is started for it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from dibx.graph.driver import Graph
from tests.support.served import dev_token, serve_env, serving

pytestmark = pytest.mark.neo4j

Q = "query Directory { suppliers { totalCount } }"


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def test_serve_logs_json_on_stderr_and_audits_apart(
    graph: Graph, neo4j_uri: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    env = serve_env(neo4j_uri, data_dir)
    read = dev_token(env, "GBR", "supplier:read")
    challenge_only = dev_token(env, "GBR", "marking:challenge")
    with serving(env, logs=[tmp_path / "stderr"], stdout=tmp_path / "stdout") as [served]:
        sent = {
            "srv-200": (f"Bearer {read}", 200),
            "srv-401": ("Bearer not-a-jwt", 401),
            "srv-403": (f"Bearer {challenge_only}", 403),
        }
        for request_id, (authorization, status) in sent.items():
            reply = httpx.post(
                f"{served.url}/graphql",
                json={"query": Q},
                headers={"Authorization": authorization, "X-Request-Id": request_id},
                timeout=60,
            )
            assert reply.status_code == status, reply.text
            assert reply.headers["x-request-id"] == request_id
    code = served.child.returncode
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
