"""SIGTERM drains the real `dibx serve`: readiness goes first, a request in flight finishes,
new connections are refused, and the process exits 0.

The request in flight is held by its own client, which sends the headers and half the body,
and the rest only once the server has stopped accepting: the server is mid-request for as long
as the test needs, with no sleep and no test hook in the server.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from dibx import neo4j_server
from dibx.auth.dev_issuer import DevIssuer

pytestmark = pytest.mark.neo4j

QUERY = json.dumps({"query": "query { suppliers(first: 1) { totalCount } }"}).encode()


def _wait(condition: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting until {condition}")


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.TransportError:
        return None


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def served(
    neo4j_uri: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`dibx serve` with (drain delay, grace) from the test's parameter, else (2, 60)."""
    delay, grace = getattr(request, "param", (2, 60))
    port = neo4j_server.free_port()
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DIBX_ENV": "test",
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_DATA_DIR": str(tmp_path),
        "DIBX_PORT": str(port),
        "DIBX_AUDIT_SINK": f"file:{tmp_path / 'audit.jsonl'}",
        "DIBX_DRAIN_DELAY": str(delay),
        "DIBX_SHUTDOWN_GRACE": str(grace),
    }
    log = (tmp_path / "serve.log").open("w")
    child = subprocess.Popen(
        [sys.executable, "-m", "dibx.cli", "serve"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait("ready", lambda: _status(f"http://127.0.0.1:{port}/readyz") == 200, timeout=120)
        yield child, port
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        log.close()


def _hold(port: int, tmp_path: Path) -> socket.socket:
    """A connection with a request in flight: headers and half the body sent."""
    issuer = DevIssuer.from_path(
        tmp_path / "dev-keys" / "jwks-private.json", "http://127.0.0.1:8000", "dibx"
    )
    token = issuer.issue(
        subject="drain", client_id="test", nation="USA", scopes=["supplier:read"], org=None
    )
    held = socket.create_connection(("127.0.0.1", port), timeout=60)
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(QUERY)}\r\n\r\n"
    ).encode()
    held.sendall(head + QUERY[:HALF])
    return held


HALF = len(QUERY) // 2


def test_sigterm_drains_a_request_in_flight(
    served: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    child, port = served
    base = f"http://127.0.0.1:{port}"
    held = _hold(port, tmp_path)

    child.send_signal(signal.SIGTERM)
    # Readiness turns first, while the server still answers (and closes what it answers).
    _wait("/readyz says draining", lambda: _status(f"{base}/readyz") == 503)
    # Then the listening socket closes: new connections are refused...
    _wait("new connections are refused", lambda: _refused(port))
    assert child.poll() is None  # ...while the request in flight keeps the process up.

    held.sendall(QUERY[HALF:])
    reply = b""
    while chunk := held.recv(65536):
        reply += chunk
    held.close()
    head_bytes, _, body = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head_bytes.decode().split("\r\n")
    assert status_line.startswith("HTTP/1.1 200"), reply
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
    assert headers["connection"] == "close"
    assert json.loads(body)["data"]["suppliers"]["totalCount"] >= 0

    assert child.wait(timeout=60) == 0
    assert "draining" in (tmp_path / "serve.log").read_text()


@pytest.mark.parametrize("served", [(0, 1)], indirect=True)
def test_the_grace_period_bounds_the_wait(
    served: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    """A request that never completes (its client stalls) does not keep the process up."""
    child, port = served
    held = _hold(port, tmp_path)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=60) == 0  # after the 1 s grace, not when the client goes
    try:
        reply = held.recv(65536)
    except ConnectionResetError:
        reply = b""
    held.close()
    assert not reply.startswith(b"HTTP/1.1 200")  # cut off, not answered as if complete
    assert "timeout graceful shutdown exceeded" in (tmp_path / "serve.log").read_text()
