"""What makes a request fail fast (503 in seconds, not a minute) when Neo4j is down: the
driver is built with dibx's short timeouts, not the driver's defaults (30 s connect, 60 s
acquire, 30 s of retries). Checked on the driver's configuration rather than by timing an
outage (tests/integration/test_outage.py and test_request_limits.py print the seconds they
see); the driver exposes no public accessor, so the test reads its config objects."""

from __future__ import annotations

from dibx.graph.driver import Timeouts, connect


async def test_connect_hands_the_configured_timeouts_to_the_driver() -> None:
    driver = connect("bolt://127.0.0.1:1", "neo4j", "", timeouts=Timeouts(1.5, 2.5, 3.5))
    try:
        workspace = driver._default_workspace_config
        assert driver._pool.pool_config.connection_timeout == 1.5
        assert workspace.connection_acquisition_timeout == 2.5
        assert workspace.max_transaction_retry_time == 3.5
    finally:
        await driver.close()


async def test_the_default_timeouts_add_up_to_seconds() -> None:
    driver = connect("bolt://127.0.0.1:1", "neo4j", "")
    try:
        workspace = driver._default_workspace_config
        waits = (
            driver._pool.pool_config.connection_timeout,
            workspace.connection_acquisition_timeout,
            workspace.max_transaction_retry_time,
        )
        default = Timeouts()
        assert waits == (default.connect, default.acquire, default.retry)
        assert sum(waits) <= 15
    finally:
        await driver.close()
