"""Shared fixtures: one real embedded Neo4j per test session, graph cleared between tests.

Set DIBX_TEST_NEO4J_URI to run against another Neo4j 5 server instead (it will be wiped).
Under pytest-xdist each worker is a session of its own, so each starts its own Neo4j.
DIBX_TEST_NEO4J_REPLAN_S=10 gives the embedded one Neo4j's own replan interval back.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import neo4j
import pytest
import pytest_asyncio

from dibx import neo4j_server
from dibx.graph import migrations
from dibx.graph.driver import Graph, connect
from dibx.graph.writes import clear_database
from tests.support.api import Api

DATABASE = "neo4j"

# Files that take a minute or more each (`pytest --durations`): collected first. Under xdist
# (`--dist loadfile --no-loadscope-reorder`, as `make test` runs it) a file stays on one
# worker, and one of these started last kept that worker busy for minutes while the other had
# nothing left. Only the order depends on this list: a stale entry costs time, not a result.
HEAVY_FIRST = (
    "tests/browser/test_explorer.py",
    "tests/integration/test_changes.py",
    "tests/integration/test_import_scale.py",
    "tests/integration/test_outage.py",
    "tests/integration/test_wheel_install.py",
    "tests/security/test_as_of_properties.py",
    "tests/integration/test_challenges.py",
    "tests/integration/test_export.py",
    "tests/integration/test_sorted_pages.py",
    "tests/security/test_compiled_response.py",
    "tests/security/test_noninterference.py",
    "tests/integration/test_sigterm_drain.py",
    "tests/integration/test_serve_workers.py",
    "tests/security/test_noninterference_writes.py",
    "tests/integration/test_alias_flood.py",
    "tests/integration/test_analytics_api.py",
    "tests/security/test_release_tallies.py",
    "tests/integration/test_plan_names.py",
)
# The test Neo4j JVMs live minutes and spend most of their CPU planning hundreds of distinct
# queries on a tiny graph, not running them: the optimizing JIT (C2) compiling the planner never
# paid its CPU back. With the quick JIT only, Neo4j's CPU for tests/integration/test_read_api.py
# fell from 61 to 34 s (wall 93 -> 52 s). Servers the tests start in child processes
# (`dibx serve`) inherit it. A long-running server keeps the JVM's default.
os.environ.setdefault("DIBX_NEO4J_JVM_ARGS", "-XX:TieredStopAtLevel=1")
# Least seconds between replans of a cached plan in the test Neo4j; 0 keeps Neo4j's default.
REPLAN_S = int(os.environ.get("DIBX_TEST_NEO4J_REPLAN_S", 24 * 3600)) or None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.partition("::")[0], len(rank)))


@pytest.fixture(scope="session")
def neo4j_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("DIBX_TEST_NEO4J_URI")
    if external:
        if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
            # Every worker clears the graph between its tests: they would wipe each other's.
            pytest.exit("DIBX_TEST_NEO4J_URI takes one pytest process: run with -n 0", 2)
        yield external
        return
    data_dir = tmp_path_factory.mktemp("neo4j")
    # Tests empty and refill a tiny graph hundreds of times: with Neo4j's default (replan a
    # cached plan 10 s after the statistics moved), nearly every test replanned every query
    # it sent, seconds each. Results never depend on the plan; a session keeps its first ones.
    with neo4j_server.running(data_dir, tie_to_parent=True, min_replan_s=REPLAN_S) as server:
        yield server.uri


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def neo4j_driver(neo4j_uri: str) -> AsyncIterator[neo4j.AsyncDriver]:
    user = os.environ.get("DIBX_TEST_NEO4J_USER", "neo4j")
    password = os.environ.get("DIBX_TEST_NEO4J_PASSWORD", "")
    driver = connect(neo4j_uri, user, password)
    await driver.verify_connectivity()
    await migrations.apply(Graph(driver, DATABASE))
    yield driver
    await driver.close()


@pytest_asyncio.fixture(loop_scope="session")
async def clean_db(neo4j_driver: neo4j.AsyncDriver) -> AsyncIterator[None]:
    await clear_database(Graph(neo4j_driver, DATABASE))
    yield


@pytest_asyncio.fixture(loop_scope="session")
async def graph(neo4j_driver: neo4j.AsyncDriver, clean_db: None) -> Graph:
    """A Graph over an empty database (schema applied), with fresh query counters."""
    return Graph(neo4j_driver, DATABASE)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return Path(__file__).resolve().parents[1]


@pytest_asyncio.fixture(loop_scope="session")
async def api(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    """The real app over an empty graph; tests load what they need with `api.load(...)`."""
    client = Api(graph, tmp_path)
    yield client
    await client.close()
