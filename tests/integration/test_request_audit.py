"""Every /graphql request leaves one audit record saying how it ended, refused ones included;
logs are JSON lines apart from the audit; /metrics counts what the records say.

Invariants:
* 401 (no token, a bad token), 403 (a scope lacking), 413 and 200 each write one record with
  the HTTP status, the duration, the client address, the request id (the caller's
  X-Request-Id, echoed in the response) and the token's `jti` where a token was accepted.
* Each line logged while serving them is one JSON object carrying that request id; none is
  an audit record, and a caller's mistake logs no traceback.
* A failing syslog sink refuses the request (503 AUDIT_UNAVAILABLE, nothing released) and is
  counted in dibx_audit_failures_total.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from dibx import logs
from dibx.neo4j_server import free_port
from dibx.services.audit import sink_from
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

Q = "query Directory { suppliers { totalCount nodes { key name } } }"


def jti(token: str) -> str:
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return str(claims["jti"])


async def post(api: Api, request_id: str, headers: dict[str, str], **body: Any) -> int:
    response = await api.client.post(
        "/graphql",
        json=body or {"query": Q},
        headers={"X-Request-Id": request_id, **headers},
    )
    assert response.headers["x-request-id"] == request_id
    return response.status_code


def record_of(api: Api, request_id: str) -> dict[str, Any]:
    (record,) = [r for r in api.audit.records if r["request_id"] == request_id]
    return record


def assert_http_fields(record: dict[str, Any], status: int) -> None:
    assert record["status"] == status
    assert isinstance(record["duration_ms"], float)
    assert record["duration_ms"] >= 0
    assert record["client_address"] == "127.0.0.1"  # httpx's ASGI transport's client
    assert record["method"] == "POST"
    assert record["path"] == "/graphql"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What `dibx serve` logs, captured: the same configuration, another stream."""
    stream = io.StringIO()
    handler = logs.configure("info", stream)
    yield stream
    logging.getLogger().removeHandler(handler)
    structlog.reset_defaults()


async def test_a_missing_token_is_audited_with_status_duration_client_and_request_id(
    api: Api,
) -> None:
    assert await post(api, "no-token-1", {}) == 401
    record = record_of(api, "no-token-1")
    assert_http_fields(record, 401)
    assert record["outcome"] == "refused"
    assert record["error_codes"] == ["UNAUTHENTICATED"]
    assert record["subject"] is None
    assert record["token_id"] is None
    assert record["reason"] == "a Bearer access token is required"


async def test_a_bad_token_is_audited_without_trusting_its_claims(api: Api) -> None:
    token = api.token("GBR", audience="someone-else")
    assert await post(api, "bad-aud-1", {"Authorization": f"Bearer {token}"}) == 401
    record = record_of(api, "bad-aud-1")
    assert_http_fields(record, 401)
    assert record["token_id"] is None  # an unverified jti names nothing
    assert record["error_codes"] == ["UNAUTHENTICATED"]


async def test_a_missing_scope_is_audited_with_the_tokens_jti(api: Api) -> None:
    token = api.token("GBR", scopes=("marking:challenge",))
    assert await post(api, "scope-1", {"Authorization": f"Bearer {token}"}) == 403
    record = record_of(api, "scope-1")
    assert_http_fields(record, 403)
    assert record["token_id"] == jti(token)
    assert record["subject"] == "user-gbr"
    assert record["nation"] == "GBR"
    assert record["error_codes"] == ["INSUFFICIENT_SCOPE"]


async def test_a_body_too_large_is_audited(api: Api) -> None:
    token = api.token("USA")
    big = "x" * (api.runtime.settings.max_body_bytes + 1)
    status = await post(api, "big-1", {"Authorization": f"Bearer {token}"}, query=big)
    assert status == 413
    record = record_of(api, "big-1")
    assert_http_fields(record, 413)
    assert record["error_codes"] == ["PAYLOAD_TOO_LARGE"]


async def test_an_answered_request_is_audited_with_its_status(api: Api) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("s1")]))
    token = api.token("USA")
    assert await post(api, "ok-1", {"Authorization": f"Bearer {token}"}) == 200
    record = record_of(api, "ok-1")
    assert_http_fields(record, 200)
    assert record["token_id"] == jti(token)
    assert record["outcome"] == "ok"
    assert record["operation"] == "Directory"


async def test_log_lines_are_json_with_request_ids_and_hold_no_audit_record(
    api: Api, log_lines: io.StringIO
) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("s1")]))
    usa = {"Authorization": f"Bearer {api.token('USA')}"}
    assert await post(api, "log-401", {"Authorization": "Bearer not-a-jwt"}) == 401
    assert (
        await post(
            api,
            "log-403",
            {"Authorization": f"Bearer {api.token('GBR', scopes=('marking:challenge',))}"},
        )
        == 403
    )
    assert await post(api, "log-400", usa, query="{ suppliers { nope } }") == 200
    assert await post(api, "log-200", usa) == 200

    everything = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    lines = [line for line in everything if line["logger"] != "httpx"]  # the test's client
    assert lines, "nothing was logged"
    by_request = {line.get("request_id") for line in lines}
    assert {"log-401", "log-403", "log-400"} <= by_request
    assert None not in by_request  # every line was logged during one of the requests
    for line in lines:
        assert {"event", "level", "logger", "time"} <= line.keys()
        assert line["event"] != "graphql_request"
        assert "token_id" not in line
        assert "exception" not in line  # a caller's mistake is one line, no traceback
    rejected = [line for line in lines if line["request_id"] == "log-401"]
    assert [line["event"] for line in rejected] == ["token_rejected"]
    # The audit got all four, apart from the logs.
    assert {"log-401", "log-403", "log-400", "log-200"} <= {
        r["request_id"] for r in api.audit.records
    }


async def test_a_dead_syslog_receiver_refuses_the_request_and_is_counted(
    api: Api, tmp_path: Path
) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("s1", name="Must Not Leak")]))
    dead = Api(api.graph, tmp_path, sink=sink_from(f"syslog+tcp://127.0.0.1:{free_port()}"))
    try:
        reply = await dead.query(Q)
        metrics = (await dead.client.get("/metrics")).text
    finally:
        await dead.close()
    assert reply.status == 503
    assert "Must Not Leak" not in json.dumps(reply.body)
    assert [e["extensions"]["code"] for e in reply.errors] == ["AUDIT_UNAVAILABLE"]
    assert "dibx_audit_failures_total 1.0" in metrics


async def test_metrics_count_rejections_withheld_values_and_durations(api: Api) -> None:
    await api.load(
        b.dataset(suppliers=[b.supplier("s1", fields={"name": "CUI//NOFORN"}), b.supplier("s2")])
    )
    await post(api, "m-401", {})
    await post(
        api, "m-403", {"Authorization": f"Bearer {api.token('GBR', scopes=('marking:challenge',))}"}
    )
    reply = await api.query(Q, nation="GBR")
    assert len(reply.releasability["withheld"]) == 1
    await api.query("{ suppliers { nope } }")
    text = (await api.client.get("/metrics")).text
    for sample in (
        'dibx_rejections_total{reason="token"} 1.0',
        'dibx_rejections_total{reason="scope"} 1.0',
        'dibx_rejections_total{reason="validation"} 1.0',
        'dibx_rejections_total{reason="limit"} 0.0',
        "dibx_withheld_values_total 1.0",
        "dibx_audit_failures_total 0.0",
        'dibx_graphql_request_duration_seconds_count{operation="Directory",outcome="ok"} 1.0',
        'dibx_graphql_request_duration_seconds_count{operation="unknown",outcome="refused"} 1.0',
        'dibx_graphql_request_duration_seconds_count{operation="anonymous",outcome="error"} 1.0',
        'dibx_http_request_duration_seconds_count{route="/graphql"}',
        'dibx_neo4j_query_duration_seconds_count{kind="read"}',
        'dibx_cypher_queries_total{kind="read"}',
        "# TYPE dibx_cypher_queries_total counter",
        "process_resident_memory_bytes",
        "python_gc_collections_total",
    ):
        assert sample in text, sample
