"""The append-only audit sink: one JSON line per request, written before the response leaves.

A failed write fails the request closed: the caller gets an error, not unaudited data.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


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
    """JSON lines opened in append mode; each record is flushed and fsynced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        try:
            with self._lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise AuditError(f"audit write failed: {exc}") from exc


class MemorySink:
    """For tests: keeps records in a list."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def write(self, record: Mapping[str, Any]) -> None:
        self.records.append(dict(record))


def sink_from(spec: str) -> AuditSink:
    if spec == "stdout":
        return StdoutSink()
    if spec.startswith("file:"):
        return FileSink(Path(spec.removeprefix("file:")))
    raise ValueError(f"unknown audit sink {spec!r}")


def check_writable(spec: str) -> None:
    """At start: a file sink must be a file (not a directory) this process can append to;
    otherwise every request would be refused with 503 after a start that looked fine."""
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
