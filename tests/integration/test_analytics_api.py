"""Supply-chain analytics over GraphQL, on hand-built graphs in a real Neo4j.

Invariants:
* Every analytics root field needs `supply_chain:read`; without it the request is refused
  (403) before anything runs.
* An analysis sees only what its caller may see: for a GBR caller, changing or deleting data
  hidden from GBR (NOFORN suppliers, edges and capacities) leaves every response identical,
  while a USA caller, who sees that data, gets a different answer (so the test has teeth).
* Depth, node and time limits end in a LIMIT_EXCEEDED error that says which limit.
* A hidden root looks exactly like a missing one (null).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from dibx.graph.writes import clear_database
from dibx.schema.context import Context
from dibx.schema.ids import encode_id
from dibx.services.analytics import AnalyticsLimits
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NF = "CUI//NOFORN"
REL = "CUI//REL TO USA, GBR"


def sid(key: str) -> str:
    return encode_id("Supplier", key)


def cid(key: str) -> str:
    return encode_id("Capability", key)


SUPPLIER = "id key name nation marking"

GAP = """
query($c: ID!) { capabilityGap(capability: $c, depth: 3) {
  depth marking
  capability { tier providers totalCapacity capacityUnknown domesticProvider
    groupsWithoutProvider soleSource { key }
    byNation { nation providers capacity capacityUnknown }
    byAgreement { group providers capacity hasProvider } marking }
  inputs { capability { key name } tier requiredBy requires providers totalCapacity
    soleSource { key nation } groupsWithoutProvider marking }
  soleSourced { key } withoutProvider { key }
} }
"""

CHAIN = """
query($r: ID!, $depth: Int = 3, $max: Int) { supplyChain(root: $r, depth: $depth, maxNodes: $max) {
  depth nodeCount edgeCount marking
  root { key kind tier }
  nodes { id key kind name nation tier marking }
  edges { from to kind tier item share sole capacity marking }
} }
"""

SPOF = f"""
query($r: ID!, $t: ID) {{ singlePointsOfFailure(root: $r, target: $t) {{
  targetReachable nations inputs nodeCount depth marking
  suppliers {{ tier dominates supplier {{ {SUPPLIER} }} }}
  critical {{ dominates supplier {{ key }} }}
}} }}
"""

CONCENTRATION = """
query($c: ID!) { concentration(capability: $c) {
  providers providersCounted capacityUnknown totalCapacity capacityUnknownNation
  hhiByNation hhiBySupplier levelByNation levelBySupplier marking
  byNation { nation providers capacity capacityUnknown share }
  allied { group capacity share }
} }
"""

EXPOSURE = f"""
query($r: ID!) {{ exposure(root: $r) {{
  nationsOfConcern depth reached nearestTier maxShare pathCount marking
  nations {{ nation paths nearestTier maxShare }}
  paths {{ tier nation via share ownerChain marking suppliers {{ key }} owner {{ {SUPPLIER} }} }}
}} }}
"""

DISRUPTION = """
query($n: [String!], $s: [ID!]) { disruption(removeNations: $n, removeSuppliers: $s) {
  removedNations marking removedSuppliers { key }
  capabilities { capability { key } providersBefore providersAfter capacityBefore
    capacityAfter capacityLost capacityLostShare capacityUnknownRemoved lostEveryProvider
    alliedAlternatives { supplier { key nation } capacity } marking }
  lost { key }
  impaired { capability { key } lostInputs tier marking }
} }
"""

SUBSTITUTES = """
query($r: ID!) { substitutes(root: $r) {
  assumption marking
  groups { capability { key } marking
    candidates { rank capacity spareCapacity trl marking supplier { key nation } } }
} }
"""

TRADE = """
query($c: ID!, $d: String!) { tradePathway(capability: $c, destination: $d) {
  destination outcome exemption reasons undetermined advisory notice marking
  reliedOn { name value marking }
  capability { key }
} }
"""


def world(changed: bool = False) -> b.Dataset:
    """A small defense supply web. `changed` alters only what is hidden from GBR."""
    suppliers = [
        b.supplier("us1", "USA"),
        b.supplier("gb1", "GBR"),
        b.supplier("us2", "USA", record=REL),
        b.supplier("au1", "AUS"),
        b.supplier("jp1", "JPN"),
        b.supplier("cn1", "CHN"),
        b.supplier("ru1", "RUS"),
        b.supplier("de1", "DEU"),
    ]
    provides = [
        # us1's capacity is NOFORN: GBR knows us1 makes motors, not how many.
        b.provides("us1", "motor", capacity=500.0 if changed else 100.0, fields={"capacity": NF}),
        b.provides("gb1", "motor", capacity=50.0),
        b.provides("us2", "ap", capacity=80.0, record=REL),
        b.provides("au1", "case", capacity=30.0),
        b.provides("jp1", "case", capacity=60.0 if changed else 20.0, fields={"capacity": NF}),
        b.provides("cn1", "chem", capacity=40.0),
    ]
    sources = [
        b.sources("us1", "us2", share=0.6),
        b.sources("us1", "au1", share=0.4),
        b.sources("us2", "cn1", share=0.5, record=REL),
        b.sources("au1", "de1", share=1.0),
        b.sources("gb1", "us2", share=1.0, sole=True),
    ]
    if not changed:
        # A NOFORN alternative source: it exists for USA callers only.
        suppliers.append(b.supplier("h1", "USA", record=NF))
        provides.append(b.provides("h1", "ap", capacity=999.0, record=NF))
        sources += [
            b.sources("us1", "h1", share=0.3, record=NF),
            b.sources("gb1", "h1", share=0.5, record=NF),
            b.sources("h1", "cn1", share=1.0, record=NF),
        ]
    else:
        # A NOFORN Chinese supplier appears, with NOFORN links and offers.
        suppliers.append(b.supplier("h3", "CHN", record=NF))
        provides.append(b.provides("h3", "case", capacity=70.0, record=NF))
        sources.append(b.sources("au1", "h3", share=0.9, record=NF))
        sources.append(b.sources("us2", "de1", share=0.2, record=NF))
    return b.dataset(
        suppliers=suppliers,
        capabilities=[
            # Whether the motor is significant military equipment is NOFORN.
            b.capability("motor", sme=changed, fields={"sme": NF}),
            b.capability("ap"),
            b.capability("case"),
            b.capability("chem"),
        ],
        requires=[
            b.requires("motor", "ap"),
            b.requires("motor", "case"),
            b.requires("ap", "chem"),
        ],
        provides=provides,
        sources_from=sources,
        subsidiaries=[b.owns("au1", "ru1", 0.7)],
    )


CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("capabilityGap", GAP, {"c": cid("motor")}),
    ("supplyChain", CHAIN, {"r": sid("us1")}),
    ("singlePointsOfFailure", SPOF, {"r": sid("gb1")}),
    ("concentration", CONCENTRATION, {"c": cid("motor")}),
    ("exposure", EXPOSURE, {"r": sid("us1")}),
    ("disruption", DISRUPTION, {"n": ["CHN"], "s": []}),
    ("substitutes", SUBSTITUTES, {"r": cid("case")}),
    ("tradePathway", TRADE, {"c": cid("motor"), "d": "GBR"}),
]


async def reload(api: Api, dataset: b.Dataset) -> None:
    await clear_database(api.graph)
    await api.load(dataset)


async def ok(api: Api, doc: str, variables: dict[str, Any], nation: str = "GBR") -> dict[str, Any]:
    reply = await api.query(doc, variables, nation=nation)
    assert reply.status == 200, reply.body
    assert reply.errors == [], reply.errors
    return reply.body


# -- noninterference ----------------------------------------------------------------------


async def test_hidden_data_never_changes_a_gbr_answer_but_changes_a_usa_one(api: Api) -> None:
    answers: dict[tuple[bool, str, str], dict[str, Any]] = {}
    for changed in (False, True):
        await reload(api, world(changed))
        for name, doc, variables in CASES:
            for nation in ("GBR", "USA"):
                answers[changed, name, nation] = await ok(api, doc, variables, nation)
    for name, _, _ in CASES:
        assert answers[False, name, "GBR"] == answers[True, name, "GBR"], name
        assert answers[False, name, "USA"] != answers[True, name, "USA"], name


# -- each analysis, as GBR sees it ---------------------------------------------------------


async def test_capability_gap_for_gbr(api: Api) -> None:
    await api.load(world())
    body = await ok(api, GAP, {"c": cid("motor")})
    report = body["data"]["capabilityGap"]
    motor = report["capability"]
    assert motor["providers"] == 2
    assert motor["totalCapacity"] == 50.0  # us1's capacity is NOFORN: unknown, not counted
    assert motor["capacityUnknown"] == 1
    assert motor["domesticProvider"] is True
    assert "SOSA" in motor["groupsWithoutProvider"]
    inputs = {i["capability"]["key"]: i for i in report["inputs"]}
    assert set(inputs) == {"ap", "case", "chem"}
    assert inputs["ap"]["soleSource"] == {"key": "us2", "nation": "USA"}  # h1 is hidden
    assert inputs["chem"]["tier"] == 2
    assert inputs["chem"]["requiredBy"] == ["ap"]
    assert [c["key"] for c in report["soleSourced"]] == ["ap", "chem"]
    assert inputs["ap"]["marking"] == REL  # it rests on us2's REL TO record and offer
    assert body["extensions"]["releasability"]["banner"] == REL
    usa = (await ok(api, GAP, {"c": cid("motor")}, "USA"))["data"]["capabilityGap"]
    assert usa["capability"]["totalCapacity"] == 150.0
    assert [c["key"] for c in usa["soleSourced"]] == ["chem"]


async def test_supply_chain_is_a_drawable_tree(api: Api) -> None:
    await api.load(world())
    await ok(api, CHAIN, {"r": sid("us1")})  # warm the membership caches: not per request
    before = api.graph.stats.total
    body = await ok(api, CHAIN, {"r": sid("us1")})
    assert api.graph.stats.total - before <= 1 + 3  # root, then one query per tier
    chain = body["data"]["supplyChain"]
    tiers = {n["key"]: n["tier"] for n in chain["nodes"]}
    assert tiers == {"us1": 0, "us2": 1, "au1": 1, "cn1": 2, "de1": 2}
    edges = {(e["from"], e["to"]): e for e in chain["edges"]}
    assert edges[sid("us1"), sid("us2")]["share"] == 0.6
    assert edges[sid("us2"), sid("cn1")]["tier"] == 2
    assert chain["nodeCount"] == 5
    assert chain["marking"] == REL

    by_cap = (await ok(api, CHAIN, {"r": cid("motor"), "depth": 1}))["data"]["supplyChain"]
    assert by_cap["root"] == {"key": "motor", "kind": "CAPABILITY", "tier": 0}
    provides = [e for e in by_cap["edges"] if e["kind"] == "PROVIDES"]
    assert {e["to"] for e in provides} == {sid("us1"), sid("gb1")}
    # gb1's share of released capacity is 50/50: us1's capacity is withheld from GBR.
    assert {e["to"]: e["share"] for e in provides} == {sid("us1"): None, sid("gb1"): 1.0}


async def test_single_points_of_failure_are_dominators(api: Api) -> None:
    await api.load(world())
    gbr = (await ok(api, SPOF, {"r": sid("gb1")}))["data"]["singlePointsOfFailure"]
    assert [p["supplier"]["key"] for p in gbr["suppliers"]] == ["us2", "cn1"]
    assert gbr["nations"] == ["CHN", "USA"]
    usa = (await ok(api, SPOF, {"r": sid("gb1")}, "USA"))["data"]["singlePointsOfFailure"]
    # USA also sees h1 as a second way to cn1: us2 is no longer on every path.
    assert [p["supplier"]["key"] for p in usa["suppliers"]] == ["cn1"]
    # With a target: nothing but the target's own chain, and the diamond under us1 has none.
    to_de1 = await ok(api, SPOF, {"r": sid("us1"), "t": sid("de1")})
    assert [p["supplier"]["key"] for p in to_de1["data"]["singlePointsOfFailure"]["suppliers"]] == [
        "au1"
    ]
    by_motor = await ok(api, SPOF, {"r": cid("motor")})
    assert by_motor["data"]["singlePointsOfFailure"]["suppliers"] == []


async def test_concentration_counts_only_released_capacity(api: Api) -> None:
    await api.load(world())
    gbr = (await ok(api, CONCENTRATION, {"c": cid("case")}))["data"]["concentration"]
    assert gbr["totalCapacity"] == 30.0  # jp1's capacity is NOFORN
    assert gbr["hhiBySupplier"] == 10_000.0
    usa = (await ok(api, CONCENTRATION, {"c": cid("case")}, "USA"))["data"]["concentration"]
    # 30 (AUS) and 20 (JPN): 0.6^2 + 0.4^2 = 0.52.
    assert usa["hhiBySupplier"] == pytest.approx(5200.0)
    assert usa["hhiByNation"] == pytest.approx(5200.0)
    shares = {a["group"]: a["share"] for a in usa["allied"]}
    assert shares["AUKUS"] == pytest.approx(0.6)
    assert shares["RDP_MOU"] == pytest.approx(1.0)


async def test_exposure_through_location_and_ownership(api: Api) -> None:
    await api.load(world())
    r = (await ok(api, EXPOSURE, {"r": sid("us1")}))["data"]["exposure"]
    assert r["reached"] is True
    assert r["nearestTier"] == 1
    paths = [
        (p["via"], p["nation"], [s["key"] for s in p["suppliers"]], p["share"]) for p in r["paths"]
    ]
    assert paths == [
        ("OWNERSHIP", "RUS", ["us1", "au1"], 0.4),
        ("BASED_IN", "CHN", ["us1", "us2", "cn1"], pytest.approx(0.3)),
    ]
    assert r["paths"][0]["owner"]["key"] == "ru1"
    usa = (await ok(api, EXPOSURE, {"r": sid("us1")}, "USA"))["data"]["exposure"]
    assert usa["pathCount"] == 3  # plus us1 -> h1 -> cn1


async def test_disruption_of_a_nation(api: Api) -> None:
    await api.load(world())
    r = (await ok(api, DISRUPTION, {"n": ["CHN"]}))["data"]["disruption"]
    assert [c["key"] for c in r["lost"]] == ["chem"]
    assert [(i["capability"]["key"], i["tier"]) for i in r["impaired"]] == [("ap", 1), ("motor", 2)]
    by_supplier = await ok(api, DISRUPTION, {"s": [sid("gb1")]})
    (motor,) = by_supplier["data"]["disruption"]["capabilities"]
    assert motor["providersAfter"] == 1
    assert motor["capacityLost"] == 50.0
    assert motor["alliedAlternatives"] == [
        {"supplier": {"key": "us1", "nation": "USA"}, "capacity": None}
    ]


async def test_substitutes_for_a_supplier(api: Api) -> None:
    await api.load(world())
    r = (await ok(api, SUBSTITUTES, {"r": sid("au1")}, "USA"))["data"]["substitutes"]
    (group,) = r["groups"]
    assert group["capability"]["key"] == "case"
    assert [c["supplier"]["key"] for c in group["candidates"]] == ["jp1"]
    assert group["candidates"][0]["spareCapacity"] == pytest.approx(4.0)
    assert "assumed utilisation" in r["assumption"]


async def test_trade_pathway_is_undetermined_when_an_attribute_is_withheld(api: Api) -> None:
    await api.load(world())
    gbr = (await ok(api, TRADE, {"c": cid("motor"), "d": "AUS"}))["data"]["tradePathway"]
    assert gbr["outcome"] == "UNDETERMINED"
    assert gbr["undetermined"] == ["sme"]
    assert "sme is withheld from you (CUI//NOFORN)" in gbr["reasons"][0]
    assert gbr["advisory"] is True
    usa = (await ok(api, TRADE, {"c": cid("motor"), "d": "AUS"}, "USA"))["data"]["tradePathway"]
    assert usa["outcome"] == "EXEMPTION_MAY_APPLY"
    assert usa["exemption"] == "ITAR 126.7 (AUKUS)"
    assert {a["name"] for a in usa["reliedOn"]} == {"jurisdiction", "etl", "sme", "classified"}


# -- hidden roots, scope, limits --------------------------------------------------------------


async def test_hidden_root_looks_like_a_missing_one(api: Api) -> None:
    await api.load(world())
    hidden = await ok(api, CHAIN, {"r": sid("h1")})
    missing = await ok(api, CHAIN, {"r": sid("nope")})
    assert hidden["data"] == missing["data"] == {"supplyChain": None}
    assert (await ok(api, CHAIN, {"r": sid("h1")}, "USA"))["data"]["supplyChain"] is not None


@pytest.mark.parametrize(("name", "doc", "variables"), CASES, ids=[c[0] for c in CASES])
async def test_analytics_need_the_supply_chain_scope(
    api: Api, name: str, doc: str, variables: dict[str, Any]
) -> None:
    reply = await api.query(doc, variables, scopes=("supplier:read",))
    assert reply.status == 403
    assert reply.errors[0]["extensions"] == {
        "code": "INSUFFICIENT_SCOPE",
        "scope": "supply_chain:read",
    }
    assert name in reply.errors[0]["message"]


@pytest.mark.parametrize(
    ("variables", "needle", "named"),
    [
        (
            {"r": sid("us1"), "depth": 9},
            "depth: must be at most 8",
            {"limit": "analyticsDepth", "maximum": 8, "measured": 9},
        ),
        (
            {"r": sid("us1"), "max": 3},
            "more than 3 nodes",
            {"limit": "analyticsNodes", "maximum": 3},
        ),
        (
            {"r": sid("us1"), "max": 50_000},
            "maxNodes: must be at most 5000",
            {"limit": "analyticsNodes", "maximum": 5000, "measured": 50_000},
        ),
    ],
)
async def test_limits_are_clear_errors(
    api: Api, variables: dict[str, Any], needle: str, named: dict[str, Any]
) -> None:
    await api.load(world())
    reply = await api.query(CHAIN, variables)
    assert reply.errors, reply.body
    assert needle in reply.errors[0]["message"]
    extensions = reply.errors[0]["extensions"]
    assert extensions["code"] == "LIMIT_EXCEEDED"
    # Which limit, its value and (where counted) what the request came to, as for a document.
    assert {k: extensions.get(k) for k in named} == named


async def test_node_limit_counts_only_visible_nodes(api: Api) -> None:
    await api.load(world())
    # us1 has 5 visible nodes for GBR (6 for USA, with h1): a cap of 5 passes for GBR only.
    assert (await ok(api, CHAIN, {"r": sid("us1"), "max": 5}))["data"]["supplyChain"]
    usa = await api.query(CHAIN, {"r": sid("us1"), "max": 5}, nation="USA")
    assert usa.errors[0]["extensions"]["code"] == "LIMIT_EXCEEDED"


async def test_time_limit_is_a_clear_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    await api.load(world())
    view = next(r.endpoint for r in api.app.routes if getattr(r, "path", None) == "/graphql")
    original: Callable[..., Awaitable[Context]] = view.get_context

    async def tight(request: Any, response: Any) -> Context:
        context = await original(request, response)
        context.analytics = AnalyticsLimits(time_limit_s=1e-6)
        return context

    monkeypatch.setattr(view, "get_context", tight)
    reply = await api.query(EXPOSURE, {"r": sid("us1")})
    assert reply.errors[0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert "took longer than" in reply.errors[0]["message"]
    assert reply.errors[0]["extensions"]["limit"] == "analyticsSeconds"
    monkeypatch.undo()
    # The driver and its pool survive the cancelled transaction.
    assert (await ok(api, EXPOSURE, {"r": sid("us1")}))["data"]["exposure"]["reached"]
