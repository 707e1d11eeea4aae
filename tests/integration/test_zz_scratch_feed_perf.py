from __future__ import annotations

import os
import time

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import APPLY, WRITER, supplier_input

pytestmark = pytest.mark.neo4j

N = int(os.environ.get("FEED_N", "500"))
Q = "query C($after: String, $first: Int) { changes(after: $after, first: $first, types: [SUPPLIER]) { endCursor hasNextPage changes { id kind } } }"


async def test_perf(api: Api) -> None:
    await api.load(b.dataset())
    token = api.token("GBR", WRITER)
    for start in range(0, N, 100):
        batch = [{"createSupplier": supplier_input(f"p{i}", record="CUI//REL TO USA, GBR")} for i in range(start, min(N, start + 100))]
        r = await api.query(APPLY, {"input": batch}, token=token)
        assert not r.errors, r.body
        assert r.data["applyChanges"]["userErrors"] == [], r.body
    for nation in ("USA", "AUS", "USA", "AUS"):
        t = time.perf_counter()
        r = await api.query(Q, {"first": 50}, nation=nation)
        dt = time.perf_counter() - t
        assert not r.errors, r.body
        print(nation, len(r.data["changes"]["changes"]), f"{dt*1000:.0f} ms", flush=True)
    # steady state: poll at the head
    end = (await api.query(Q, {"first": 100}, nation="AUS")).data["changes"]["endCursor"]
    t = time.perf_counter()
    for _ in range(10):
        r = await api.query(Q, {"first": 50, "after": end}, nation="AUS")
    print("poll at head x10", f"{(time.perf_counter()-t)*100:.0f} ms each", flush=True)
