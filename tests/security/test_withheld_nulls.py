"""A withheld field reads the same whether or not it has a value.

Every field's marking is stored with the record, value or not. Were a null field stored
without its marking, it would be judged by the policy default instead of its own marking: a
caller could tell "no value" from "a value withheld from me" by the marking reported (or by
the field being released at all), which is itself a disclosure.
"""

from __future__ import annotations

import pytest

from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NOFORN = "CUI//NOFORN"
Q = "{ suppliers(first: 10) { nodes { key cage city } } }"


@pytest.mark.parametrize("nation", ["GBR", "JPN"])
async def test_a_withheld_null_reads_like_a_withheld_value(api: Api, nation: str) -> None:
    marked = {"cage": NOFORN, "city": NOFORN}
    await api.load(
        b.dataset(
            suppliers=[
                b.supplier("with", fields=marked, cage="1ABC2", city="Leeds"),
                b.supplier("without", fields=marked),  # no cage, no city: marked all the same
            ]
        )
    )
    reply = await api.query(Q, nation=nation)
    assert reply.errors == []
    assert reply.data["suppliers"]["nodes"] == [
        {"key": "with", "cage": None, "city": None},
        {"key": "without", "cage": None, "city": None},
    ]
    assert sorted(map(str, reply.releasability["withheld"])) == sorted(
        str({"path": f"suppliers.nodes.{i}.{name}", "marking": NOFORN})
        for i in (0, 1)
        for name in ("cage", "city")
    )


async def test_a_null_is_released_under_its_own_marking(api: Api) -> None:
    """PUBLIC and empty: a nation outside the CUI release groups reads a plain null."""
    await api.load(b.dataset(suppliers=[b.supplier("s", fields={"cage": "PUBLIC"})]))
    reply = await api.query(Q, nation="JPN")
    assert reply.data["suppliers"]["nodes"] == [{"key": "s", "cage": None, "city": None}]
    assert reply.releasability["withheld"] == []
