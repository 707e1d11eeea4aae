"""Memberships are read paths too: every use of MEMBER_OF honours its markings.

Invariants:
* A membership edge hidden from the caller is absent everywhere: agreement members, the
  supplier filter by agreement, agreement groups in analytics, and the REL TO expansion of
  the banner. A caller who may see it (USA) still gets it.
* A membership whose `since` or `until` is withheld holds on no date for that caller (fail
  closed: a withheld open end must not read as "still a member"), so no `asOf` query, however
  many, answers differently when the withheld date changes (a bisection learns nothing).
* The caller's own groups come from the raw memberships: marking GBR's own membership does not
  change what GBR may see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dibx.graph.driver import Graph
from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NF = "CUI//NOFORN"

# JPN is no member of AUKUS: the fixture adds one the tests can mark.
FILTER = '{ suppliers(filter: {agreement: "AUKUS"}) { totalCount nodes { key } } }'
GAP = """
query($c: ID!) { capabilityGap(capability: $c, depth: 0) {
  capability { byAgreement { group providers capacity hasProvider } groupsWithoutProvider }
} }
"""
CONCENTRATION = "query($c: ID!) { concentration(capability: $c) { allied { group capacity } } }"
MEMBERS = '{ agreement(code: "AUKUS") { members { nodes { code } } } }'
# Dates either side of the withheld ones below (2012-06-15, 2019-03-01, 2030-01-01).
DATES = [
    date(2008, 1, 1),
    date(2012, 6, 14),
    date(2012, 6, 15),
    date(2016, 1, 1),
    date(2019, 2, 28),
    date(2019, 3, 1),
    date(2029, 12, 31),
    date(2030, 1, 1),
    date(2031, 1, 1),
]


def as_of_queries(on: date) -> list[str]:
    return [
        f'{{ agreement(code: "AUKUS") {{ members(asOf: "{on}") {{ totalCount '
        "nodes { code } } } }",
        f'{{ nation(code: "JPN") {{ agreements(asOf: "{on}") {{ totalCount '
        "nodes { code } } } }",
        f'{{ suppliers(filter: {{agreement: "AUKUS", asOf: "{on}"}}) {{ totalCount '
        "nodes { key } } }",
    ]


def world(jpn_aukus: Any) -> Dataset:
    """A JPN and a GBR supplier of one capability, and JPN's AUKUS membership as given."""
    return b.dataset(
        suppliers=[b.supplier("jp1", "JPN"), b.supplier("gb1", "GBR")],
        capabilities=[b.capability("cap")],
        provides=[b.provides("jp1", "cap", capacity=60.0), b.provides("gb1", "cap", capacity=40.0)],
        memberships=[jpn_aukus],
    )


@pytest_asyncio.fixture(loop_scope="session")
async def api(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    """The app with a generous analytics time limit: these tests are about what an answer
    holds, not how fast it comes (the first analytics query of a session can be slow)."""
    client = Api(graph, tmp_path, {"DIBX_ANALYTICS_TIME_LIMIT": "120"})
    yield client
    await client.close()


async def ok(api: Api, document: str, nation: str, **variables: Any) -> dict[str, Any]:
    reply = await api.query(document, variables, nation=nation)
    assert reply.status == 200, reply.body
    assert reply.errors == [], reply.errors
    return reply.body


def aukus(body: dict[str, Any], root: str) -> dict[str, Any]:
    rows = body["data"][root]
    groups = rows["capability"]["byAgreement"] if root == "capabilityGap" else rows["allied"]
    return next(g for g in groups if g["group"] == "AUKUS")


async def test_hidden_membership_is_absent_from_filters_and_analytics(api: Api) -> None:
    await api.load(world(b.membership("JPN", "AUKUS", record=NF)))
    cap = encode_id("Capability", "cap")

    gbr = await ok(api, FILTER, "GBR")
    assert gbr["data"]["suppliers"] == {"totalCount": 1, "nodes": [{"key": "gb1"}]}
    usa = await ok(api, FILTER, "USA")
    assert usa["data"]["suppliers"]["totalCount"] == 2

    gap_gbr = aukus(await ok(api, GAP, "GBR", c=cap), "capabilityGap")
    assert gap_gbr == {"group": "AUKUS", "providers": 1, "capacity": 40.0, "hasProvider": True}
    gap_usa = aukus(await ok(api, GAP, "USA", c=cap), "capabilityGap")
    assert gap_usa["providers"] == 2

    conc_gbr = aukus(await ok(api, CONCENTRATION, "GBR", c=cap), "concentration")
    assert conc_gbr["capacity"] == 40.0
    assert aukus(await ok(api, CONCENTRATION, "USA", c=cap), "concentration")["capacity"] == 100.0

    members = (await ok(api, MEMBERS, "GBR"))["data"]["agreement"]["members"]["nodes"]
    assert {"code": "JPN"} not in members


async def test_hidden_membership_does_not_shape_the_banner(api: Api) -> None:
    """REL TO USA, AUKUS meets REL TO USA, GBR, JPN at JPN only if JPN is in AUKUS: a banner
    that kept JPN would tell GBR about the NOFORN membership."""
    await api.load(
        b.dataset(
            suppliers=[
                b.supplier("a", record="CUI//REL TO USA, AUKUS"),
                b.supplier("b", record="CUI//REL TO USA, GBR, JPN"),
            ],
            memberships=[b.membership("JPN", "AUKUS", record=NF)],
        )
    )
    document = "{ suppliers { nodes { key } } }"
    gbr = await ok(api, document, "GBR")
    assert len(gbr["data"]["suppliers"]["nodes"]) == 2
    assert gbr["extensions"]["releasability"]["banner"] == "CUI//REL TO USA, GBR"
    usa = await ok(api, document, "USA")
    assert usa["extensions"]["releasability"]["banner"] == "CUI//REL TO USA, GBR, JPN"


async def answers(api: Api, data: Dataset, nation: str) -> list[dict[str, Any]]:
    await clear_database(api.graph)
    await api.load(data)
    return [await ok(api, q, nation) for on in DATES for q in as_of_queries(on)]


@pytest.mark.parametrize(
    ("original", "changed"),
    [
        pytest.param(
            b.membership("JPN", "AUKUS", since=date(2012, 6, 15), fields={"since": NF}),
            b.membership("JPN", "AUKUS", since=date(2019, 3, 1), fields={"since": NF}),
            id="since",
        ),
        pytest.param(
            b.membership("JPN", "AUKUS", since=date(2012, 6, 15), fields={"until": NF}),
            b.membership(
                "JPN",
                "AUKUS",
                since=date(2012, 6, 15),
                until=date(2030, 1, 1),
                fields={"until": NF},
            ),
            id="until-open-or-dated",
        ),
        pytest.param(
            b.membership("JPN", "AUKUS", since=date(2012, 6, 15), record=NF),
            b.membership("JPN", "AUKUS", since=date(2019, 3, 1), record=NF),
            id="edge",
        ),
    ],
)
async def test_as_of_queries_learn_nothing_of_a_withheld_date(
    api: Api, original: Any, changed: Any
) -> None:
    """Every asOf answer GBR gets is the same whatever the withheld value, so a bisection over
    dates recovers nothing; USA, who may read it, gets different answers (the test has teeth)."""
    gbr = await answers(api, world(original), "GBR")
    assert gbr == await answers(api, world(changed), "GBR")
    # Fail closed: JPN is not shown as a member on any date.
    assert all("JPN" not in str(body["data"]) for body in gbr[::3])
    assert all("AUKUS" not in str(body["data"]) for body in gbr[1::3])
    assert all("jp1" not in str(body["data"]) for body in gbr[2::3])
    usa = await answers(api, world(original), "USA")
    assert usa != await answers(api, world(changed), "USA")


async def test_a_callers_own_groups_do_not_depend_on_the_marking_of_its_membership(
    api: Api,
) -> None:
    """GBR's access rests on GBR's real memberships, whatever marks the membership record."""
    own = b.membership("GBR", "AUKUS", record=NF, fields={"since": NF})
    data = b.dataset(suppliers=[b.supplier("k", record="CUI//REL TO USA, AUKUS")])
    memberships = data.edges_of("MEMBER_OF")
    data = data.replaced(
        edges={
            "MEMBER_OF": [m for m in memberships if (m.start, m.end) != ("GBR", "AUKUS")] + [own]
        }
    )
    await api.load(data)
    body = await ok(api, "{ viewer { groups } suppliers { nodes { key } } }", "GBR")
    assert "AUKUS" in body["data"]["viewer"]["groups"]
    assert body["data"]["suppliers"]["nodes"] == [{"key": "k"}]
