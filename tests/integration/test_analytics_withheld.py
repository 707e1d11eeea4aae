"""Analytics say what they withheld, as the directory reads do.

Invariants:
* Every analytics result field that is null because a value was withheld from the caller is
  listed under `extensions.releasability.withheld` with its path (the caller's aliases) and
  the marking of the withheld value.
* A caller who may read everything (USA) gets the values and an empty withheld list.
* The policy's disclosure rule applies: a concealed marking is not listed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from dibx.graph.driver import Graph
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NF = "CUI//NOFORN"
ROOT, S2, S3 = (encode_id("Supplier", k) for k in ("root", "s2", "s3"))
CAP = encode_id("Capability", "cap")


def world() -> b.Dataset:
    """root sources from s1 (item, share and sole NOFORN) and s2, s1 from s3; s1 and s2
    provide `cap`.
    s1's name, its capacity and TRL, and the capability's name are NOFORN."""
    return b.dataset(
        suppliers=[
            b.supplier("root", "USA"),
            b.supplier("s1", "USA", fields={"name": NF}),
            b.supplier("s2", "GBR"),
            b.supplier("s3", "USA"),
        ],
        capabilities=[b.capability("cap", fields={"name": NF})],
        provides=[
            b.provides("s1", "cap", capacity=60.0, fields={"capacity": NF, "trl": NF}),
            b.provides("s2", "cap", capacity=40.0),
        ],
        sources_from=[
            b.sources(
                "root",
                "s1",
                share=1.0,
                sole=True,
                fields=dict.fromkeys(("item", "share", "sole"), NF),
            ),
            b.sources("root", "s2", share=0.5),
            b.sources("s1", "s3"),
        ],
    )


# (document, variables, withheld paths and markings GBR must be told about)
CASES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "query($r: ID!) { supplyChain(root: $r) { nodes { key name } "
        "edges { to item share sole } } }",
        {"r": ROOT},
        {
            "supplyChain.nodes.1.name": NF,  # nodes by tier, then key: root, s1, s2
            "supplyChain.edges.0.item": NF,
            "supplyChain.edges.0.share": NF,
            "supplyChain.edges.0.sole": NF,
        },
    ),
    (
        "query($r: ID!) { c: supplyChain(root: $r, depth: 1) { nodes { name } "
        "edges { to w: capacity share } } }",
        {"r": CAP},
        {
            "c.nodes.0.name": NF,
            "c.edges.0.w": NF,  # PROVIDES to s1: capacity withheld, so is its share
            "c.edges.0.share": NF,
            "c.nodes.1.name": NF,
        },
    ),
    (
        "query($c: ID!) { capabilityGap(capability: $c, depth: 0) { capability { "
        "capability { name } } } }",
        {"c": CAP},
        {"capabilityGap.capability.capability.name": NF},
    ),
    (
        "query($c: ID!) { concentration(capability: $c) { capability { name } } }",
        {"c": CAP},
        {"concentration.capability.name": NF},
    ),
    (
        "query($s: [ID!]) { disruption(removeSuppliers: $s) { capabilities { "
        "capability { name } alliedAlternatives { supplier { key name } capacity } } } }",
        {"s": [S2]},
        {
            "disruption.capabilities.0.capability.name": NF,
            "disruption.capabilities.0.alliedAlternatives.0.supplier.name": NF,
            "disruption.capabilities.0.alliedAlternatives.0.capacity": NF,
        },
    ),
    (
        "query($r: ID!) { substitutes(root: $r) { groups { capability { name } candidates { "
        "supplier { key name } capacity spareCapacity trl } } } }",
        {"r": CAP},
        {
            "substitutes.groups.0.capability.name": NF,
            # Ranked by spare capacity: s2 (known) first, s1 (withheld) last.
            "substitutes.groups.0.candidates.1.supplier.name": NF,
            "substitutes.groups.0.candidates.1.capacity": NF,
            "substitutes.groups.0.candidates.1.spareCapacity": NF,
            "substitutes.groups.0.candidates.1.trl": NF,
        },
    ),
    (
        "query($r: ID!, $t: ID) { singlePointsOfFailure(root: $r, target: $t) { "
        "suppliers { supplier { key name } } } }",
        {"r": ROOT, "t": S3},  # every path from root to s3 passes s1
        {"singlePointsOfFailure.suppliers.0.supplier.name": NF},
    ),
    (
        'query($c: ID!) { tradePathway(capability: $c, destination: "GBR") { '
        "capability { name } } }",
        {"c": CAP},
        {"tradePathway.capability.name": NF},
    ),
]


@pytest_asyncio.fixture(loop_scope="session")
async def api(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    """The app with a generous analytics time limit: these tests are about what an answer
    says, not how fast it comes (the first analytics query of a session can be slow)."""
    client = Api(graph, tmp_path, {"DIBX_ANALYTICS_TIME_LIMIT": "120"})
    yield client
    await client.close()


def withheld(body: dict[str, Any]) -> dict[str, str]:
    listed = body["extensions"]["releasability"]["withheld"]
    return {w["path"]: w["marking"] for w in listed}


def value_at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if part.isdigit() else data[part]
    return data


async def test_analytics_list_every_withheld_field(api: Api) -> None:
    await api.load(world())
    for document, variables, expected in CASES:
        gbr = await api.query(document, variables, nation="GBR")
        assert gbr.errors == [], gbr.errors
        assert withheld(gbr.body) == expected, document
        assert all(value_at(gbr.data, p) is None for p in expected), document
        usa = await api.query(document, variables, nation="USA")
        assert usa.errors == [], usa.errors
        assert withheld(usa.body) == {}, document
        assert all(value_at(usa.data, p) is not None for p in expected), document


async def test_a_concealed_marking_is_not_listed(api: Api, tmp_path: Path) -> None:
    policy = Api.shipped_policy().read_text()
    assert "\nconceal = []\n" in policy
    custom = tmp_path / "policy.toml"
    custom.write_text(policy.replace("\nconceal = []\n", '\nconceal = ["CUI//NOFORN"]\n'))
    concealing = Api(
        api.graph, tmp_path, {"DIBX_POLICY_FILE": str(custom), "DIBX_ANALYTICS_TIME_LIMIT": "120"}
    )
    try:
        await concealing.load(world())
        document, variables, _ = CASES[0]
        gbr = await concealing.query(document, variables, nation="GBR")
        assert gbr.errors == []
        assert gbr.data["supplyChain"]["edges"][0]["sole"] is None
        assert withheld(gbr.body) == {}
    finally:
        await concealing.close()
