"""Settings come from DIBX_* variables and fail with a message that names the variable."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dibx import config

if TYPE_CHECKING:
    from dibx.services.analytics.limits import AnalyticsLimits


def test_defaults_are_development() -> None:
    settings = config.load({})
    assert settings.environment == "development"
    assert settings.dev_issuer
    assert settings.graphiql
    assert settings.nations_of_concern == ("CHN", "IRN", "PRK", "RUS")
    assert settings.neo4j_tx_timeout_s == 30
    assert config.load({"DIBX_NEO4J_TX_TIMEOUT": "5"}).neo4j_tx_timeout_s == 5
    assert settings.analytics_parallel_reads == 2


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIBX_PORT": "http"}, "DIBX_PORT='http': expected an integer"),
        ({"DIBX_MAX_PAGE_SIZE": "0"}, "DIBX_MAX_PAGE_SIZE=0: expected 1..1000"),
        ({"DIBX_GRAPHIQL": "maybe"}, "DIBX_GRAPHIQL='maybe': expected true or false"),
        ({"DIBX_ENV": "staging"}, "DIBX_ENV='staging'"),
        (
            {"DIBX_ENV": "production", "DIBX_DEV_ISSUER": "true"},
            "DIBX_DEV_ISSUER must be false in production",
        ),
        (
            {"DIBX_ENV": "production", "DIBX_DEV_ISSUER": "false"},
            "DIBX_JWKS_URL is required in production",
        ),
        ({"DIBX_AUDIT_SINK": "syslog"}, "expected stdout, file:<path>, syslog+tcp://"),
        ({"DIBX_AUDIT_SINK": "syslog+udp://"}, "expected stdout, file:<path>, syslog+tcp://"),
        ({"DIBX_AUDIT_SINK": "syslog+tcp://siem:http"}, "has a bad port"),
        ({"DIBX_AUDIT_SINK": "stdout,file:"}, "DIBX_AUDIT_SINK=file: names no file"),
        ({"DIBX_LOG_LEVEL": "chatty"}, "DIBX_LOG_LEVEL='chatty': expected one of"),
        ({"DIBX_NATIONS_OF_CONCERN": "CHN,XXX"}, "not ISO 3166-1 alpha-3 codes: XXX"),
        ({"DIBX_NEO4J_TX_TIMEOUT": "0"}, "DIBX_NEO4J_TX_TIMEOUT=0: expected 1..3600"),
        ({"DIBX_ANALYTICS_PARALLEL_READS": "0"}, "DIBX_ANALYTICS_PARALLEL_READS=0: expected 1..16"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError) as excinfo:
        config.load(env)
    assert message in str(excinfo.value)


def test_production_turns_off_development_surfaces() -> None:
    settings = config.load(
        {
            "DIBX_ENV": "production",
            "DIBX_DEV_ISSUER": "false",
            "DIBX_JWKS_URL": "https://issuer.example/jwks",
        }
    )
    assert not settings.graphiql
    assert not settings.introspection
    assert settings.production


def test_the_settings_class_reads_the_same_variables_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIBX_PORT", "9001")
    monkeypatch.setenv("DIBX_NATIONS_OF_CONCERN", "CHN,RUS")
    assert config.Settings().port == config.load().port == 9001
    assert config.Settings().nations_of_concern == ("CHN", "RUS")


def test_settings_are_frozen_and_blank_values_take_the_default() -> None:
    settings = config.load({"DIBX_PORT": "", "DIBX_NEO4J_URI": "", "DIBX_POLICY_FILE": ""})
    assert (settings.port, settings.neo4j_uri) == (8000, None)
    assert settings.policy_file == config.load({}).policy_file
    with pytest.raises(ValueError, match="frozen"):
        settings.port = 1  # type: ignore[misc]


async def _runtime_limits(tmp_path: Path, env: dict[str, str]) -> AnalyticsLimits:
    """The analytics limits of a runtime built from `env` (without reaching Neo4j: the
    driver connects on first use, and nothing here uses it)."""
    from dibx.app import build_runtime
    from dibx.graph.driver import Graph, connect
    from dibx.services.audit import MemorySink

    settings = config.load({"DIBX_ENV": "test", "DIBX_DATA_DIR": str(tmp_path), **env})
    graph = Graph(connect("bolt://127.0.0.1:1", "neo4j", ""), "neo4j")
    try:
        return build_runtime(settings, graph=graph, audit=MemorySink()).services.analytics.limits
    finally:
        await graph.close()


async def test_the_runtime_takes_the_analytics_settings(tmp_path: Path) -> None:
    """The runtime's analyses run with the configured bounds."""
    limits = await _runtime_limits(
        tmp_path, {"DIBX_ANALYTICS_PARALLEL_READS": "1", "DIBX_ANALYTICS_TIME_LIMIT": "7"}
    )
    assert (limits.parallel_reads, limits.time_limit_s) == (1, 7.0)


async def test_an_analysis_reads_no_more_at_once_than_heavy_work_may_hold(
    tmp_path: Path,
) -> None:
    limits = await _runtime_limits(
        tmp_path, {"DIBX_ANALYTICS_PARALLEL_READS": "6", "DIBX_HEAVY_CONCURRENCY": "3"}
    )
    assert limits.parallel_reads == 3
