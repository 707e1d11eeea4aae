"""The built wheel runs outside a checkout: a fresh venv, an empty directory, `dibx serve --demo`.

This is the path an operator takes (and a container image will): nothing is read from the
source tree, so a file that is not shipped in the package fails here. Dependencies come from
`requirements.lock` with their hashes; the embedded Neo4j is built from the Maven module that
ships inside the wheel (the build cache is keyed by its sources, so the test session's build
is reused).

Fetching the locked wheels is most of this test's time and all of its network use, so they are
downloaded once per lock file into the user cache (`~/.cache/dibx/wheels-<hash>/`, with the
wheel build's own requirements) and installed from there offline, hashes still checked. The
venv has no pip of its own: the outer pip installs into it (`pip --python`), without
byte-compiling (Python compiles what the service imports when it imports it).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import venv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from dibx import neo4j_server
from dibx.config import PROJECT_ROOT

pytestmark = pytest.mark.neo4j

PIP = [sys.executable, "-m", "pip"]
LOCK = PROJECT_ROOT / "requirements.lock"


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> None:
    result = subprocess.run(  # noqa: S603 - fixed argv
        argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"


def _run_together(*steps: tuple[list[str], Path], timeout: float = 600) -> None:
    """Each (argv, cwd) at once; fails with the output of every step that failed."""
    with contextlib.ExitStack() as stack:
        running = []
        for argv, cwd in steps:
            output = stack.enter_context(tempfile.TemporaryFile())
            child = subprocess.Popen(  # noqa: S603 - fixed argv
                argv, cwd=cwd, stdout=output, stderr=subprocess.STDOUT
            )
            running.append((argv, child, output))
        failed = []
        for argv, child, output in running:
            if child.wait(timeout=timeout) != 0:
                output.seek(0)
                failed.append(f"{' '.join(argv)}:\n{output.read().decode(errors='replace')}")
    assert failed == [], "\n".join(failed)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding the locked runtime dependencies and dibx's wheel, nothing else."""
    root = tmp_path_factory.mktemp("wheel")
    wheels = root / "dist"
    # Built from a copy holding only what a source distribution holds, which keeps the
    # checkout clean and proves the wheel needs nothing else.
    source = root / "source"
    for name in ("pyproject.toml", "README.md"):
        source.mkdir(exist_ok=True)
        shutil.copy(PROJECT_ROOT / name, source / name)
    shutil.copytree(
        PROJECT_ROOT / "src",
        source / "src",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    shutil.copytree(
        PROJECT_ROOT / "deploy" / "neo4j",
        source / "deploy" / "neo4j",
        ignore=shutil.ignore_patterns("target"),
    )
    house = _wheelhouse()
    offline = ["--no-index", "--find-links", str(house)]
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    pip = [*PIP, "--python", str(env_dir / "bin" / "python"), "install", "-q", "--no-compile"]
    # Independent steps, run side by side: building the wheel, installing the locked deps.
    _run_together(
        ([*PIP, "wheel", "-q", *offline, "--no-deps", "-w", str(wheels), "."], source),
        ([*pip, *offline, "--require-hashes", "-r", str(LOCK)], root),
    )
    (wheel,) = wheels.glob("dibx-*.whl")
    _run([*pip, "--no-deps", str(wheel)], root)
    return env_dir


def _wheelhouse() -> Path:
    """The locked runtime wheels (and what building dibx's wheel needs), downloaded once per
    lock file and build-system table into the user cache; later sessions install offline."""
    pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
    build_requires = tomllib.loads(pyproject)["build-system"]["requires"]
    key = hashlib.sha256(LOCK.read_bytes() + repr(build_requires).encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dibx"
    house = cache / f"wheels-{key}"
    if (house / "COMPLETE").is_file():
        return house
    cache.mkdir(parents=True, exist_ok=True)
    # Several sessions may ask at once: one downloads, the rest wait and reuse it.
    with (cache / f".wheels-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (house / "COMPLETE").is_file():
            house.mkdir(exist_ok=True)
            _run(
                [*PIP, "download", "-q", "-d", str(house), "--require-hashes", "-r", str(LOCK)],
                cache,
            )
            _run([*PIP, "download", "-q", "-d", str(house), *build_requires], cache)
            (house / "COMPLETE").touch()
    return house


@dataclass
class Served:
    url: str
    child: subprocess.Popen[bytes]
    neo4j_dir: Path

    def interrupt(self) -> int:
        """Ctrl-C, as an operator stops it; the exit code."""
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGINT)
        try:
            return self.child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.child.kill()
            return -1


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[Served]:
    workdir = tmp_path / "empty"
    workdir.mkdir()
    port = neo4j_server.free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "JAVA_HOME": os.environ.get("JAVA_HOME", ""),
        "PYTHONUNBUFFERED": "1",
        "DIBX_PORT": str(port),
        "DIBX_NEO4J_PORT": str(neo4j_server.free_port()),
        "DIBX_AUDIT_SINK": f"file:{tmp_path / 'audit.jsonl'}",
    }
    log = (tmp_path / "serve.log").open("w")
    child = subprocess.Popen(  # noqa: S603 - fixed argv
        [str(installed / "bin" / "dibx"), "serve", "--demo"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # a first build of the jar included
        while time.monotonic() < deadline and child.poll() is None:
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("dibx serve --demo did not become ready:\n" + log_text(tmp_path))
        yield Served(url, child, workdir / "var" / "neo4j")
    finally:
        Served(url, child, workdir / "var" / "neo4j").interrupt()
        neo4j_server.stop(workdir / "var" / "neo4j")  # only if the test failed before its own
        log.close()


def log_text(tmp_path: Path) -> str:
    return (tmp_path / "serve.log").read_text()[-4000:]


def test_installed_wheel_serves_the_demo_from_an_empty_directory(
    served: Served, tmp_path: Path
) -> None:
    token = httpx.post(
        f"{served.url}/oauth/token",
        auth=("demo-gbr", "demo-gbr-secret"),
        data={"grant_type": "client_credentials"},
        timeout=120,  # bounds a stuck process; the first requests compile what they import
    ).json()["access_token"]
    reply = httpx.post(
        f"{served.url}/graphql",
        json={"query": "{ suppliers { totalCount } agreements { totalCount } }"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    body = json.loads(reply.text)
    assert reply.status_code == 200, body
    # The shipped demo data and reference data were found and loaded, as a checkout's are.
    assert body["data"] == {"suppliers": {"totalCount": 84}, "agreements": {"totalCount": 10}}
    assert body["extensions"]["releasability"]["nation"] == "GBR"
    # Ctrl-C stops the service and the embedded Neo4j it started, and says so.
    assert served.interrupt() == 0
    assert neo4j_server.status(served.neo4j_dir) is None
    assert "embedded Neo4j stopped" in log_text(tmp_path)
