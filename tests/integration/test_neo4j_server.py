"""The embedded Neo4j's own lifecycle: start, answer over Bolt, stop, report stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dibx import neo4j_server

pytestmark = pytest.mark.neo4j


def test_start_query_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data_dir = tmp_path / "neo4j"
    port = neo4j_server.free_port()
    # Extra JVM options are shell-quoted: one of these holds a space.
    monkeypatch.setenv("DIBX_NEO4J_JVM_ARGS", "-XX:TieredStopAtLevel=1 '-Ddibx.probe=a b'")
    # Its own server, not the session's: this test is about the lifecycle itself.
    server = neo4j_server.start(data_dir, port, heap="256m", page_cache="64m", tie_to_parent=True)
    try:
        argv = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert [a for a in argv if a.startswith((b"-XX:Tiered", b"-Ddibx."))] == [
            b"-XX:TieredStopAtLevel=1",
            b"-Ddibx.probe=a b",
        ]
        assert server.uri == f"bolt://127.0.0.1:{port}"
        assert neo4j_server.status(data_dir) == neo4j_server.ServerStatus(
            pid=server.pid, port=port, uri=server.uri
        )
        with server.driver() as driver:
            records, _, _ = driver.execute_query("RETURN 1 AS one")
        assert [r["one"] for r in records] == [1]
    finally:
        server.stop()

    assert not server.is_running()
    assert neo4j_server.status(data_dir) is None
    assert not (data_dir / neo4j_server.PID_FILE).exists()
    assert neo4j_server.stop(data_dir) is False  # stopping twice is harmless


@pytest.mark.parametrize("whose", ["dead", "reused"])
def test_status_drops_stale_pid_file(tmp_path: Path, whose: str) -> None:
    if whose == "dead":  # the server crashed: its pid is gone
        with subprocess.Popen([sys.executable, "-c", "pass"]) as child:
            pass  # Popen's exit waits for it, so the pid is reaped and free
        pid = child.pid
    else:  # the pid now belongs to an unrelated process (here: this one)
        pid = os.getpid()
    pid_file = tmp_path / neo4j_server.PID_FILE
    pid_file.write_text(f'{{"pid": {pid}, "port": 1, "uri": "bolt://127.0.0.1:1"}}')
    assert neo4j_server.status(tmp_path) is None
    assert not pid_file.exists()
