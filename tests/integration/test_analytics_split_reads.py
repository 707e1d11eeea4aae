"""capabilityGap and disruption read their capabilities in parallel parts, and the gap looks
up a sole source only where the aggregate counted one provider.

The answers must be exactly what the former reads gave: this test keeps the former queries
(the gap's tier-by-tier summary walk with the first two offers of every capability, and the
impact read of every capability in one query) as the reference, and compares the gap reports
and the impact rows on random graphs (random REQUIRES DAGs, nations, capacities, hidden
records, edges and fields) for callers who see different parts of them, with the keys split
into different numbers of parts.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any, LiteralString

import pytest

from dibx.auth.release import ReleaseScope
from dibx.graph import supply
from dibx.graph.driver import Graph, compiled
from dibx.graph.records import Dataset
from dibx.graph.release import marking_in_force, visible
from dibx.services.analytics import gap
from tests.integration.test_offer_pass import scope
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NF = "CUI//NOFORN"
FVEY = "CUI//REL TO USA, FVEY"
NATIONS = ("USA", "GBR", "AUS", "CAN", "CHN", "RUS", "DEU", "JPN")
GROUPS = ("NATO", "AUKUS", "NTIB")

_LINKS = (
    "COLLECT { MATCH (cap)-[q:REQUIRES]->(k:Capability) "
    f"WHERE {visible('q', 'REQUIRES')} AND {visible('k', 'Capability')} "
    f"WITH q, k ORDER BY k.id RETURN [k.id, {marking_in_force('q', 'REQUIRES')}] }}"
)
# The former summary tier: every capability's first two offers by key, and its aggregate.
REFERENCE_SUMMARY = compiled(
    "UNWIND $frontier AS key MATCH (cap:Capability {id: key}) "
    f"WHERE {visible('cap', 'Capability')} "
    f"RETURN {supply._capability('cap')}, {_LINKS} AS links, "
    f"{supply._offers('cap', control=False, limit='2')} AS offers, "
    f"{supply._groups('cap')} AS groups"
)
# The former impact read: every capability in one query, ordered by key in Cypher.
REFERENCE_IMPACT = compiled(supply._IMPACT + " ORDER BY key")


def random_world(rng: random.Random) -> tuple[Dataset, list[str], list[str]]:
    """Capabilities in a random REQUIRES DAG, suppliers in random nations offering them,
    some records, edges and fields NOFORN or FVEY, capacities with ties and zeros, and
    some capabilities with exactly one provider."""
    suppliers = [f"s{i:02}" for i in range(rng.randint(6, 24))]
    caps = [f"c{i}" for i in range(rng.randint(3, 9))]

    def mark() -> str:
        return rng.choices((b.PUBLIC, NF, FVEY), (0.7, 0.2, 0.1))[0]

    records: list[Any] = [
        b.supplier(s, rng.choice(NATIONS), record=mark(), based_in=mark(), fields={"name": mark()})
        for s in suppliers
    ]
    records += [b.capability(c, record=mark(), fields={"name": mark()}) for c in caps]
    for i, c in enumerate(caps):
        for needs in rng.sample(caps[i + 1 :], min(len(caps) - i - 1, rng.randint(0, 3))):
            records.append(b.requires(c, needs, record=mark()))
    for c in caps:
        offering = rng.choice((1, 1, 2, rng.randint(0, len(suppliers))))
        for s in rng.sample(suppliers, offering):
            records.append(
                b.provides(
                    s,
                    c,
                    record=mark(),
                    capacity=float(rng.choice((0, 5, 10, 10, 20, 35))),
                    fields={"capacity": mark(), "trl": mark()},
                )
            )
    return b.dataset(records=records), suppliers, caps


async def reference_tree(
    graph: Graph, scope: ReleaseScope, root: str, depth: int, query: LiteralString
) -> supply.CapabilityTree:
    """The former walk: one summary query per tier."""
    tree = supply.CapabilityTree()
    frontier, tier = [root], 0
    while frontier:
        params = {**scope.cypher_params(), "frontier": frontier, "offer_limit": 5001}
        following: set[str] = set()
        for row in await graph.read(query, params):
            node = supply._capability_node(row)
            tree.nodes[node.key] = node
            tree.tiers[node.key] = tier
            following.update(k for k, _ in node.links)
        if tier >= depth:
            break
        tier += 1
        frontier = sorted(following - tree.nodes.keys())
    return tree


async def gap_reports(
    api: Api, scope: ReleaseScope, root: str, depth: int, *, reference: LiteralString | None
) -> gap.GapReport | None:
    if reference is None:
        tree = await supply.capability_tree(
            api.graph,
            scope,
            [root],
            depth=depth,
            mode="summary",
            max_nodes=5000,
            parallel=random.Random(root).choice((1, 2, 3)),
        )
    else:
        tree = await reference_tree(api.graph, scope, root, depth, reference)
    if root not in tree.nodes:
        return None
    tetragraphs = await api.runtime.memberships.released_to(scope)
    return gap.report(
        tree,
        root,
        depth=depth,
        caller_nation=scope.nation,
        groups={g: tetragraphs.get(g, frozenset()) for g in GROUPS},
        tetragraphs=tetragraphs,
    )


@pytest.mark.parametrize("seed", range(5))
async def test_split_reads_answer_as_the_former_reads_did(api: Api, seed: int) -> None:
    rng = random.Random(seed)
    dataset, suppliers, caps = random_world(rng)
    await api.load(dataset)
    sole_sources = compared = 0
    for nation in ("USA", "GBR"):
        caller = scope(api, nation, await api.runtime.memberships.groups_of(nation, date.today()))
        for root in caps:
            depth = rng.randint(0, 3)
            new = await gap_reports(api, caller, root, depth, reference=None)
            assert new == await gap_reports(api, caller, root, depth, reference=REFERENCE_SUMMARY)
            if new is not None:
                compared += 1
                sole_sources += sum(
                    g.sole_source is not None for g in (new.capability, *new.inputs)
                )
        removed = sorted(rng.sample(NATIONS, 2))
        knocked_out = sorted(rng.sample(suppliers, 2))
        allied = sorted(set(NATIONS) - set(removed) - {"RUS"})
        first = rng.choice((1, 3, 50))
        params = {"nations": removed, "suppliers": knocked_out, "allied": allied, "first": first}
        whole = await api.graph.read(
            REFERENCE_IMPACT, {**caller.cypher_params(), **params, "keys": caps}
        )
        for parallel in (1, 2, 3):
            split = await supply.impacts(
                api.graph,
                caller,
                caps,
                nations=removed,
                suppliers=knocked_out,
                allied=allied,
                first=first,
                parallel=parallel,
            )
            assert split == [supply._capability_node(row) for row in whole]
            compared += len(split)
    assert compared > 0  # the worlds are not empty for these callers
    assert sole_sources > 0  # the worlds name sole sources, so that lookup is compared too


async def test_a_changed_summary_is_caught(api: Api) -> None:
    """The comparison can fail: a reference that forgets the supplier's release check in its
    aggregate answers differently on a world with hidden suppliers."""
    dataset, _, caps = random_world(random.Random(0))
    await api.load(dataset)
    caller = scope(api, "GBR", await api.runtime.memberships.groups_of("GBR", date.today()))
    planted = compiled(REFERENCE_SUMMARY.replace(visible("cap_gs", "Supplier"), "true"))
    assert planted != REFERENCE_SUMMARY
    differs = [
        root
        for root in caps
        if await gap_reports(api, caller, root, 0, reference=None)
        != await gap_reports(api, caller, root, 0, reference=planted)
    ]
    assert differs


def operators(plan: Any) -> list[str]:
    return [
        plan.get("operatorType", ""),
        *(o for c in plan.get("children", []) for o in operators(c)),
    ]


async def test_the_impact_read_streams_capability_by_capability(api: Api) -> None:
    """Regression: with `ORDER BY key` the planner sorted the rows while each still held its
    capability's list of every visible offer, so all of them were in memory at once and a
    nation's disruption at 50,000 suppliers failed on the transaction memory limit (a 503
    "database unavailable"). The read now leaves the order to Python: no Sort in its plan."""
    caller = scope(api, "USA", await api.runtime.memberships.groups_of("USA", date.today()))
    params = {"keys": [], "nations": [], "suppliers": [], "allied": [], "first": 1}
    async with api.graph.driver.session(database=api.graph.database) as session:
        result = await session.run(
            compiled("CYPHER replan=force EXPLAIN " + supply._IMPACT),
            {**caller.cypher_params(), **params},
        )
        plan = (await result.consume()).plan
    assert plan is not None
    assert not [op for op in operators(plan) if op.startswith("Sort")]
