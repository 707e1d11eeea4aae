"""Challenge Cypher: field names come only from the model's allow-list (never from the
caller's text)."""

from __future__ import annotations

import pytest

from dibx.graph import challenges


@pytest.mark.parametrize(
    ("type_name", "field"),
    [
        ("Supplier", "salary"),
        ("Supplier", "release_name"),
        ("Supplier", "name} DETACH DELETE tg //"),
        ("Capability", "Name"),
        ("Nation", None),
        ("Agreement", "name"),
        ("MarkingChallenge", None),
    ],
)
def test_fields_outside_the_allow_list_never_reach_a_query(
    type_name: str, field: str | None
) -> None:
    with pytest.raises(ValueError, match=r"cannot be challenged|has no marked field"):
        challenges.model_field(type_name, field)


def test_the_model_supplies_the_name_used_in_query_text() -> None:
    wanted = "".join(["employ", "ees"])  # a different str object, same text
    got = challenges.model_field("Supplier", wanted)
    assert got == "employees"
    assert got is not wanted
    assert challenges.model_field("Capability", None) is None
