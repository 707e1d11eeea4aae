"""The errors dibx means a caller to see; anything else is masked as an internal error.

DibxError                 message + code, safe to show
 ├── Invalid              the request is wrong (names the input at fault); writes nothing
 ├── NotFound             no such record, or one the caller may not see (never confirmed)
 ├── Forbidden            the caller lacks a scope for the operation
 ├── Conflict             the request clashes with the current state
 ├── LimitExceeded        depth, aliases, size or cost over the configured limits
 │    ├── Busy            too much heavy work in flight: retry later (HTTP 429)
 │    └── TimedOut        a query ran past the transaction timeout and was stopped
 └── Unavailable          the database cannot be reached now (HTTP 503)
      └── MemoryLimit      the database refused a transaction more memory (its pool is full)
"""

from __future__ import annotations


class DibxError(Exception):
    code = "INTERNAL"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message if self.field is None else f"{self.field}: {self.message}"


class Invalid(DibxError):
    code = "BAD_USER_INPUT"


class NotFound(DibxError):
    code = "NOT_FOUND"


class Forbidden(DibxError):
    code = "FORBIDDEN"


class Conflict(DibxError):
    code = "CONFLICT"


class LimitExceeded(DibxError):
    """`limit` names the limit (depth, aliases, tokens, cost); `maximum` is its configured
    value and `measured` what the request came to. All three reach the caller's
    `extensions`, so a client can tell a limit from a mistake and say by how much."""

    code = "LIMIT_EXCEEDED"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        limit: str | None = None,
        maximum: int | None = None,
        measured: int | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.limit = limit
        self.maximum = maximum
        self.measured = measured

    def extensions(self) -> dict[str, object]:
        named = {"limit": self.limit, "maximum": self.maximum, "measured": self.measured}
        return {k: v for k, v in named.items() if v is not None}


class Busy(LimitExceeded):
    """Refused before any work: the caller (or everyone) already runs too much heavy work."""


class TimedOut(LimitExceeded):
    """Neo4j stopped a transaction that ran past its timeout (DIBX_NEO4J_TX_TIMEOUT)."""

    code = "TIMEOUT"


class Unavailable(DibxError):
    code = "SERVICE_UNAVAILABLE"


class MemoryLimit(Unavailable):
    """Neo4j refused a transaction the memory it asked for: the transactions running at once
    passed its limit (`dbms.memory.transaction.total.max`; DIBX_NEO4J_TX_MEMORY for the
    embedded server). Said as unavailable (the same later, or beside fewer others, may
    fit); a bulk writer splits its batch instead (`dibx.exchange.writer`)."""
