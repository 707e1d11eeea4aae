"""Root lookups by the key a user knows (`cap.re-magnets`), answering as the id lookup does."""

from __future__ import annotations

import pytest

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NOFORN = "CUI//NOFORN"
BY_KEY = """query($key: String!) {
  supplier(key: $key) { id key name nation { code } }
  capability(key: $key) { id key name }
}"""
BY_ID = """query($s: ID!, $c: ID!) {
  supplier(id: $s) { id key name nation { code } }
  capability(id: $c) { id key name }
}"""


def graph() -> b.Dataset:
    return b.dataset(
        suppliers=[
            b.supplier("sup.open", "GBR", name="Open Works"),
            b.supplier("sup.hidden", "USA", record=NOFORN, name="Hidden Works"),
            b.supplier("shared.key", "USA", name="Shares its key"),
        ],
        capabilities=[
            b.capability("cap.re-magnets", name="Rare-earth magnets"),
            b.capability("cap.hidden", record=NOFORN),
            b.capability("shared.key", name="Also shares it"),
        ],
    )


async def by_key(api: Api, key: str, nation: str = "USA") -> dict[str, object]:
    reply = await api.query(BY_KEY, {"key": key}, nation=nation)
    assert reply.status == 200, reply.body
    assert reply.errors == []
    return dict(reply.data)


async def test_key_lookup_answers_as_the_id_lookup(api: Api) -> None:
    await api.load(graph())
    for key in ("sup.open", "cap.re-magnets", "shared.key"):
        found = await by_key(api, key)
        by_id = await api.query(
            BY_ID, {"s": encode_id("Supplier", key), "c": encode_id("Capability", key)}
        )
        assert found == by_id.data
    assert (await by_key(api, "cap.re-magnets"))["capability"] == {
        "id": encode_id("Capability", "cap.re-magnets"),
        "key": "cap.re-magnets",
        "name": "Rare-earth magnets",
    }


async def test_hidden_key_lookup_same_body_as_missing_key(api: Api) -> None:
    await api.load(graph())
    q = "query($key: String!) { supplier(key: $key) { key name } }"
    hidden = await api.query(q, {"key": "sup.hidden"}, nation="GBR")
    missing = await api.query(q, {"key": "sup.missing"}, nation="GBR")
    assert hidden.body == missing.body
    assert hidden.status == missing.status
    assert hidden.data == {"supplier": None}
    q = "query($key: String!) { capability(key: $key) { key name } }"
    hidden = await api.query(q, {"key": "cap.hidden"}, nation="GBR")
    missing = await api.query(q, {"key": "cap.missing"}, nation="GBR")
    assert hidden.body == missing.body
    assert hidden.data == {"capability": None}
    # The US caller, who may see it, finds it by the same key.
    assert (await by_key(api, "sup.hidden"))["supplier"] is not None


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ("", "id", "give exactly one of `id` and `key`"),
        ('(id: "x", key: "sup.open")', "key", "give exactly one of `id` and `key`"),
        ('(key: "not a key!")', "key", "is not a valid dibx key"),
    ],
)
async def test_lookup_needs_exactly_one_well_formed_id_or_key(
    api: Api, arguments: str, field: str, message: str
) -> None:
    await api.load(graph())
    reply = await api.query(f"{{ supplier{arguments} {{ key }} }}")
    assert reply.data == {"supplier": None}
    (error,) = reply.errors
    assert error["message"] == f"{field}: {message}"
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
