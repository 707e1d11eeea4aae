"""Text values of the model of record (`Field.coerce`, the one validator of mutations,
imports and loaders): a name, a city or any other single-line text takes no control
character at all; a free-text field (`description`) takes tab and line breaks and no other
control character. C0 controls, DEL and C1 controls are refused, naming the field and the
character."""

from __future__ import annotations

import pytest

from dibx.graph.model import TYPES, FieldError

NAME = TYPES["Supplier"].field("name")
CITY = TYPES["Supplier"].field("city")
DESCRIPTION = TYPES["Supplier"].field("description")
# Every control but the three a multi-line text may hold, one of each range's ends.
NEVER = ["\x00", "\x07", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]
LINES = ["\t", "\n", "\r"]


@pytest.mark.parametrize("char", NEVER + LINES)
def test_single_line_text_refuses_every_control_character(char: str) -> None:
    for field in (NAME, CITY):
        with pytest.raises(FieldError) as refused:
            field.coerce(f"Acme{char}Ltd")
        assert str(refused.value) == (
            f"{field.name!r} contains the control character U+{ord(char):04X}; "
            "it takes one line of text without control characters"
        )


@pytest.mark.parametrize("char", NEVER)
def test_free_text_refuses_control_characters_but_tab_and_line_breaks(char: str) -> None:
    with pytest.raises(FieldError) as refused:
        DESCRIPTION.coerce(f"Magnets{char}and more")
    assert str(refused.value) == (
        f"'description' contains the control character U+{ord(char):04X}; "
        "of the control characters it takes only tab, line feed and carriage return"
    )


def test_free_text_keeps_tab_and_line_breaks() -> None:
    text = "Magnets:\r\n\tsintered\n\tbonded"
    assert DESCRIPTION.coerce(text) == text
    assert NAME.coerce("  Acme Ltd\n") == "Acme Ltd"  # surrounding white space is trimmed
