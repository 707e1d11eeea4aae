"""`dibx serve` as a real subprocess, against the test session's Neo4j (DIBX_NEO4J_URI), so no
embedded server is started for it.

Tokens are issued in the test process with the development keys the service reads (the same
file under DIBX_DATA_DIR and the same issuer settings `dibx token` uses): a `dibx token`
subprocess costs a whole interpreter start and dibx import per token. The CLI itself is
covered in tests/unit/test_cli.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dibx import config
from dibx.auth.dev_issuer import DevIssuer
from dibx.neo4j_server import free_port

READY_S = 240.0  # a bound for a stuck start, never a measure of speed
POLL_S = 0.1


def serve_env(
    neo4j_uri: str, data_dir: Path, port: int | None = None, **extra: str
) -> dict[str, str]:
    """The environment of a `dibx serve` child: this process's, without its DIBX_ settings."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DIBX_")},
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_DATA_DIR": str(data_dir),
        "DIBX_PORT": str(free_port() if port is None else port),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def dev_token(
    env: Mapping[str, str],
    nation: str,
    *scopes: str,
    subject: str | None = None,
    org: str | None = None,
) -> str:
    """A token as `dibx token --nation NATION --scope "SCOPES"` would print it under `env`."""
    settings = config.load(env)
    issuer = DevIssuer.from_path(settings.keys_file, settings.issuer, settings.audience)
    return issuer.issue(
        subject=subject or f"cli-{nation.lower()}",
        client_id="dibx-cli",
        nation=nation,
        scopes=list(scopes),
        org=org,
    )


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(child: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Until `url` answers /readyz with 200; fails at once if the child exits first."""
    deadline = time.monotonic() + READY_S
    while child.poll() is None and time.monotonic() < deadline:
        if ready(url):
            return
        time.sleep(POLL_S)
    pytest.fail(f"dibx serve did not become ready (exit {child.poll()}):\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.is_file() else ""


@dataclass
class Served:
    url: str
    child: subprocess.Popen[bytes]
    log: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def interrupt(self, timeout: float = 90.0) -> int:
        """Ctrl-C, as an operator stops it; the exit code."""
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGINT)
        return self.child.wait(timeout=timeout)


def spawn(env: Mapping[str, str], log: Path, *args: str, stdout: Path | None = None) -> Served:
    """Starts `dibx serve ARGS` with stderr to `log` (and stdout to `stdout`, else nowhere);
    does not wait for it."""
    with log.open("wb") as err, (stdout or Path(os.devnull)).open("wb") as out:
        child = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-m", "dibx.cli", "serve", *args],
            env=dict(env),
            stdout=out,
            stderr=err,
        )
    return Served(f"http://127.0.0.1:{env['DIBX_PORT']}", child, log)


@contextlib.contextmanager
def serving(
    *envs: Mapping[str, str],
    logs: list[Path],
    args: tuple[str, ...] = (),
    stdout: Path | None = None,
) -> Iterator[list[Served]]:
    """One `dibx serve` per environment, started together and ready; each is stopped with
    SIGINT afterwards (its exit code is then `child.returncode`)."""
    started: list[Served] = []
    try:
        for env, log in zip(envs, logs, strict=True):
            started.append(spawn(env, log, *args, stdout=stdout))
        for served in started:
            wait_ready(served.child, served.url, served.log)
        yield started
    finally:
        for served in started:
            if served.child.poll() is None:
                served.child.send_signal(signal.SIGINT)
        for served in started:
            try:
                served.child.wait(timeout=90)
            except subprocess.TimeoutExpired:
                served.child.kill()
                served.child.wait()
