"""Stable global ids: `base64("Type:key")`. Page cursors are `dibx.graph.cursors`."""

from __future__ import annotations

import base64
import binascii
import re

from dibx.errors import Invalid

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
# The record types an id may name.
RECORD_TYPES = frozenset({"Supplier", "Capability", "Nation", "Agreement"})


def encode_id(type_name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


def decode_id(value: str, *, expected: str | None = None, field: str = "id") -> tuple[str, str]:
    """(type name, key); raises Invalid naming the argument when the id is malformed."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise Invalid("is not a valid dibx id", field=field) from None
    type_name, sep, key = raw.partition(":")
    if not sep or not _KEY.match(key) or type_name not in RECORD_TYPES:
        raise Invalid("is not a valid dibx id", field=field)
    if expected is not None and type_name != expected:
        raise Invalid(f"is a {type_name} id, expected a {expected} id", field=field)
    return type_name, key


def check_key(value: str, *, field: str = "key") -> str:
    """A record key as a user knows it (`cap.re-magnets`); raises Invalid if no record could
    have it, just as `decode_id` does for an id that could name none."""
    if not _KEY.match(value):
        raise Invalid("is not a valid dibx key", field=field)
    return value


def lookup_key(type_name: str, id: str | None, key: str | None) -> str:
    """The key a root lookup by `id` or by `key` names; exactly one of them must be given."""
    one = "give exactly one of `id` and `key`"
    if key is not None:
        if id is not None:
            raise Invalid(one, field="key")
        return check_key(key)
    if id is None:
        raise Invalid(one, field="id")
    return decode_id(id, expected=type_name)[1]
