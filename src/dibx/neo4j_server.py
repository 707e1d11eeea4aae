"""The embedded Neo4j that dibx starts itself: build, start, stop and inspect it.

The server is the Maven module `deploy/neo4j` (shipped in the package as `dibx/data/neo4j`),
a shaded jar around Neo4j Community Edition's `DatabaseManagementServiceBuilder`, built once
per source version into the user's cache (`~/.cache/dibx/neo4j-<hash>/`). It runs as its
own JVM process (never in this interpreter), serves Bolt on 127.0.0.1 only, with auth
disabled, and keeps everything under one data directory:

    DATA_DIR/data/           Neo4j stores
    DATA_DIR/logs/           Neo4j's debug.log etc., and console.log (the JVM's stdout/stderr)
    DATA_DIR/dibx-neo4j.pid  {"pid": ..., "port": ..., "uri": ...} while the server runs

Used by `dibx neo4j start|stop|status` and by the test suite (see `running`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import neo4j
import neo4j.exceptions

from dibx import data as shipped

JAR_NAME = "dibx-neo4j.jar"
PID_FILE = "dibx-neo4j.pid"
MIN_JAVA = 17
DEFAULT_HEAP = "512m"
_BUILD_TIMEOUT = 30 * 60.0  # a cold build downloads ~150 MB of Maven artifacts
_HINT = (
    "install Java 17+ and Maven, e.g. `apt-get install openjdk-17-jdk-headless maven`"
    " (running an already built jar needs only openjdk-17-jre-headless)"
)

# Popen objects of servers this interpreter started: they must be reaped through Popen, or a
# dead child lingers as a zombie that still looks alive to os.kill(pid, 0).
_children: dict[int, subprocess.Popen[bytes]] = {}


class Neo4jServerError(RuntimeError):
    """The embedded server could not be built, started or stopped."""


class ToolchainError(Neo4jServerError):
    """java or mvn is missing or too old; the message says what to install."""


@dataclass(frozen=True)
class ServerStatus:
    pid: int
    port: int
    uri: str


@dataclass
class EmbeddedNeo4j:
    """A running server; also a context manager that stops it on exit."""

    data_dir: Path
    port: int
    pid: int
    log_file: Path
    uri: str = field(init=False)

    def __post_init__(self) -> None:
        self.uri = f"bolt://127.0.0.1:{self.port}"

    def driver(self) -> neo4j.Driver:
        # Auth is disabled server-side: no credentials needed, though any would be accepted.
        return neo4j.GraphDatabase.driver(self.uri, auth=None)

    def is_running(self) -> bool:
        return _alive(self.pid)

    def stop(self, timeout: float = 30.0) -> None:
        _terminate(self.pid, timeout)
        _remove_pid_file(self.data_dir, self.pid)

    def __enter__(self) -> EmbeddedNeo4j:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# --- build -------------------------------------------------------------------------------


def module_dir() -> Path:
    """The Maven module that builds the server: shipped inside the package (`dibx.data`)."""
    return shipped.neo4j_module()


def _module_files(module: Path) -> list[Path]:
    return sorted([module / "pom.xml", *(p for p in (module / "src").rglob("*") if p.is_file())])


def build_dir(module: Path | None = None) -> Path:
    """Where the jar is built: a user cache folder named by a hash of the module's sources.

    The package may sit in a read-only site-packages, so the build never writes next to its
    sources; and every checkout or install with the same sources shares one build.
    """
    module = module or module_dir()
    digest = hashlib.sha256()
    for path in _module_files(module):
        digest.update(path.relative_to(module).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "dibx" / f"neo4j-{digest.hexdigest()[:16]}"


def jar_path(module: Path | None = None) -> Path:
    return build_dir(module) / "target" / JAR_NAME


def ensure_built(module: Path | None = None) -> Path:
    """Return the server jar, building it with Maven first if this source has no build yet.

    Also prepares the jar's class-data archive (see `_make_class_archive`) once per build.
    """
    module = module or module_dir()
    build = build_dir(module)
    jar = build / "target" / JAR_NAME
    if jar.is_file() and _archive_settled(jar):
        return jar
    build.mkdir(parents=True, exist_ok=True)
    # Several processes (test workers, a CLI) may ask at once: one builds, the rest wait.
    with (build / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not jar.is_file():
            for path in _module_files(module):
                target = build / path.relative_to(module)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            _maven_package(build)
        if not _archive_settled(jar):
            _make_class_archive(jar)
    return jar


def _maven_package(module: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolchainError(f"Maven (mvn) is needed to build the embedded Neo4j: {_HINT}")
    if shutil.which("javac", path=_java_bin_path()) is None:
        raise ToolchainError(f"a JDK (javac) is needed to build the embedded Neo4j: {_HINT}")
    check_java()
    base = [mvn, "-B", "-q", "-Dstyle.color=never", "package"]
    # Offline first: after the first build everything is in ~/.m2 and this needs no network.
    # If something is missing, offline fails fast and the online run fetches it.
    for command in ([*base[:3], "-o", *base[3:]], base):
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            command,
            cwd=module,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_BUILD_TIMEOUT,
            check=False,
        )
        if result.returncode == 0:
            return
    output = (result.stdout + result.stderr).strip().splitlines()
    raise Neo4jServerError(
        f"`{' '.join(base)}` failed in {module} (exit {result.returncode}):\n"
        + "\n".join(output[-40:])
    )


def _archive_settled(jar: Path) -> bool:
    # Settled = an archive, or a record that making one failed, newer than the jar and the JVM.
    # The JVM checks the archive itself too and silently ignores one that does not match.
    try:
        built = max(jar.stat().st_mtime, Path(java_executable()).resolve().stat().st_mtime)
    except (OSError, ToolchainError):
        return True  # nothing to archive yet; start() reports what is missing
    return any(
        p.is_file() and p.stat().st_mtime >= built
        for p in (_archive_path(jar), _archive_path(jar).with_suffix(".failed"))
    )


def _archive_path(jar: Path) -> Path:
    return jar.with_suffix(".jsa")


def _make_class_archive(jar: Path) -> None:
    """Record the classes a server start and a first query load, into an AppCDS archive.

    Neo4j loads over 11,000 classes before Bolt is ready; mapping them from the archive
    instead of parsing the 120 MB jar cut time-to-Bolt-ready on a busy 2-core machine from
    3.5-7 s to 1.7-3.7 s. The JVM writes the archive while exiting; the whole run takes
    ~30 s, once per build. Without an archive the server starts fine, only slower.
    """
    archive = _archive_path(jar)
    archive.unlink(missing_ok=True)
    failed = archive.with_suffix(".failed")
    failed.unlink(missing_ok=True)
    reason = "the JVM wrote no archive"
    with tempfile.TemporaryDirectory(prefix="dibx-neo4j-cds-") as scratch:
        try:
            server = start(
                Path(scratch),
                free_port(),
                jar=jar,
                tie_to_parent=True,
                jvm_args=[f"-XX:ArchiveClassesAtExit={archive}"],
            )
            try:
                with server.driver() as driver:
                    driver.execute_query("CREATE (n:Warmup {at: datetime()}) RETURN count(n)")
                    driver.execute_query("MATCH (n:Warmup) DETACH DELETE n")
            finally:
                server.stop(timeout=180.0)  # the archive is written during exit
        except (Neo4jServerError, neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError) as e:
            reason = str(e)
    if not archive.is_file():
        # Without an archive the server only starts slower; keep the reason, don't retry.
        failed.write_text(reason + "\n")


def _class_archive_args(jar: Path) -> list[str]:
    archive = _archive_path(jar)
    if not archive.is_file() or archive.stat().st_mtime < jar.stat().st_mtime:
        return []
    return [f"-XX:SharedArchiveFile={archive}"]


# --- java --------------------------------------------------------------------------------


def _java_bin_path() -> str | None:
    # JAVA_HOME wins over PATH, as it does for mvn itself.
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin")
    return None  # shutil.which then searches PATH


def java_executable() -> str:
    java = shutil.which("java", path=_java_bin_path())
    if java is None:
        raise ToolchainError(f"java is needed to run the embedded Neo4j: {_HINT}")
    return java


def check_java() -> int:
    """Return the major version of `java`, raising ToolchainError if it is missing or < 17."""
    java = java_executable()
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    text = result.stderr + result.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if match is None:
        raise ToolchainError(f"cannot tell the version of {java} from {text.strip()!r}")
    major = int(match[1])
    if major == 1 and match[2]:  # "1.8.0_x" is Java 8
        major = int(match[2])
    if major < MIN_JAVA:
        raise ToolchainError(f"{java} is Java {major}; Neo4j 5 needs {MIN_JAVA}+: {_HINT}")
    return major


# --- lifecycle ---------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now (another process may take it before use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    data_dir: Path,
    port: int,
    *,
    heap: str | None = None,
    page_cache: str | None = None,
    tx_memory: str | None = None,
    log_file: Path | None = None,
    timeout: float = 120.0,
    jar: Path | None = None,
    tie_to_parent: bool = False,
    jvm_args: Sequence[str] = (),
    min_replan_s: int | None = None,
) -> EmbeddedNeo4j:
    """Start the server on 127.0.0.1:`port` with its files under `data_dir`; wait for Bolt.

    heap / page_cache / tx_memory take JVM-style sizes ("512m", "1g"); unset, they come from
    DIBX_NEO4J_HEAP / DIBX_NEO4J_PAGE_CACHE / DIBX_NEO4J_TX_MEMORY, else 512m / 512m / 256m.
    DIBX_NEO4J_JVM_ARGS adds JVM options (shell-quoted), before `jvm_args`.
    With `tie_to_parent` the server exits when this process does, even if killed (meant for
    test sessions); without it the server outlives its starter (meant for the CLI).
    `min_replan_s` is the least time between replans of a cached query plan when the data's
    statistics change (Neo4j's default, 10 s, unless given).
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if (running_now := status(data_dir)) is not None:
        raise Neo4jServerError(
            f"a server already runs for {data_dir}: pid {running_now.pid} at {running_now.uri}"
        )
    if _port_open(port):
        raise Neo4jServerError(f"port {port} on 127.0.0.1 is already in use")
    check_java()
    if jar is None:
        jar = ensure_built()
    log_file = log_file or data_dir / "logs" / "console.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)

    heap = heap or os.environ.get("DIBX_NEO4J_HEAP") or DEFAULT_HEAP
    command = [
        java_executable(),
        # Fixed heap, as Neo4j recommends (it warns otherwise); RSS measured no higher.
        f"-Xms{heap}",
        f"-Xmx{heap}",
        # A dead JVM is better than one thrashing after an OOM: the caller sees it exit.
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:-UsePerfData",  # no /tmp/hsperfdata_* files left behind
        "-Dfile.encoding=UTF-8",
        # Quiet CDS: a stale or mismatched class archive is skipped, which is all we need.
        "-Xlog:cds=off",
        "-Xlog:cds+dynamic=off",
        *_class_archive_args(jar),
        *shlex.split(os.environ.get("DIBX_NEO4J_JVM_ARGS", "")),
        *jvm_args,
        "-jar",
        str(jar),
        str(data_dir),
        str(port),
    ]
    if page_cache:
        command += ["--page-cache", page_cache]
    if tx_memory:
        command += ["--tx-memory", tx_memory]
    if min_replan_s is not None:
        command += ["--min-replan-interval", str(int(min_replan_s))]
    if tie_to_parent:
        command.append("--exit-on-stdin-eof")

    with log_file.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            cwd=data_dir,
            # The kept-open pipe is the lifeline for tie_to_parent; DEVNULL detaches otherwise.
            stdin=subprocess.PIPE if tie_to_parent else subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session and process group: a Ctrl-C at the terminal that ran `dibx neo4j
            # start` must not reach the server, and stop() can signal the whole group.
            start_new_session=True,
        )
    _children[process.pid] = process
    server = EmbeddedNeo4j(data_dir=data_dir, port=port, pid=process.pid, log_file=log_file)
    _write_pid_file(data_dir, server)
    try:
        _wait_ready(server, process, timeout)
    except BaseException:
        server.stop(timeout=10)
        raise
    return server


def _wait_ready(server: EmbeddedNeo4j, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Neo4jServerError(
                f"Neo4j exited with code {process.returncode} during startup; "
                f"{server.log_file} ends with:\n{_tail(server.log_file)}"
            )
        # The port opens before the default database is up; only a real Bolt handshake plus
        # the driver's connectivity check proves queries can run.
        if _port_open(server.port):
            try:
                with neo4j.GraphDatabase.driver(server.uri, connection_timeout=5.0) as driver:
                    driver.verify_connectivity()
            except (neo4j.exceptions.DriverError, neo4j.exceptions.Neo4jError, OSError) as error:
                last_error = error
            else:
                return
        time.sleep(0.2)
    raise Neo4jServerError(
        f"Neo4j did not answer on {server.uri} within {timeout:.0f}s (last error: {last_error}); "
        f"{server.log_file} ends with:\n{_tail(server.log_file)}"
    )


def status(data_dir: Path) -> ServerStatus | None:
    """The server running for `data_dir`, or None (a stale pid file is removed)."""
    pid_file = data_dir.resolve() / PID_FILE
    try:
        info = json.loads(pid_file.read_text())
        found = ServerStatus(pid=int(info["pid"]), port=int(info["port"]), uri=str(info["uri"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError):
        pid_file.unlink(missing_ok=True)  # garbled: written by a crashed or foreign process
        return None
    if not _alive(found.pid) or not _is_our_server(found.pid, data_dir.resolve()):
        _remove_pid_file(data_dir.resolve(), found.pid)
        return None
    return found


def stop(data_dir: Path, timeout: float = 30.0) -> bool:
    """Stop the server running for `data_dir`; False if none was running."""
    found = status(data_dir)
    if found is None:
        return False
    _terminate(found.pid, timeout)
    _remove_pid_file(data_dir.resolve(), found.pid)
    return True


@contextlib.contextmanager
def running(
    data_dir: Path,
    port: int | None = None,
    *,
    heap: str | None = None,
    page_cache: str | None = None,
    tx_memory: str | None = None,
    timeout: float = 120.0,
    jar: Path | None = None,
    tie_to_parent: bool = True,
    min_replan_s: int | None = None,
) -> Iterator[EmbeddedNeo4j]:
    """`start` for the duration of a with-block, on a free port unless one is given."""
    server = start(
        data_dir,
        free_port() if port is None else port,
        heap=heap,
        page_cache=page_cache,
        tx_memory=tx_memory,
        timeout=timeout,
        jar=jar,
        tie_to_parent=tie_to_parent,
        min_replan_s=min_replan_s,
    )
    try:
        yield server
    finally:
        server.stop()


# --- process plumbing --------------------------------------------------------------------


def _terminate(pid: int, timeout: float) -> None:
    # SIGTERM runs the JVM's shutdown hook, which checkpoints and closes the stores; SIGKILL
    # is the fallback for a hung shutdown (Neo4j recovers from its logs on the next start).
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        if not _alive(pid):
            break
        _signal(pid, sig)
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    if _alive(pid):
        raise Neo4jServerError(f"Neo4j (pid {pid}) survived SIGKILL")
    child = _children.pop(pid, None)
    if child is not None and child.stdin is not None:
        child.stdin.close()


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        # The JVM leads its own group (start_new_session); signal the group when that holds.
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _alive(pid: int) -> bool:
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    # Someone else's dead child is a zombie until reaped; it runs no server.
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return stat.read_text().rpartition(")")[2].split()[0] != "Z"
    return True


def _is_our_server(pid: int, data_dir: Path) -> bool:
    # Guards against pid reuse after a reboot or crash: the pid must still be our jar for this
    # data_dir. Without /proc (not Linux) the liveness check alone has to do.
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.is_dir():
        return True
    try:
        argv = cmdline.read_bytes().split(b"\0")
    except OSError:
        return False
    return any(a.endswith(JAR_NAME.encode()) for a in argv) and os.fsencode(data_dir) in argv


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _write_pid_file(data_dir: Path, server: EmbeddedNeo4j) -> None:
    pid_file = data_dir / PID_FILE
    tmp = pid_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": server.pid, "port": server.port, "uri": server.uri}))
    tmp.replace(pid_file)  # atomic: status() never reads half a file


def _remove_pid_file(data_dir: Path, pid: int) -> None:
    # Only our own entry: a newer server may have taken over the data_dir meanwhile.
    pid_file = data_dir / PID_FILE
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if int(json.loads(pid_file.read_text())["pid"]) == pid:
            pid_file.unlink()


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        return f"(cannot read: {error})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"
