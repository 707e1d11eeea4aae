"""Child processes of the benchmark: the dibx app and the @neo4j/graphql server.

Each child runs in its own session, writes its output to a log file in the run's temporary
directory, and exits when its stdin closes (we hold the write end), so a killed benchmark
leaves nothing behind. `stop()` signals only the child's own process group.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
NGQL_DIR = BENCH_DIR / "neo4j-graphql"


class ServerError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.process.stdin is not None:
            self.process.stdin.close()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"


def _spawn(
    name: str, argv: Sequence[str], cwd: Path, log: Path, env: dict[str, str], url: str
) -> Child:
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,  # our lifeline: the child exits on EOF
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Child(name, process, url, log)


def _wait_ready(child: Child, probe: str, body: dict[str, object] | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "not tried"
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise ServerError(
                    f"{child.name} exited with {child.process.returncode}:\n{child.tail()}"
                )
            try:
                response = client.post(probe, json=body) if body is not None else client.get(probe)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.2)
    child.stop()
    raise ServerError(f"{child.name} not ready after {timeout:.0f}s ({last}):\n{child.tail()}")


def start_dibx(
    *,
    neo4j_uri: str,
    port: int,
    data_dir: Path,
    audit_file: Path,
    log: Path,
    max_depth: int,
    workers: int = 1,
) -> Child:
    argv = [
        sys.executable,
        "-m",
        "bench.dibx_server",
        "--neo4j-uri",
        neo4j_uri,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--audit-file",
        str(audit_file),
        "--exit-on-stdin-eof",
    ]
    if max_depth:
        argv += ["--max-depth", str(max_depth)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    # The bench measures the API, not its rate limits: every request comes from one token
    # and one address, so the limits are off (as in bench/soak.py).
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DIBX_RATE_PER_TOKEN": "0",
        "DIBX_RATE_PER_ADDRESS": "0",
    }
    child = _spawn("dibx", argv, PROJECT_ROOT, log, env, f"http://127.0.0.1:{port}/graphql")
    _wait_ready(child, f"http://127.0.0.1:{port}/readyz", None, 60.0)
    return child


def ngql_problem() -> str | None:
    """Why the @neo4j/graphql server cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NGQL_DIR / "node_modules" / "@neo4j" / "graphql").is_dir():
        return f"run `npm ci` in {NGQL_DIR} first (node_modules missing)"
    return None


def start_ngql(*, neo4j_uri: str, port: int, log: Path) -> Child:
    node = shutil.which("node")
    if node is None:
        raise ServerError("node is not installed")
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_uri,
        "PORT": str(port),
        "EXIT_ON_STDIN_EOF": "1",
        "NODE_ENV": "production",
    }
    child = _spawn(
        "neo4j-graphql", [node, "server.mjs"], NGQL_DIR, log, env, f"http://127.0.0.1:{port}/"
    )
    _wait_ready(child, child.url, {"query": "{ __typename }"}, 60.0)
    return child
