"""Reads are single auto-commit statements (one round trip) that dibx retries itself, by the
rule the driver applies to managed transactions: retryable errors only, with doubling pauses,
until the retry time is spent. Sessions are counted on the real driver (a spy, not a mock)."""

from __future__ import annotations

from typing import Any

import neo4j
import pytest

from dibx.errors import Unavailable
from dibx.graph.driver import Graph, Timeouts, connect

pytestmark = pytest.mark.neo4j


class CountedSessions:
    """Counts the sessions (attempts) reads open on a real driver, inside `with`."""

    def __init__(self, driver: neo4j.AsyncDriver) -> None:
        self.opened = 0
        self._driver = driver

    def __enter__(self) -> CountedSessions:
        original = self._driver.session

        def session(**kw: Any) -> neo4j.AsyncSession:
            self.opened += 1
            return original(**kw)

        self._driver.session = session  # type: ignore[method-assign]
        return self

    def __exit__(self, *_: object) -> None:
        del self._driver.session  # the class's method again


async def test_an_unreachable_database_is_retried_until_the_retry_time_is_spent() -> None:
    # Nothing listens on port 1: every attempt fails with ServiceUnavailable (retryable).
    driver = connect("bolt://127.0.0.1:1", "neo4j", "", timeouts=Timeouts(0.5, 0.5, 0.5))
    try:
        once, twice = Graph(driver, "neo4j", retry_s=0), Graph(driver, "neo4j", retry_s=2.5)
        with CountedSessions(driver) as counted:
            with pytest.raises(Unavailable):
                await once.read("RETURN 1 AS x")
            assert counted.opened == 1
            # Pauses of about 1 s then 2 s: the second would end past 2.5 s, so two attempts.
            with pytest.raises(Unavailable):
                await twice.read("RETURN 1 AS x")
            assert counted.opened == 1 + 2
    finally:
        await driver.close()


async def test_an_error_in_the_statement_is_not_retried(graph: Graph) -> None:
    patient = Graph(graph.driver, graph.database, retry_s=30)
    with CountedSessions(graph.driver) as counted:
        with pytest.raises(neo4j.exceptions.CypherSyntaxError):
            await patient.read("RETURN 1 AS")
        assert counted.opened == 1
        assert await patient.read("RETURN 1 AS x") == [{"x": 1}]
        assert counted.opened == 2
