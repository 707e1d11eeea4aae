"""Every dissemination control against every kind of caller, through the real API and Neo4j.

Invariants (the releasability promise, as a table):
- A record whose marking does not release to the caller is absent: from lists, totalCount,
  and lookups by id (which answer exactly like a missing id).
- A field whose marking does not release to the caller is null, and `extensions` says so.
- Groups come from memberships as of the request date (FVEY, NATO, AUKUS... from the graph),
  plus the policy's CUI release determination (FVEY) and the attributes it honours.

The expectations are written out by hand from 32 CFR 2002 / CAPCO rules, not computed with
the algebra under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dibx.graph.driver import Graph
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

FVEY = {"USA", "GBR", "AUS", "CAN", "NZL"}
CALLERS = ("USA", "GBR", "AUS", "CAN", "NZL", "JPN", "KOR", "POL", "BRA")

# marking -> nations whose callers (no attributes) may see it, with the test memberships.
EXPECTED: dict[str, set[str]] = {
    "PUBLIC": set(CALLERS),
    "CUI": FVEY,  # basic CUI: USA, plus the policy's release determination for FVEY
    "CUI//NOFORN": {"USA"},
    "CUI//REL TO USA, GBR": {"USA", "GBR"},
    "CUI//REL TO USA, FVEY": FVEY,
    "CUI//REL TO USA, ACGU": {"USA", "GBR", "AUS", "CAN"},
    "CUI//REL TO USA, AUKUS": {"USA", "GBR", "AUS"},
    "CUI//REL TO USA, NATO": {"USA", "GBR", "CAN", "POL"},
    "CUI//REL TO USA, JPN, KOR": {"USA", "JPN", "KOR"},
    "CUI//SP-EXPT//REL TO USA, GBR": {"USA"},  # GBR needs an export authorization
    "CUI//SP-EXPT//NOFORN": {"USA"},
    "CUI//FED ONLY": set(),  # needs the FED attribute, even for USA callers
    "CUI//DISPLAY ONLY USA, JPN": {"USA"},  # an API response is a copy: display-only denies
    "CUI//PROPIN//REL TO USA, NATO": {"USA", "GBR", "CAN", "POL"},
}
KEYS = {marking: f"m{i:02d}" for i, marking in enumerate(EXPECTED)}


def matrix_graph() -> b.Dataset:
    return b.dataset(
        suppliers=[b.supplier(KEYS[m], "USA", record=m) for m in EXPECTED]
        + [
            b.supplier(
                "fields",
                "USA",
                fields={"name": "PUBLIC", "cage": "CUI//NOFORN", "city": "CUI//REL TO USA, GBR"},
                cage="1ABC5",
                city="Tucson",
            )
        ]
    )


LIST = "{ suppliers(first: 100) { totalCount nodes { key } } }"


@pytest.mark.parametrize("nation", CALLERS)
async def test_record_visibility_per_nation(api: Api, nation: str) -> None:
    await api.load(matrix_graph())
    reply = await api.query(LIST, nation=nation)
    seen = {n["key"] for n in reply.data["suppliers"]["nodes"]} - {"fields"}
    expected = {KEYS[m] for m, nations in EXPECTED.items() if nation in nations}
    assert seen == expected
    assert reply.data["suppliers"]["totalCount"] == len(expected) + 1


@pytest.mark.parametrize("nation", CALLERS)
async def test_hidden_lookup_looks_like_missing(api: Api, nation: str) -> None:
    await api.load(matrix_graph())
    q = "query($id: ID!) { supplier(id: $id) { key name } }"
    missing = await api.query(q, {"id": encode_id("Supplier", "no-such-supplier")}, nation=nation)
    for marking, key in KEYS.items():
        reply = await api.query(q, {"id": encode_id("Supplier", key)}, nation=nation)
        if nation in EXPECTED[marking]:
            assert reply.data["supplier"]["key"] == key
        else:
            assert reply.body == missing.body, marking


async def test_attributes_the_policy_honours(api: Api) -> None:
    await api.load(matrix_graph())
    fed_only = KEYS["CUI//FED ONLY"]
    sp_expt = KEYS["CUI//SP-EXPT//REL TO USA, GBR"]

    async def keys(nation: str, attributes: tuple[str, ...]) -> set[str]:
        reply = await api.query(LIST, nation=nation, attributes=attributes)
        return {n["key"] for n in reply.data["suppliers"]["nodes"]}

    assert fed_only in await keys("USA", ("FED",))
    assert fed_only not in await keys("GBR", ("FED",))  # GBR callers cannot assert FED
    assert sp_expt in await keys("GBR", ("EXPORT_AUTH",))
    assert sp_expt not in await keys("JPN", ("EXPORT_AUTH",))  # not in REL TO, not honoured


@pytest.mark.parametrize(
    ("nation", "cage", "city"),
    [("USA", "1ABC5", "Tucson"), ("GBR", None, "Tucson"), ("AUS", None, None)],
)
async def test_field_withheld_is_null_and_said(
    api: Api, nation: str, cage: str | None, city: str | None
) -> None:
    await api.load(matrix_graph())
    reply = await api.query(
        "query($id: ID!) { s: supplier(id: $id) { name cage city } }",
        {"id": encode_id("Supplier", "fields")},
        nation=nation,
    )
    assert reply.data["s"] == {"name": "Supplier fields", "cage": cage, "city": city}
    withheld = {w["path"]: w["marking"] for w in reply.releasability["withheld"]}
    expected = {}
    if cage is None:
        expected["s.cage"] = "CUI//NOFORN"
    if city is None:
        expected["s.city"] = "CUI//REL TO USA, GBR"
    assert withheld == expected


async def test_membership_dates_change_what_a_nation_sees(api: Api) -> None:
    """NZL joined the NTIB in 2023: the same stored marking releases to NZL only from then."""
    await api.load(b.dataset(suppliers=[b.supplier("ntib", record="CUI//REL TO USA, NTIB")]))
    await api.graph.write(
        "MATCH (:Nation {code: 'NZL'})-[m:MEMBER_OF]->(:Agreement {code: 'NTIB'}) "
        "SET m.since = date('2099-01-01')"
    )
    api.runtime.memberships.invalidate()
    before = await api.query(LIST, nation="NZL")
    assert before.data["suppliers"]["nodes"] == []
    await api.graph.write(
        "MATCH (:Nation {code: 'NZL'})-[m:MEMBER_OF]->(:Agreement {code: 'NTIB'}) "
        "SET m.since = date('2023-01-01')"
    )
    api.runtime.memberships.invalidate()
    after = await api.query(LIST, nation="NZL")
    assert after.data["suppliers"]["nodes"] == [{"key": "ntib"}]


async def test_corrupt_or_missing_release_data_fails_closed(api: Api) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("ok"), b.supplier("bad"), b.supplier("none")]))
    await api.graph.write("MATCH (s:Supplier {id: 'bad'}) SET s.release = ['GARBAGE|@@']")
    # No stored marking: the policy default (CUI) applies, which releases to FVEY only.
    await api.graph.write("MATCH (s:Supplier {id: 'none'}) REMOVE s.release, s.marking")
    usa = await api.query(LIST, nation="USA")
    assert {n["key"] for n in usa.data["suppliers"]["nodes"]} == {"ok", "none"}
    jpn = await api.query(LIST, nation="JPN")
    assert {n["key"] for n in jpn.data["suppliers"]["nodes"]} == {"ok"}


async def test_unknown_tetragraph_releases_to_nobody_but_usa(api: Api) -> None:
    await api.load(b.dataset(suppliers=[b.supplier("x")]))
    await api.graph.write(
        "MATCH (s:Supplier {id: 'x'}) "
        "SET s.release = ['USA|ZZZZ'], s.marking = 'CUI//REL TO USA, ZZZZ'"
    )
    for nation in ("GBR", "AUS", "JPN"):
        reply = await api.query(LIST, nation=nation)
        assert reply.data["suppliers"]["nodes"] == [], nation
    assert (await api.query(LIST, nation="USA")).data["suppliers"]["totalCount"] == 1


BANNER_Q = "{ suppliers { nodes { key name city } } }"


def banner_graph() -> b.Dataset:
    return b.dataset(
        suppliers=[
            b.supplier(
                "b1",
                record="CUI//REL TO USA, FVEY",
                city="Bristol",
                fields={"name": "CUI//REL TO USA, GBR", "city": "CUI//NOFORN"},
            )
        ]
    )


@pytest.mark.parametrize(
    ("nation", "banner"),
    [("USA", "CUI//NOFORN"), ("GBR", "CUI//REL TO USA, GBR"), ("AUS", "CUI//REL TO USA, FVEY")],
)
async def test_banner_combines_what_was_released(api: Api, nation: str, banner: str) -> None:
    await api.load(banner_graph())
    reply = await api.query(BANNER_Q, nation=nation)
    assert reply.releasability["banner"] == banner


async def test_policy_can_conceal_a_withheld_marking(graph: Graph, tmp_path: Path) -> None:
    policy_file = tmp_path / "policy.toml"
    shipped = Api.shipped_policy().read_text()
    policy_file.write_text(shipped.replace("conceal = []", 'conceal = ["CUI//NOFORN"]'))
    concealing = Api(graph, tmp_path, {"DIBX_POLICY_FILE": str(policy_file)})
    try:
        await concealing.load(banner_graph())
        reply = await concealing.query(BANNER_Q, nation="GBR")
    finally:
        await concealing.close()
    assert reply.data["suppliers"]["nodes"] == [{"key": "b1", "name": "Supplier b1", "city": None}]
    assert reply.releasability["withheld"] == []  # city withheld silently
