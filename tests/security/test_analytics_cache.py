"""The analyses' read cache (dibx.graph.read_cache) answers exactly what the database would.

Two apps on one graph: the app as shipped, whose analyses read through its cache, and the
same app with the cache off (the reference). On random graphs, every caller asks each
analysis after the load and after every stewarded write (random markings, moves, offers,
withdrawals, retirements, creations): twice from the cached app, whose second answer comes
from the cache while nothing changed, and once from the reference. All three must be equal
each time, and the cache must have answered some of them.

The comparison has teeth: a cache that ignores the data generation serves a withheld
provider after the write that withheld it, and one whose key leaves out the caller's
release parameters serves one nation's answer to another; both are caught below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from dibx.graph import generation, read_cache
from dibx.graph.driver import Graph
from dibx.graph.writes import clear_database
from tests.security.test_release_tallies import SETTINGS, Spec, apply, build, graphs, operations
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import UPDATE_SUPPLIER, cid, sid, write

pytestmark = pytest.mark.neo4j

CALLERS = ("USA", "GBR", "AUS")
SCOPES = ("supplier:read", "supply_chain:read")
CONCENTRATION = (
    "query($c: ID!) { concentration(capability: $c) { providers totalCapacity "
    "hhiByNation allied { group share } marking } }"
)
GAP = (
    "query($c: ID!) { capabilityGap(capability: $c, depth: 2) { marking "
    "inputs { providers totalCapacity groupsWithoutProvider } soleSourced { key } } }"
)
DISRUPTION = (
    '{ disruption(removeNations: ["GBR"], depth: 2) { lost { key } '
    "impaired { capability { key } } marking } }"
)
ASKED = ((CONCENTRATION, {"c": cid("c0")}), (GAP, {"c": cid("c0")}), (DISRUPTION, {}))


@pytest_asyncio.fixture(loop_scope="session")
async def apis(graph: Graph, tmp_path: Path) -> AsyncIterator[tuple[Api, Api]]:
    """The app as shipped, and the same app with the analyses' read cache off."""
    cached = Api(graph, tmp_path / "c")
    reference = Api(graph, tmp_path / "r", env={"DIBX_ANALYTICS_CACHE_MB": "0"})
    assert cached.runtime.services.analytics.cache is not None
    assert cached.runtime.services.analytics.cache.enabled
    assert reference.runtime.services.analytics.cache is not None
    assert not reference.runtime.services.analytics.cache.enabled
    yield cached, reference
    await cached.close()
    await reference.close()


def outcomes(api: Api) -> list[str]:
    """Every read outcome the cached app's analyses report from now on."""
    cache = api.runtime.services.analytics.cache
    assert cache is not None
    seen: list[str] = []
    counted = cache.observe

    def observe(outcome: str) -> None:
        seen.append(outcome)
        if counted is not None:
            counted(outcome)

    cache.observe = observe
    return seen


async def answer(api: Api, document: str, variables: dict[str, Any], nation: str) -> Any:
    reply = await api.query(document, variables, nation=nation, scopes=SCOPES)
    assert reply.status == 200, reply.body
    return reply.data, reply.errors, reply.releasability


async def check(cached: Api, reference: Api, when: str) -> None:
    for nation in CALLERS:
        for document, variables in ASKED:
            first = await answer(cached, document, variables, nation)
            again = await answer(cached, document, variables, nation)
            want = await answer(reference, document, variables, nation)
            assert first == want, (when, nation, document)
            assert again == want, (when, nation, document, "repeated")


@SETTINGS
@given(drawn=graphs(), steps=st.lists(operations, min_size=1, max_size=4))
async def test_cached_analyses_answer_as_the_database_after_every_write(
    apis: tuple[Api, Api], drawn: Spec, steps: list[tuple[Any, ...]]
) -> None:
    cached, reference = apis
    data, stewards = build(drawn)
    await clear_database(cached.graph)
    await cached.load(data)
    for api in apis:
        api.runtime.memberships.invalidate()
    seen = outcomes(cached)
    await check(cached, reference, "loaded")
    for i, op in enumerate(steps):
        await apply(cached, stewards, op)
        await check(cached, reference, f"step {i}: {op}")
    assert read_cache.HIT in seen  # the repeated requests were answered from the cache


# -- the comparison has teeth ---------------------------------------------------------------


def world() -> b.Dataset:
    return b.dataset(
        suppliers=[b.supplier("s0", "USA"), b.supplier("s1", "USA", record="CUI//NOFORN")],
        capabilities=[b.capability("c0")],
        provides=[b.provides("s0", "c0"), b.provides("s1", "c0")],
    )


async def providers(api: Api, nation: str) -> int:
    reply = await api.query(CONCENTRATION, {"c": cid("c0")}, nation=nation, scopes=SCOPES)
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    return int(reply.data["concentration"]["providers"])


async def make_s0_noforn(api: Api) -> None:
    """USA, steward of s0, withholds it from everyone but USA (a stewarded write)."""
    update = {"id": sid("s0"), "expectedVersion": 1, "marking": "CUI//NOFORN", "reason": "r"}
    reply = await write(api, UPDATE_SUPPLIER, update, "USA")
    assert not reply.data["updateSupplier"]["userErrors"], reply.body


async def test_a_write_that_withholds_a_provider_is_seen_at_once(apis: tuple[Api, Api]) -> None:
    cached, _ = apis
    await cached.load(world())
    seen = outcomes(cached)
    assert await providers(cached, "GBR") == 1
    assert await providers(cached, "GBR") == 1
    assert read_cache.HIT in seen  # the second answer came from the cache
    await make_s0_noforn(cached)
    assert await providers(cached, "GBR") == 0
    assert await providers(cached, "USA") == 2


async def test_a_cache_blind_to_the_data_generation_is_caught(
    apis: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    cached, _ = apis
    await cached.load(world())
    monkeypatch.setattr(generation, "of", lambda row: ("planted", 0, 0))
    assert await providers(cached, "GBR") == 1
    await make_s0_noforn(cached)
    assert await providers(cached, "GBR") == 1  # stale: s0 served after it was withheld
    with pytest.raises(AssertionError):
        await check(cached, apis[1], "generation ignored")


async def test_a_cache_blind_to_the_caller_is_caught(
    apis: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    cached, reference = apis
    await cached.load(world())
    key_of = read_cache.key_of
    monkeypatch.setattr(read_cache, "key_of", lambda query, params, parse: key_of(query, {}, parse))
    assert await providers(cached, "USA") == 2
    assert await providers(cached, "GBR") == 2  # USA's answer, served to GBR
    assert await providers(reference, "GBR") == 1
    with pytest.raises(AssertionError):
        await check(cached, reference, "caller ignored")


async def test_a_bulk_load_moves_the_generation(apis: tuple[Api, Api]) -> None:
    """A load MERGEs records without numbering events: it moves the generation itself."""
    cached, _ = apis
    await cached.load(world())
    before = await generation_of(cached.graph)
    assert await providers(cached, "GBR") == 1
    tightened = b.dataset(
        suppliers=[
            b.supplier("s0", "USA", record="CUI//NOFORN"),
            b.supplier("s1", "USA", record="CUI//NOFORN"),
        ],
        capabilities=[b.capability("c0")],
        provides=[b.provides("s0", "c0"), b.provides("s1", "c0")],
    )
    await cached.load(tightened)
    assert await generation_of(cached.graph) != before
    assert await providers(cached, "GBR") == 0


async def generation_of(graph: Graph) -> generation.Generation | None:
    return generation.of(await graph.read_one(generation.READ))


async def test_answers_from_the_cache_are_counted_in_metrics(apis: tuple[Api, Api]) -> None:
    cached, _ = apis
    await cached.load(world())
    for _ in range(2):
        assert await providers(cached, "GBR") == 1
    text = (await cached.client.get("/metrics")).text
    counted = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("dibx_analytics_reads_total{")
    }
    assert counted[read_cache.HIT] >= 1
    assert counted[read_cache.MISS] >= 1
    assert read_cache.UNCACHED in counted  # present from the start, for rate() and alerts
