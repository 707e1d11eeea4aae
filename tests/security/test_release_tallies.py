"""Release tallies (`dibx.graph.tallies`) never change a totalCount.

`Capability.providers` and `Nation.suppliers` sum their totalCount from per-owner tallies
when those are current. For random graphs and random sequences of writes through the real
write paths (stewarded mutations: offers set, re-marked and withdrawn, suppliers re-marked,
moved, retired and created), each write followed by a refresh of the tallies or not, every
caller's totalCount of every capability's providers and every nation's suppliers equals the
count link by link (the same API on the model without tallies) and the number of links the
caller can page through, right after each write: a write that changes a count makes the
tallies it affects stale in its own transaction. DIBX_HYPOTHESIS_EXAMPLES scales the
number of random runs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dibx.graph import tallies
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL
from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    CREATE_SUPPLIER,
    REMOVE_PROVIDES,
    RETIRE_SUPPLIER,
    SET_PROVIDES,
    UPDATE_SUPPLIER,
    WRITER,
    cid,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j

# Heavy (a check after every write, for every caller): a quarter, as the heavy ones take.
EXAMPLES = max(2, int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20")) // 4)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# The same model without tallies: its totalCount is counted link by link. Kept alive here,
# as the test API caches schemas by the model's identity.
UNTALLIED = MODEL.untallied()

POOL = (
    "PUBLIC",
    "CUI",
    "CUI//NOFORN",
    "CUI//REL TO USA, GBR",
    "CUI//REL TO USA, FVEY",
    "CUI//REL TO USA, AUS",
)
NATIONS = ("USA", "GBR", "AUS", "JPN")
CALLERS = ("USA", "GBR", "AUS", "JPN", "POL")
SUPPLIERS = ("s0", "s1", "s2", "s3", "s4")
CAPABILITIES = ("c0", "c1", "c2")

COUNTS = """
query Counts($nations: [String!]) {
  capabilities(first: 50) { edges { node { key
    providers(first: 50) { totalCount edges { node { key } } } } } }
  nations(first: 10, codes: $nations) { edges { node { code
    suppliers(first: 50) { totalCount edges { node { key } } } } } }
}
"""
# A page after a cursor: its total is `total: COUNT {...}` (or the tallied sum).
FIRST_PROVIDER = """
query P($id: ID!) { capability(id: $id) { providers(first: 1) { pageInfo { endCursor } } } }
"""
AFTER_PROVIDER = """
query P($id: ID!, $after: String!) {
  capability(id: $id) { providers(first: 1, after: $after) { totalCount } } }
"""


@pytest_asyncio.fixture(loop_scope="session")
async def apis(graph: Graph, tmp_path: Path) -> AsyncIterator[tuple[Api, Api]]:
    """The app, and the app on the model without tallies (the reference), on one graph."""
    tallied, reference = Api(graph, tmp_path / "t"), Api(graph, tmp_path / "r", model=UNTALLIED)
    yield tallied, reference
    await tallied.close()
    await reference.close()


def _counts(data: Any) -> dict[str, tuple[int, list[str]]]:
    """Owner -> (totalCount, keys on the page) for every capability and nation."""
    out: dict[str, tuple[int, list[str]]] = {}
    for edge in data["capabilities"]["edges"]:
        page = edge["node"]["providers"]
        out["Capability:" + edge["node"]["key"]] = (
            page["totalCount"],
            [e["node"]["key"] for e in page["edges"]],
        )
    for edge in data["nations"]["edges"]:
        page = edge["node"]["suppliers"]
        out["Nation:" + edge["node"]["code"]] = (
            page["totalCount"],
            [e["node"]["key"] for e in page["edges"]],
        )
    return out


async def counts(api: Api, nation: str) -> dict[str, tuple[int, list[str]]]:
    reply = await api.query(COUNTS, {"nations": list(NATIONS)}, nation=nation)
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    return _counts(reply.data)


async def check(tallied: Api, reference: Api, when: str) -> None:
    """Every caller's totals equal the per-link count and the links it can page through;
    so does the total of a page after a cursor."""
    for nation in CALLERS:
        got, want = await counts(tallied, nation), await counts(reference, nation)
        assert got == want, (when, nation)
        for owner, (total, keys) in got.items():
            assert total == len(keys), (when, nation, owner)  # every link fits on one page
        seen = [o for o in got if o.startswith("Capability:")]
        busiest = max(seen, key=lambda o: got[o][0], default=None)
        if busiest is None or got[busiest][0] < 2:
            continue
        key = busiest.partition(":")[2]
        first = await tallied.query(FIRST_PROVIDER, {"id": cid(key)}, nation=nation)
        cursor = first.data["capability"]["providers"]["pageInfo"]["endCursor"]
        variables = {"id": cid(key), "after": cursor}
        after = await tallied.query(AFTER_PROVIDER, variables, nation=nation)
        assert after.data["capability"]["providers"]["totalCount"] == got[busiest][0], (
            when,
            nation,
            busiest,
        )


# -- random graphs and writes -------------------------------------------------------------

marking = st.sampled_from(POOL)
# What a write sets: above the policy floor (CUI); a steward other than USA is refused the
# markings it could not read itself (and the write then changes nothing, which is fine).
written = st.sampled_from(POOL[1:])
# Stewards: mostly USA, which may set every marking of the pool.
steward = st.sampled_from(("USA", "USA", "GBR", "AUS"))


# A graph as plain values (a readable falsifying example): suppliers (key, steward nation,
# record marking, BASED_IN marking), capabilities (key, marking), offers (supplier,
# capability, marking).
Spec = tuple[
    tuple[tuple[str, str, str, str], ...],
    tuple[tuple[str, str], ...],
    tuple[tuple[str, str, str], ...],
]


@st.composite
def graphs(draw: st.DrawFn) -> Spec:
    keys = SUPPLIERS[: draw(st.integers(2, len(SUPPLIERS) - 1))]  # s4 is left for a create
    suppliers = tuple((k, draw(steward), draw(marking), draw(marking)) for k in keys)
    caps = CAPABILITIES[: draw(st.integers(1, len(CAPABILITIES)))]
    capabilities = tuple((c, draw(st.sampled_from(("PUBLIC", "CUI")))) for c in caps)
    offers = tuple((s, c, draw(marking)) for s in keys for c in caps if draw(st.booleans()))
    return suppliers, capabilities, offers


def build(spec: Spec) -> tuple[Dataset, dict[str, str]]:
    """The dataset, and each supplier's steward (the nation it was first based in)."""
    suppliers, capabilities, offers = spec
    data = b.dataset(
        suppliers=[b.supplier(k, n, record=r, based_in=m) for k, n, r, m in suppliers],
        capabilities=[b.capability(c, record=r) for c, r in capabilities],
        provides=[b.provides(s, c, record=r) for s, c, r in offers],
    )
    return data, {k: n for k, n, _, _ in suppliers}


supplier_key = st.sampled_from(SUPPLIERS)
capability_key = st.sampled_from(CAPABILITIES)
operations = st.one_of(
    st.tuples(st.just("mark"), supplier_key, written),
    st.tuples(st.just("move"), supplier_key, st.sampled_from(NATIONS), written),
    st.tuples(st.just("offer"), supplier_key, capability_key, written),
    st.tuples(st.just("withdraw"), supplier_key, capability_key),
    st.tuples(st.just("retire"), supplier_key),
    st.tuples(st.just("create"), steward, written, written),
)


async def _version(graph: Graph, query: str, **params: Any) -> int | None:
    rows = await graph.read(query, params)
    return int(rows[0]["v"]) if rows else None


async def record_version(graph: Graph, key: str) -> int | None:
    return await _version(
        graph, "MATCH (s:Supplier {id: $k}) RETURN coalesce(s.version, 1) AS v", k=key
    )


async def offer_version(graph: Graph, s: str, c: str) -> int | None:
    return await _version(
        graph,
        "MATCH (:Supplier {id: $s})-[r:PROVIDES]->(:Capability {id: $c}) "
        "RETURN coalesce(r.version, 1) AS v",
        s=s,
        c=c,
    )


async def apply(api: Api, stewards: dict[str, str], op: tuple[Any, ...]) -> bool:
    """Send one write as its steward; True if it was applied (a refused one is fine too)."""
    kind, graph = op[0], api.graph
    reason = "tally test"
    if kind == "create":
        key = "s4"
        if key in stewards:
            return False
        stewards[key] = op[1]
        document, input = CREATE_SUPPLIER, supplier_input(key, nation=op[1], record=op[2])
        input["nation"]["marking"] = op[3]
    else:
        key = op[1]
        if key not in stewards:
            return False
        version = await record_version(graph, key)
        if version is None:  # retired
            return False
        if kind == "mark":
            document = UPDATE_SUPPLIER
            input = {"id": sid(key), "expectedVersion": version, "marking": op[2]}
        elif kind == "move":
            document = UPDATE_SUPPLIER
            input = {
                "id": sid(key),
                "expectedVersion": version,
                "nation": {"key": op[2], "marking": op[3]},
            }
        elif kind == "retire":
            document, input = RETIRE_SUPPLIER, {"id": sid(key), "expectedVersion": version}
        elif kind == "offer":
            document = SET_PROVIDES
            input = {
                "supplier": sid(key),
                "capability": cid(op[2]),
                "expectedVersion": await offer_version(graph, key, op[2]),
                "marking": op[3],
            }
        else:  # withdraw
            offered = await offer_version(graph, key, op[2])
            if offered is None:
                return False
            document = REMOVE_PROVIDES
            input = {"supplier": sid(key), "capability": cid(op[2]), "expectedVersion": offered}
    input["reason"] = reason
    reply = await write(api, document, input, stewards[key], (*WRITER, "catalogue:write"))
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    return not next(iter(reply.data.values()))["userErrors"]


@SETTINGS
@given(
    drawn=graphs(),
    steps=st.lists(st.tuples(operations, st.booleans()), min_size=1, max_size=6),
    refreshed=st.booleans(),
)
async def test_tallied_totals_equal_per_link_counts_after_every_write(
    apis: tuple[Api, Api],
    drawn: Spec,
    steps: list[tuple[tuple[Any, ...], bool]],
    refreshed: bool,
) -> None:
    tallied, reference = apis
    data, stewards = build(drawn)
    await clear_database(tallied.graph)
    await tallied.load(data)
    reference.runtime.memberships.invalidate()
    if refreshed:
        assert await tallies.refresh(tallied.graph) > 0
        assert await tallies.stale(tallied.graph) == 0
    await check(tallied, reference, "loaded")
    for i, (op, refresh_after) in enumerate(steps):
        applied = await apply(tallied, stewards, op)
        event(f"{op[0]} {'applied' if applied else 'refused'}")  # --hypothesis-show-statistics
        await check(tallied, reference, f"step {i}: {op}")
        if refresh_after:
            await tallies.refresh(tallied.graph)
            assert await tallies.stale(tallied.graph) == 0
            await check(tallied, reference, f"step {i} refreshed: {op}")


async def test_the_comparison_sees_a_wrong_tally(apis: tuple[Api, Api]) -> None:
    """The property's comparison has teeth: one tally counted one too many is seen."""
    tallied, reference = apis
    await tallied.load(
        b.dataset(
            suppliers=[b.supplier("s0", "USA"), b.supplier("s1", "GBR", record="CUI//NOFORN")],
            capabilities=[b.capability("c0")],
            provides=[b.provides("s0", "c0"), b.provides("s1", "c0")],
        )
    )
    await tallies.refresh(tallied.graph)
    await check(tallied, reference, "refreshed")
    await tallied.graph.write(
        f"MATCH (:Capability {{id: 'c0'}})-[:{tallies.HAS_TALLY}]->(t:{tallies.TALLY}) "
        "WHERE t.far IS NOT NULL AND 'USA' IN t.far SET t.n = t.n + 1"
    )
    with pytest.raises(AssertionError):
        await check(tallied, reference, "one tally off by one")


# -- a marking tightened counts at once ---------------------------------------------------

PROVIDERS = "query P($id: ID!) { capability(id: $id) { providers(first: 5) { totalCount } } }"
SUPPLIERS_OF = "query S($c: String!) { nation(code: $c) { suppliers(first: 5) { totalCount } } }"


async def _providers(api: Api, nation: str) -> int:
    reply = await api.query(PROVIDERS, {"id": cid("c0")}, nation=nation)
    return int(reply.data["capability"]["providers"]["totalCount"])


async def _suppliers_of(api: Api, code: str, nation: str) -> int:
    reply = await api.query(SUPPLIERS_OF, {"c": code}, nation=nation)
    return int(reply.data["nation"]["suppliers"]["totalCount"])


async def _flag(graph: Graph, query: str) -> Any:
    rows = await graph.read(query)
    return rows[0]["f"]


async def test_a_provider_made_noforn_leaves_gbr_count_at_once(
    apis: tuple[Api, Api],
) -> None:
    tallied, _ = apis
    await tallied.load(
        b.dataset(
            suppliers=[b.supplier("s0", "USA"), b.supplier("s1", "USA")],
            capabilities=[b.capability("c0")],
            provides=[b.provides("s0", "c0"), b.provides("s1", "c0")],
        )
    )
    await tallies.refresh(tallied.graph)
    flag = "MATCH (c:Capability {id: 'c0'}) RETURN c.tallied_providers AS f"
    assert await _flag(tallied.graph, flag) is not None  # the totals come from the tallies
    assert await _providers(tallied, "GBR") == 2
    reply = await write(
        tallied,
        UPDATE_SUPPLIER,
        {"id": sid("s0"), "expectedVersion": 1, "marking": "CUI//NOFORN", "reason": "NOFORN"},
        "USA",
    )
    assert not reply.data["updateSupplier"]["userErrors"], reply.body
    # No refresh in between: the write cleared the tallies in its own transaction.
    assert await _providers(tallied, "GBR") == 1
    assert await _providers(tallied, "USA") == 2
    assert await _flag(tallied.graph, flag) is None
    assert await tallies.refresh(tallied.graph) == 2  # c0 and USA (the record's nation)
    assert await _flag(tallied.graph, flag) is not None
    assert await _providers(tallied, "GBR") == 1


async def test_a_supplier_that_moves_leaves_its_old_nation_at_once(
    apis: tuple[Api, Api],
) -> None:
    """A seeded supplier's first stewarded write moves it: its old nation's tallies are
    cleared although no state of the write names that nation (the baseline is taken after
    the move)."""
    tallied, _ = apis
    await tallied.load(b.dataset(suppliers=[b.supplier("s0", "GBR"), b.supplier("s1", "GBR")]))
    await tallies.refresh(tallied.graph)
    assert await _suppliers_of(tallied, "GBR", "USA") == 2
    reply = await write(
        tallied,
        UPDATE_SUPPLIER,
        {
            "id": sid("s0"),
            "expectedVersion": 1,
            "nation": {"key": "USA", "marking": "PUBLIC"},
            "reason": "moved",
        },
        "GBR",
    )
    assert not reply.data["updateSupplier"]["userErrors"], reply.body
    assert await _suppliers_of(tallied, "GBR", "USA") == 1
    assert await _suppliers_of(tallied, "USA", "USA") == 1


async def test_a_bulk_reload_that_tightens_a_marking_counts_at_once(
    apis: tuple[Api, Api],
) -> None:
    """Loads (`dibx seed`, reference data) write no state: they clear the tallies themselves."""
    tallied, _ = apis

    def links(record: str) -> list[Any]:
        """Suppliers and offers only: a reload of the owners themselves (`SET n = props`)
        would drop their flags whatever the writes do."""
        return [
            b.supplier("s0", "USA", record=record),
            b.supplier("s1", "USA"),
            b.provides("s0", "c0"),
            b.provides("s1", "c0", record=record),
        ]

    await tallied.load(b.dataset(capabilities=[b.capability("c0")], links=links("PUBLIC")))
    await tallies.refresh(tallied.graph)
    assert await _providers(tallied, "GBR") == 2
    assert await _suppliers_of(tallied, "USA", "GBR") == 2
    await tallied.load(Dataset.of(links("CUI//NOFORN")))
    assert await _providers(tallied, "GBR") == 0
    assert await _suppliers_of(tallied, "USA", "GBR") == 1
