"""Logging for `dibx serve`: one JSON object per line on stderr, nothing else.

structlog renders every line, ours and the standard library's alike (uvicorn's error and
access loggers, strawberry, the Neo4j driver), through one `ProcessorFormatter`, so a log
collector parses one format. Each line logged while a request is served carries its
`request_id` (the caller's `X-Request-Id` or a generated one, see `dibx.graph.driver`).
Tracebacks, where there are any (our own failures, never a caller's mistake), travel inside
the JSON line as the `exception` field. The audit never goes through logging: it has its own
sink (`dibx.services.audit`), so stderr carries logs only and stdout stays free for an audit
sink that asks for it.
"""

from __future__ import annotations

import logging
import sys
from typing import IO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from dibx.graph.driver import current_request_id

# Standard-library loggers whose own handlers would print plain lines: emptied, so their
# records reach the root handler below.
_FOREIGN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "strawberry", "neo4j")


def add_request_id(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    request_id = current_request_id()
    if request_id is not None:
        event_dict.setdefault("request_id", request_id)
    return event_dict


def access_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """uvicorn's access line (`'%s - "%s %s HTTP/%s" %d'`) as fields instead of a sentence."""
    args = event_dict.pop("positional_args", None)  # the record's args (pass_foreign_args)
    record = event_dict.get("_record")
    if record is None or record.name != "uvicorn.access":
        return event_dict
    if isinstance(args, tuple) and len(args) == 5:
        client, method, path, version, status = args
        event_dict.update(
            event="http_access",
            client_address=client,
            method=method,
            path=path,
            http_version=version,
            status=status,
        )
    return event_dict


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        add_request_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]


def formatter() -> structlog.stdlib.ProcessorFormatter:
    """The one formatter: any log record in, one JSON line out."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared(), access_fields],
        pass_foreign_args=True,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(sort_keys=True, default=str),
        ],
    )


class CurrentStderr:
    """A text stream that is whatever `sys.stderr` is when a line is written: a logger bound
    once (and kept by a module) never writes to a stream replaced since, e.g. a test's."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to `stream`, or to whatever `sys.stderr` is when a line is written."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> IO[str]:
        return self._fixed or sys.stderr

    @stream.setter
    def stream(self, value: IO[str]) -> None:
        self._fixed = value


def configure(level: str = "info", stream: IO[str] | None = None) -> logging.Handler:
    """Send every log line, structlog's and the standard library's, to `stream` (default:
    stderr) as JSON. Replaces a handler an earlier call installed; returns the new one."""
    handler = JsonHandler(stream)
    handler.setFormatter(formatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, JsonHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _FOREIGN:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    return handler
