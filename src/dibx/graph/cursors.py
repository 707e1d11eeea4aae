"""Keyset cursors: sealed positions in an order, and the Cypher that reads on from them.

A cursor names where a record sits in its connection's order (the sort values as the caller
saw them, null where withheld, then the record's key, and for a relation the edge's id), so
the next page is `WHERE (sort values, key) > (cursor's)` and costs what the first does. A
record hidden or added between pages moves nothing: the walk resumes after a position, not
after a count of records.

A cursor is sealed with AES-GCM under a key derived from the server secret: the caller
learns nothing from it (not even a sort value it was shown), and cannot forge or alter one.
The nonce is a keyed hash of what is sealed (as in SIV), so one position on one connection
always gives the same cursor: responses stay deterministic, and equal cursors only say
"the same place", which the caller knew.
The associated data binds it to the caller's nation and groups, the connection (root field
with its filter, or a relation of a record type) and its sort, so a cursor replayed on
another connection, order, nation or group set fails to open: `Invalid` (`BAD_USER_INPUT`)
naming the argument.

    c1.<base64url(nonce ‖ ciphertext ‖ tag)>   plaintext: JSON list of the position's parts
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from dibx.auth.release import ReleaseScope
from dibx.errors import Invalid

PREFIX = "c1."
_NONCE = 12
_MAX_LEN = 4096
BAD_CURSOR = (
    "is not a cursor of this list: a cursor is valid only on the list, sort and nation "
    "that handed it out"
)

Part = str | int | None


class Sealer:
    """Seals and opens cursors with a key derived from the server secret."""

    def __init__(self, secret: bytes) -> None:
        self._aead = AESGCM(_derive(secret, b"dibx cursor v1 seal"))
        self._nonce_key = _derive(secret, b"dibx cursor v1 nonce")

    @classmethod
    def ephemeral(cls) -> Sealer:
        """A key for one process (tests, tools): its cursors open nowhere else."""
        return cls(os.urandom(32))

    def seal(self, viewer: str, connection: str, parts: Sequence[Part]) -> str:
        plain = json.dumps(list(parts), separators=(",", ":")).encode()
        bound = _bound(viewer, connection)
        nonce = hmac.new(self._nonce_key, bound + b"\0" + plain, hashlib.sha256).digest()[:_NONCE]
        sealed = self._aead.encrypt(nonce, plain, bound)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(
        self, viewer: str, connection: str, token: str, *, field: str, size: int
    ) -> tuple[Part, ...]:
        """The position's parts; `Invalid` for anything this server did not seal for this
        viewer and connection, or of the wrong shape."""
        if not token.startswith(PREFIX) or len(token) > _MAX_LEN:
            raise Invalid(BAD_CURSOR, field=field)
        body = token[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], _bound(viewer, connection))
            parts = json.loads(plain)
        except (binascii.Error, ValueError, InvalidTag):
            raise Invalid(BAD_CURSOR, field=field) from None
        if (
            not isinstance(parts, list)
            or len(parts) != size
            or not all(p is None or isinstance(p, str | int) for p in parts)
        ):
            raise Invalid(BAD_CURSOR, field=field)
        return tuple(parts)


def _derive(secret: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret)


def _bound(viewer: str, connection: str) -> bytes:
    return json.dumps([viewer, connection]).encode()


def viewer(scope: ReleaseScope) -> str:
    """Who a cursor is for: the caller's nation and the groups its markings are checked
    against. A cursor's position holds values as that viewer saw them; another viewer, even
    of the same nation, could otherwise place it among what it sees and bound a value
    withheld from it."""
    return json.dumps([scope.nation, sorted(scope.groups)])


@dataclass(frozen=True, slots=True)
class Window:
    """Which page: `size` records after the position `at` (forward), or before it.

    `at` holds a position's parts as `positions` hands them out: the sort values (as the
    caller saw them) then the key; None reads from the start (forward) or the end.
    """

    size: int
    forward: bool = True
    at: tuple[Part, ...] | None = None


def open_window(
    sealer: Sealer,
    viewer: str,
    connection: str,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    default: int,
    max_size: int,
    parts: int,
) -> Window:
    """The page asked for (`first` after `after`, or `last` before `before`), its size
    checked and its cursor opened; `Invalid` naming the argument otherwise."""
    backward = last is not None or before is not None
    if backward and (first is not None or after is not None):
        raise Invalid("page forwards (first, after) or backwards (last, before), not both")
    name, size, token = ("last", last, before) if backward else ("first", first, after)
    size = default if size is None else size
    if size < 0:
        raise Invalid("must not be negative", field=name)
    if size > max_size:
        raise Invalid(f"must be at most {max_size}", field=name)
    at = None
    if token is not None:
        field = "before" if backward else "after"
        at = sealer.open(viewer, connection, token, field=field, size=parts)
    return Window(size, not backward, at)


# -- the Cypher of a keyset ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Key:
    """One part of an order: an expression (as the caller sees it), its direction, and
    whether it may be null (nulls sort last either way)."""

    expr: str
    descending: bool = False
    nullable: bool = False

    def order(self, *, reverse: bool) -> list[str]:
        desc = self.descending != reverse
        keys = [f"{self.expr} IS NULL {'DESC' if reverse else 'ASC'}"] if self.nullable else []
        return [*keys, f"{self.expr} {'DESC' if desc else 'ASC'}"]


def order_by(keys: Sequence[Key], *, reverse: bool = False) -> str:
    return ", ".join(o for k in keys for o in k.order(reverse=reverse))


def beyond(
    keys: Sequence[Key],
    at: Sequence[Part],
    param: Callable[[Any], str],
    *,
    forward: bool,
    inclusive: bool = False,
) -> str:
    """Cypher predicate: the row comes after (`forward`) or before the position `at` in the
    order `keys` (the row at `at` itself too when `inclusive`). Lexicographic: equal on
    every earlier key and strictly beyond on one. Uses no NOT, so a null comparison
    (a withheld value) only ever fails."""
    ors: list[str] = []
    equal: list[str] = []
    for i, (key, value) in enumerate(zip(keys, at, strict=True)):
        last = i == len(keys) - 1
        e = key.expr
        if value is None:
            if not key.nullable:
                return "false"
            strict = "false" if forward else f"{e} IS NOT NULL"
            same = f"{e} IS NULL"
        else:
            p = param(value)
            op = ">" if forward != key.descending else "<"
            if last and inclusive:
                op += "="
            strict = f"{e} {op} {p}"
            if forward and key.nullable:
                strict = f"({e} IS NULL OR {strict})"
            same = f"{e} = {p}"
        if strict != "false":
            ors.append("(" + " AND ".join([*equal, strict]) + ")")
        equal.append(same)
    return "(" + " OR ".join(ors) + ")" if ors else "false"
