"""Global ids: stable, opaque, and strict about what they accept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dibx.errors import Invalid
from dibx.schema.ids import decode_id, encode_id


def test_id_round_trip() -> None:
    assert decode_id(encode_id("Supplier", "lockheed-martin")) == ("Supplier", "lockheed-martin")


def test_id_of_another_type_is_named() -> None:
    with pytest.raises(Invalid, match="is a Nation id, expected a Supplier id"):
        decode_id(encode_id("Nation", "USA"), expected="Supplier")


@given(st.text(max_size=40))
def test_garbage_ids_raise_invalid_never_crash(text: str) -> None:
    try:
        type_name, _ = decode_id(text)
    except Invalid as exc:
        message = str(exc)
    else:
        message = f"id: decoded as {type_name}"
    assert message.startswith("id: ")
