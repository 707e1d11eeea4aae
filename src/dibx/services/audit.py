"""The append-only audit sink: one JSON line per request, written before the response leaves.

A failed write fails the request closed: the caller gets an error, not unaudited data.

Writes to the graph are audited on their own, before they commit: `WriteAudit.before_commit`
builds the hook `Graph.write` runs inside the write transaction after its statement and
before COMMIT. The hook writes a `graph_write` record (who, which operation, the target, the
old and new marking and state) through the sink and waits for it (the file sink fsyncs); if
that fails, the hook raises and the transaction rolls back, so no write commits unrecorded.
Every future mutation and import goes through it. If COMMIT itself then fails, a
`graph_write_failed` record follows when the sink allows; a record without a committed write
is possible (the record came first), a committed write without a record is not.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import socket
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

import structlog

from dibx.auth.principal import Principal
from dibx.graph.driver import BeforeCommit, Rows

log = structlog.get_logger("dibx.audit")
T = TypeVar("T")


class AuditError(RuntimeError):
    """The audit record could not be written; the request must not succeed."""


class AuditSink(Protocol):
    def write(self, record: Mapping[str, Any]) -> None: ...


class StdoutSink:
    def write(self, record: Mapping[str, Any]) -> None:
        try:
            sys.stdout.write(json.dumps(record, sort_keys=True, default=str) + "\n")
            sys.stdout.flush()
        except OSError as exc:
            raise AuditError(f"audit write failed: {exc}") from exc


class FileSink:
    """JSON lines appended to a file; each record is fsynced before the write returns.

    Several processes (the workers of `dibx serve --workers N`) append to the same file:
    each record goes out as one write(2) on an O_APPEND descriptor while holding an
    exclusive flock, so records never interleave, whatever their size (a buffered text
    file may split a long line into several writes, and another process's record could land
    between them).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: Mapping[str, Any]) -> None:
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        try:
            with self._lock:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    view = memoryview(line)
                    while view:  # a regular file takes it whole; a short write goes on
                        view = view[os.write(fd, view) :]
                    os.fsync(fd)
                finally:
                    os.close(fd)  # releases the lock
        except OSError as exc:
            raise AuditError(f"audit write failed: {exc}") from exc


class SyslogSink:
    """Each record as one RFC 5424 message (facility 13, log audit; severity informational;
    MSGID the record's event; the record as JSON, plain ASCII, for MSG) to the syslog receiver
    operators already run (rsyslog, syslog-ng, a SIEM's collector).

    Over TCP (RFC 6587 octet counting, one connection kept open, reopened once if it broke) a
    write fails unless the kernel took the whole message. Over UDP a write fails only when the
    datagram cannot be sent (no route, unresolvable host, a refusal reported for an earlier
    datagram); a datagram lost on the way goes unnoticed, so use TCP where the audit must
    fail closed.
    """

    PRI = 13 * 8 + 6

    def __init__(
        self,
        host: str,
        port: int,
        transport: Literal["udp", "tcp"],
        *,
        app_name: str = "dibx",
        timeout_s: float = 5.0,
    ) -> None:
        self.host, self.port, self.transport = host, port, transport
        self.app_name = app_name
        self.timeout_s = timeout_s
        self.hostname = socket.gethostname() or "-"
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def message(self, record: Mapping[str, Any]) -> bytes:
        msgid = "".join(c for c in str(record.get("event") or "-") if 33 <= ord(c) <= 126)[:32]
        head = (
            f"<{self.PRI}>1 {datetime.now(UTC).isoformat()} {self.hostname[:255]} "
            f"{self.app_name} {os.getpid()} {msgid or '-'} - "
        )
        return (head + json.dumps(record, sort_keys=True, default=str)).encode("ascii")

    def write(self, record: Mapping[str, Any]) -> None:
        data = self.message(record)
        if self.transport == "tcp":
            data = f"{len(data)} ".encode() + data
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._send(data)
                    return
                except OSError as exc:
                    self.close()
                    if attempt == 2:
                        raise AuditError(f"audit write to syslog failed: {exc}") from exc

    def _send(self, data: bytes) -> None:
        if self._sock is None:
            kind = socket.SOCK_STREAM if self.transport == "tcp" else socket.SOCK_DGRAM
            family, _, _, _, address = socket.getaddrinfo(self.host, self.port, type=kind)[0]
            sock = socket.socket(family, kind)
            sock.settimeout(self.timeout_s)
            try:
                sock.connect(address)
            except OSError:
                sock.close()
                raise
            self._sock = sock
        self._sock.sendall(data)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class AllSinks:
    """Several sinks (e.g. a local file and syslog); a record is written only if every one
    took it, so any failing sink fails the request closed."""

    def __init__(self, sinks: list[AuditSink]) -> None:
        self.sinks = sinks

    def write(self, record: Mapping[str, Any]) -> None:
        for sink in self.sinks:
            sink.write(record)


class MemorySink:
    """For tests: keeps records in a list."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))


def sink_from(spec: str) -> AuditSink:
    """`stdout`, `file:<path>`, `syslog+tcp://host[:port]`, `syslog+udp://host[:port]`, or
    several of these separated by commas (each record goes to all of them)."""
    parts = [part.strip() for part in spec.split(",") if part.strip()]
    if len(parts) > 1:
        return AllSinks([sink_from(part) for part in parts])
    spec = parts[0] if parts else spec
    if spec == "stdout":
        return StdoutSink()
    if spec.startswith("file:"):
        return FileSink(Path(spec.removeprefix("file:")))
    if spec.startswith(("syslog+tcp://", "syslog+udp://")):
        url = urlsplit(spec)
        if not url.hostname:
            raise ValueError(f"audit sink {spec!r} names no host")
        transport: Literal["udp", "tcp"] = "tcp" if url.scheme == "syslog+tcp" else "udp"
        return SyslogSink(url.hostname, url.port or 514, transport)
    raise ValueError(f"unknown audit sink {spec!r}")


# What a write reports for its record, from the rows its statement returned; None when the
# statement matched nothing (nothing will be written, so there is nothing to record).
Describe = Callable[[Rows], Mapping[str, Any] | None]


class WriteAudit:
    """One request's audited graph writes: each record is durable before its write commits.

    `failed` tells the endpoint that a write was refused for want of an audit record (the
    caller gets 503 AUDIT_UNAVAILABLE); `committed` lists the write ids that did commit, so
    the request's own record can point at them.
    """

    def __init__(
        self, sink: AuditSink, *, operation: str | None = None, policy_version: str | None = None
    ) -> None:
        self.sink = sink
        self.operation = operation
        self.policy_version = policy_version
        self.failed = False
        self.committed: list[str] = []

    async def run(
        self,
        principal: Principal,
        action: str,
        describe: Describe,
        write: Callable[[BeforeCommit], Awaitable[T]],
    ) -> T:
        """Run `write(hook)`, a Graph write given `hook` as its `before_commit`."""
        write_id = str(uuid.uuid4())
        recorded = False

        async def before_commit(rows: Rows) -> None:
            nonlocal recorded
            details = describe(rows)
            if details is None:
                return
            record = {
                **self._who(principal),
                "event": "graph_write",
                "write_id": write_id,
                "action": action,
                **details,
                "outcome": "committing",
            }
            await self._emit(record)
            recorded = True

        try:
            result = await write(before_commit)
        except AuditError:
            self.failed = True
            raise
        except BaseException as exc:
            if recorded:  # recorded, then COMMIT failed: say so where the sink still allows
                await self._after_failure(principal, write_id, action, exc)
            raise
        if recorded:
            self.committed.append(write_id)
        return result

    def _who(self, principal: Principal) -> dict[str, Any]:
        return {
            "time": datetime.now(UTC).isoformat(),
            "subject": principal.subject,
            "client": principal.client_id,
            "nation": principal.nation,
            "org": principal.org,
            "token_id": principal.token_id,
            "operation": self.operation,
            "policy_version": self.policy_version,
        }

    async def _emit(self, record: Mapping[str, Any]) -> None:
        # The file sink fsyncs: off the event loop, but the transaction waits for it.
        try:
            await asyncio.to_thread(self.sink.write, record)
        except AuditError:
            raise
        except Exception as exc:  # any failing sink is a failed audit, never a silent pass
            raise AuditError(f"audit write failed: {exc}") from exc

    async def _after_failure(
        self, principal: Principal, write_id: str, action: str, exc: BaseException
    ) -> None:
        record = {
            **self._who(principal),
            "event": "graph_write_failed",
            "write_id": write_id,
            "action": action,
            "error": type(exc).__name__,
        }
        try:
            await self._emit(record)
        except AuditError:
            log.error("audit_write_failed", write_id=write_id)


def check_writable(spec: str) -> None:
    """At start: a file sink must be a file (not a directory) this process can append to;
    otherwise every request would be refused with 503 after a start that looked fine."""
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) > 1:
        for part in parts:
            check_writable(part)
        return
    if not spec.startswith("file:"):
        return
    path = Path(spec.removeprefix("file:"))
    if path.is_dir():
        raise AuditError(f"audit sink {path} is a directory; name a file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise AuditError(f"audit sink {path} is not writable: {exc}") from exc
