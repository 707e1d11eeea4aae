"""Who is calling: the identity a validated access token establishes. Pure, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

SUPPLIER_READ: Final = "supplier:read"
SUPPLY_CHAIN_READ: Final = "supply_chain:read"
SUPPLIER_WRITE: Final = "supplier:write"
MARKING_CHALLENGE: Final = "marking:challenge"
MARKING_ADJUDICATE: Final = "marking:adjudicate"
AUDIT_READ: Final = "audit:read"
DATA_WRITE: Final = "data:write"  # suppliers and their links (policy [stewardship.scopes])
CATALOGUE_WRITE: Final = "catalogue:write"  # capabilities and REQUIRES
MARKING_REVIEW: Final = "marking:review"  # review of the markings one's own nation designated

ALL_SCOPES: Final = frozenset(
    {
        SUPPLIER_READ,
        SUPPLY_CHAIN_READ,
        SUPPLIER_WRITE,
        MARKING_CHALLENGE,
        MARKING_ADJUDICATE,
        AUDIT_READ,
        DATA_WRITE,
        CATALOGUE_WRITE,
        MARKING_REVIEW,
    }
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request acts for.

    `nation` is the ISO 3166-1 alpha-3 code the caller acts for. `attributes` are the token's
    caller attributes exactly as asserted (e.g. `FED`); the releasability policy decides which
    it honours, so nothing here grants access by itself.
    """

    subject: str
    client_id: str
    nation: str
    org: str | None
    scopes: frozenset[str]
    attributes: frozenset[str]
    token_id: str | None
    # When the token stops being valid (`exp`, seconds since the epoch): a long-lived
    # connection (a subscription socket) is closed then. Not part of who the caller is.
    expires_at: int | None = field(default=None, compare=False)

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
