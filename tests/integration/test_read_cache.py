"""The read cache's own rules (dibx.graph.read_cache), on a real graph: what is kept, for how
long, within how much memory, and what a request may do with what it gets."""

from __future__ import annotations

import asyncio

import pytest

from dibx.graph import generation, read_cache
from dibx.graph.driver import Graph, compiled
from dibx.graph.read_cache import HIT, MISS, SHARED, UNCACHED, ReadCache, key_of
from dibx.graph.writes import write_dataset
from tests.support import builders as b

pytestmark = pytest.mark.neo4j

SUPPLIERS = compiled("MATCH (s:Supplier) WHERE s.id STARTS WITH $p RETURN s.id AS key ORDER BY key")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def loaded(graph: Graph, n: int = 3) -> None:
    await write_dataset(graph, b.dataset(suppliers=[b.supplier(f"s{i}", "USA") for i in range(n)]))


def cache_on(graph: Graph, **kw: float) -> tuple[ReadCache, list[str]]:
    cache = ReadCache(
        graph, max_bytes=int(kw.get("max_bytes", 2**20)), max_age_s=kw.get("max_age_s", 60.0)
    )
    seen: list[str] = []
    cache.observe = seen.append
    return cache, seen


async def test_an_identical_read_is_kept_and_a_different_one_is_not(graph: Graph) -> None:
    await loaded(graph)
    cache, seen = cache_on(graph)
    reads = cache.reads()
    assert await reads.read(SUPPLIERS, {"p": "s"}) == [{"key": f"s{i}"} for i in range(3)]
    assert await reads.read(SUPPLIERS, {"p": "s"}) == [{"key": f"s{i}"} for i in range(3)]
    assert await reads.read(SUPPLIERS, {"p": "s1"}) == [{"key": "s1"}]
    assert seen == [MISS, HIT, MISS]


async def test_rows_handed_out_are_copies(graph: Graph) -> None:
    await loaded(graph)
    cache, _ = cache_on(graph)
    first = await cache.reads().read(SUPPLIERS, {"p": "s"})
    first[0]["key"] = "changed by one request"
    first.clear()
    assert await cache.reads().read(SUPPLIERS, {"p": "s"}) == [{"key": f"s{i}"} for i in range(3)]


async def test_an_entry_expires(graph: Graph) -> None:
    await loaded(graph)
    clock = Clock()
    cache = ReadCache(graph, max_bytes=2**20, max_age_s=30.0, clock=clock)
    seen: list[str] = []
    cache.observe = seen.append
    await cache.reads().read(SUPPLIERS, {"p": "s"})
    clock.now = 30.0
    await cache.reads().read(SUPPLIERS, {"p": "s"})
    clock.now = 30.5
    await cache.reads().read(SUPPLIERS, {"p": "s"})
    assert seen == [MISS, HIT, MISS]


async def test_a_write_moves_the_generation_and_the_request_keeps_its_own(graph: Graph) -> None:
    await loaded(graph)
    cache, seen = cache_on(graph)
    before = cache.reads()
    assert len(await before.read(SUPPLIERS, {"p": "s"})) == 3
    await loaded(graph, 4)  # a load: one more supplier, a new generation
    # A request keeps the generation it read first: consistent with its own earlier reads.
    assert len(await before.read(SUPPLIERS, {"p": "s"})) == 3
    assert len(await cache.reads().read(SUPPLIERS, {"p": "s"})) == 4
    assert seen == [MISS, HIT, MISS]


async def test_a_graph_without_a_generation_is_read_not_kept(graph: Graph) -> None:
    await graph.write(compiled(f"MATCH (c:{generation.SEQUENCE}) DETACH DELETE c"))
    await graph.write("CREATE (:Supplier {id: 's0'})")
    cache, seen = cache_on(graph)
    for _ in range(2):
        assert await cache.reads().read(SUPPLIERS, {"p": "s"}) == [{"key": "s0"}]
    assert seen == [UNCACHED, UNCACHED]
    assert len(cache) == 0


async def test_off_when_either_bound_is_zero(graph: Graph) -> None:
    await loaded(graph)
    for bounds in ({"max_bytes": 0}, {"max_age_s": 0.0}):
        cache, seen = cache_on(graph, **bounds)
        await cache.reads().read(SUPPLIERS, {"p": "s"})
        await cache.reads().read(SUPPLIERS, {"p": "s"})
        assert seen == [UNCACHED, UNCACHED]


async def test_memory_stays_within_its_bound(graph: Graph) -> None:
    await loaded(graph, 100)
    size = len(read_cache._pickled(await graph.read(SUPPLIERS, {"p": "s1"})))
    cache, seen = cache_on(graph, max_bytes=size * 8)  # one entry is at most an eighth
    prefixes = [f"s{i}" for i in range(1, 10)]  # s1 (11 rows) is the largest
    for p in prefixes:
        await cache.reads().read(SUPPLIERS, {"p": p})
        assert cache.stored_bytes <= size * 8
    assert len(cache) < len(prefixes)  # some were evicted
    seen.clear()
    await cache.reads().read(SUPPLIERS, {"p": prefixes[-1]})  # the newest is still there
    assert seen == [HIT]
    too_big = ReadCache(graph, max_bytes=size * 8 - 1, max_age_s=60.0)
    await too_big.reads().read(SUPPLIERS, {"p": "s1"})
    assert len(too_big) == 0  # over an eighth of the bound: not kept


async def test_a_parse_is_kept_under_its_own_name(graph: Graph) -> None:
    await loaded(graph)
    cache, seen = cache_on(graph)

    def keys(rows: list[dict[str, str]]) -> tuple[str, ...]:
        return tuple(r["key"] for r in rows)

    def count(rows: list[dict[str, str]]) -> int:
        return len(rows)

    assert await cache.reads().read_as(SUPPLIERS, {"p": "s"}, keys) == ("s0", "s1", "s2")
    assert await cache.reads().read_as(SUPPLIERS, {"p": "s"}, count) == 3
    assert await cache.reads().read_as(SUPPLIERS, {"p": "s"}, keys) == ("s0", "s1", "s2")
    assert seen == [MISS, MISS, HIT]


def test_keys_depend_on_values_not_on_the_order_of_maps() -> None:
    q = "RETURN 1"
    assert key_of(q, {"a": 1, "b": [1, 2]}) == key_of(q, {"b": [1, 2], "a": 1})
    assert key_of(q, {"dr": {"X": ["a"], "Y": []}}) == key_of(q, {"dr": {"Y": [], "X": ["a"]}})
    assert key_of(q, {"a": 1}) != key_of(q, {"a": 2})
    assert key_of(q, {"groups": ["USA"]}) != key_of(q, {"groups": ["USA", "GBR"]})
    assert key_of(q, {"a": [["k", 1]]}) != key_of(q, {"a": [{"k": 1}]})
    assert key_of(q, {"a": 1}) != key_of("RETURN 2", {"a": 1})
    assert key_of(q, {"a": 1}) != key_of(q, {"a": 1}, "parse")


SLOW = compiled(
    "UNWIND range(1, $n) AS x WITH x WHERE x % 7 = $r RETURN count(*) AS n, $tag AS tag"
)


async def test_an_identical_read_running_already_is_waited_for(graph: Graph) -> None:
    await loaded(graph)
    cache, seen = cache_on(graph)
    before = graph.stats.reads
    params = {"n": 2_000_000, "r": 3, "tag": "x"}
    first, second = await asyncio.gather(
        cache.reads().read(SLOW, params), cache.reads().read(SLOW, params)
    )
    assert first == second == [{"n": 285_714, "tag": "x"}]
    assert sorted(seen) == [MISS, SHARED]
    assert graph.stats.reads - before == 3  # each request's generation, and one read
    first[0]["n"] = 0  # each got its own copy
    assert second == [{"n": 285_714, "tag": "x"}]


async def test_a_waiter_reads_alone_when_the_read_it_waits_for_is_cancelled(
    graph: Graph,
) -> None:
    await loaded(graph)
    cache, seen = cache_on(graph)
    params = {"n": 6_000_000, "r": 3, "tag": "y"}
    leader = asyncio.ensure_future(cache.reads().read(SLOW, params))
    for _ in range(500):  # until the leader's read is running
        if cache._flying:
            break
        await asyncio.sleep(0.01)
    assert cache._flying
    waiter = asyncio.ensure_future(cache.reads().read(SLOW, params))
    await asyncio.sleep(0.2)  # the waiter reads its generation, then waits for the leader
    leader.cancel()
    assert await waiter == [{"n": 857_143, "tag": "y"}]
    assert leader.cancelled()
    assert seen == [MISS]  # the waiter's own read; the cancelled one counts nothing
    assert len(cache) == 1
