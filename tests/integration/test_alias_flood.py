"""An alias flood from 16 clients does not starve a light query.

Each flood request asks for 30 aliases of a nested read (about 10,000 records each, 303,000
in all): the request budget refuses it before any query, heavy reads hold at most
`DIBX_HEAVY_CONCURRENCY` driver connections, large documents are admitted a few at a time
(`dibx.app.admission`) and parsed and validated in a worker thread, clean ones once per
caller's scopes (`dibx.schema.prepared`), so the flood cannot hold the event loop. The flood
sends the same document again and again, or a different one each time (nothing cached).

The light query is timed alone, then under the flood (clients, API and the flood share one
process and event loop here, and the machine running the tests is shared). The bound is a
ratio to the quiet median plus a fixed slack for that noise: median under 3x quiet + 0.25 s,
p95 under twice that. Parsing on the loop, the median under this flood was 0.9-1.9 s for a
quiet 50 ms, far outside it. The figures are printed for the record.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from dibx.app.admission import LargeDocuments
from dibx.errors import Busy
from tests.support import builders as b
from tests.support.api import Api

pytestmark = [pytest.mark.neo4j, pytest.mark.serial]  # timed: run alone (Makefile)

SUPPLIERS, CAPABILITIES = 100, 100
WIDE = "suppliers(first: 100) { nodes { key capabilities(first: 100) { nodes { key } } } }"


def flood(tag: str = "") -> str:
    return "query { " + " ".join(f"a{i}{tag}: {WIDE}" for i in range(30)) + " }"


FLOOD = flood()
LIGHT = 'query { nations(codes: ["GBR", "USA"]) { nodes { code name } } }'
CLIENTS, SAMPLES = 16, 20
SLACK_S = 0.25


async def _light(api: Api, token: str) -> float:
    start = time.perf_counter()
    reply = await api.query(LIGHT, token=token)
    elapsed = time.perf_counter() - start
    assert reply.status == 200
    assert reply.errors == []
    assert len(reply.data["nations"]["nodes"]) == 2
    return elapsed


@pytest.mark.parametrize("varied", [False, True], ids=["same-document", "varied-documents"])
async def test_light_query_keeps_its_latency_under_an_alias_flood(api: Api, varied: bool) -> None:
    caps = [f"c{i}" for i in range(CAPABILITIES)]
    await api.load(
        b.dataset(
            suppliers=[b.supplier(f"s{i}") for i in range(SUPPLIERS)],
            capabilities=[b.capability(c) for c in caps],
            provides=[b.provides(f"s{i}", c) for i in range(SUPPLIERS) for c in caps],
        )
    )
    light_token = api.token("GBR", subject="light-user")
    await _light(api, light_token)  # warm caches (memberships, compiled documents)
    quiet = [await _light(api, light_token) for _ in range(SAMPLES)]

    stop = asyncio.Event()
    flood_replies: list[int] = []

    async def client(n: int) -> None:
        token = api.token("USA", subject=f"flooder-{n}")
        sent = 0
        while not stop.is_set():
            sent += 1
            reply = await api.query(flood(f"_{n}_{sent}") if varied else FLOOD, token=token)
            flood_replies.append(reply.status)

    flooders = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
    loaded = []
    try:
        await asyncio.sleep(1.0)  # let the flood build up
        for _ in range(SAMPLES):
            loaded.append(await _light(api, light_token))
    finally:
        stop.set()
        await asyncio.gather(*flooders)

    quiet_p50, loaded_p50 = statistics.median(quiet), statistics.median(loaded)
    quiet_p95 = statistics.quantiles(quiet, n=20)[-1]
    loaded_p95 = statistics.quantiles(loaded, n=20)[-1]
    bound = 3 * quiet_p50 + SLACK_S
    print(
        f"\nlight query alone: p50 {quiet_p50 * 1000:.0f} ms, p95 {quiet_p95 * 1000:.0f} ms; "
        f"under {CLIENTS} flooding clients ({len(flood_replies)} flood requests answered): "
        f"p50 {loaded_p50 * 1000:.0f} ms, p95 {loaded_p95 * 1000:.0f} ms, "
        f"max {max(loaded) * 1000:.0f} ms; "
        f"bound {bound * 1000:.0f} ms"
    )
    assert flood_replies
    assert set(flood_replies) <= {200, 429}
    assert loaded_p50 < bound
    assert loaded_p95 < 2 * bound


async def test_large_documents_wait_their_turn_and_small_ones_never_do() -> None:
    gate = LargeDocuments(threshold=100, concurrency=1, wait_s=0.05)
    async with gate.admit(1000):
        async with gate.admit(10):  # small: never waits, even with every slot held
            pass
        with pytest.raises(Busy, match="large documents"):
            async with gate.admit(1000):
                pass
    async with gate.admit(1000):  # the slot is free again
        pass
    assert gate.waiting == 0
