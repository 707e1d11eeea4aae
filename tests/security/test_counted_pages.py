"""totalCount beside a page counts only what the caller may see, whatever the page holds.

A relation's first page and its totalCount are read in one pass over the links, and a filtered
root count reads the agreement's member nations once for all candidates: these tests pin that
neither counts a withheld record, edge or membership, for a page smaller than the total, a page
read backwards, an empty page (`first: 0`), and a withheld link that sorts before the page.
"""

from __future__ import annotations

import pytest

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NOFORN = "CUI//NOFORN"  # released to USA only


def graph() -> b.Dataset:
    return b.dataset(
        suppliers=[
            # "a-hidden" sorts first by key: a withheld provider ahead of every visible one
            b.supplier("a-hidden", "USA", record=NOFORN),
            b.supplier("b-open", "USA"),
            b.supplier("c-open", "GBR"),
            b.supplier("d-edge-hidden", "GBR"),
            b.supplier("e-based-hidden", "AUS", based_in=NOFORN),
            b.supplier("f-jpn", "JPN"),
            b.supplier("g-kor", "KOR"),
            b.supplier("h-chn", "CHN"),
        ],
        capabilities=[b.capability("cap")],
        provides=[
            b.provides("a-hidden", "cap"),
            b.provides("b-open", "cap"),
            b.provides("c-open", "cap"),
            b.provides("d-edge-hidden", "cap", record=NOFORN),  # hidden edge, visible ends
            b.provides("e-based-hidden", "cap"),
            b.provides("f-jpn", "cap"),
            b.provides("g-kor", "cap"),
            b.provides("h-chn", "cap"),
        ],
        memberships=[
            # JPN in FVEY is known to USA only; KOR's membership date is withheld from GBR
            b.membership("JPN", "FVEY", record=NOFORN),
            b.membership("KOR", "FVEY", fields={"since": NOFORN}),
        ],
    )


PROVIDERS = """query($id: ID!, $first: Int, $last: Int) { capability(id: $id) {
  providers(first: $first, last: $last) { totalCount nodes { key } } } }"""

CAP = encode_id("Capability", "cap")
GBR_VISIBLE = ["b-open", "c-open", "e-based-hidden", "f-jpn", "g-kor", "h-chn"]
USA_VISIBLE = ["a-hidden", "b-open", "c-open", "d-edge-hidden", *GBR_VISIBLE[2:]]


@pytest.mark.parametrize(
    ("page", "keys"),
    [
        ({"first": 2}, GBR_VISIBLE[:2]),
        ({"first": 50}, GBR_VISIBLE),
        ({"first": 0}, []),
        ({"last": 2}, GBR_VISIBLE[-2:]),
    ],
)
async def test_provider_total_counts_only_released_links(
    api: Api, page: dict[str, int], keys: list[str]
) -> None:
    await api.load(graph())
    gbr = await api.query(PROVIDERS, {"id": CAP, **page}, nation="GBR")
    providers = gbr.data["capability"]["providers"]
    assert providers["totalCount"] == len(GBR_VISIBLE)
    assert [n["key"] for n in providers["nodes"]] == keys
    usa = await api.query(PROVIDERS, {"id": CAP, **page}, nation="USA")
    assert usa.data["capability"]["providers"]["totalCount"] == len(USA_VISIBLE)


async def test_filtered_count_counts_only_released_memberships(api: Api) -> None:
    await api.load(graph())
    q = """query($c: ID!, $first: Int!) { suppliers(first: $first,
             filter: {agreement: "FVEY", capability: $c}) { totalCount nodes { key } } }"""
    gbr = await api.query(q, {"c": CAP, "first": 0}, nation="GBR")
    # GBR: no hidden supplier, hidden PROVIDES, hidden BASED_IN, NOFORN membership (JPN),
    # or membership with a withheld date (KOR); CHN is no member
    assert gbr.data["suppliers"] == {"totalCount": 2, "nodes": []}
    page = await api.query(q, {"c": CAP, "first": 10}, nation="GBR")
    assert page.data["suppliers"]["nodes"] == [{"key": "b-open"}, {"key": "c-open"}]
    usa = await api.query(q, {"c": CAP, "first": 0}, nation="USA")
    assert usa.data["suppliers"]["totalCount"] == 7  # all but the CHN supplier
