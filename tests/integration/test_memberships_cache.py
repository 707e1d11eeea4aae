"""The membership cache loads once for a burst of requests: on a cold (or expired) cache,
concurrent callers wait for one load instead of each sending its own reads to Neo4j, which
exhausted the connection pool into 503s (seen with the graphql-http audit's burst)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from dibx.auth.principal import Principal
from dibx.graph.driver import Graph
from dibx.services.memberships import MembershipDirectory
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

BURST = 40


async def test_a_burst_on_a_cold_cache_loads_memberships_once(api: Api, graph: Graph) -> None:
    await api.load(b.dataset())
    directory = MembershipDirectory(graph)
    before = graph.stats.reads
    today = date.today()
    groups = await asyncio.gather(*(directory.groups_of("GBR", today) for _ in range(BURST)))
    assert len(set(groups)) == 1
    loads = graph.stats.reads - before
    assert loads <= 2, f"{loads} reads for one cold load"  # memberships, then codes

    principal = Principal("user-gbr", "test", "GBR", None, frozenset(), frozenset(), None)
    scope = api.runtime.policy.scope_for(principal, groups[0], today)
    before = graph.stats.reads
    tables = await asyncio.gather(*(directory.released_to(scope) for _ in range(BURST)))
    assert all(t == tables[0] for t in tables)
    assert graph.stats.reads - before == 1
