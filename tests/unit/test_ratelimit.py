"""Token buckets: admission, Retry-After, refill and the bound on memory; their settings."""

from __future__ import annotations

import pytest

from dibx import config
from dibx.app.ratelimit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_retry_after_then_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=0.25, burst=2, clock=clock)  # one every 4 s
    assert [buckets.take("a"), buckets.take("a")] == [0, 0]
    assert buckets.take("a") == 4
    clock.now = 3.0
    assert buckets.take("a") == 1  # 0.75 of a token there: one more second
    clock.now = 4.0
    assert buckets.take("a") == 0
    assert buckets.take("b") == 0  # other keys have their own bucket


def test_refusals_do_not_spend_the_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.take("a") == 0
    for _ in range(5):
        assert buckets.take("a") == 1
    clock.now = 1.0
    assert buckets.take("a") == 0


def test_memory_is_bounded_least_recently_used_first() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock, max_keys=2)
    assert buckets.take("old") == 0
    assert buckets.take("busy") == 0
    assert buckets.take("busy") == 1  # "busy" is now the most recently used
    assert buckets.take("new") == 0  # drops "old", the least recently used
    assert buckets.take("busy") == 1  # kept: still refused
    assert buckets.take("old") == 0  # came back full


def test_rate_limit_settings() -> None:
    settings = config.load(
        {"DIBX_RATE_PER_TOKEN": "0", "DIBX_RATE_PER_ADDRESS_BURST": "5", "DIBX_RATE_INSTANCES": "4"}
    )
    assert settings.rate_limits.per_token == 0
    assert settings.rate_limits.per_address_burst == 5
    assert settings.rate_limits.instances == 4
    assert config.load({}).shutdown == config.ShutdownSettings(drain_delay_s=5, grace_s=25)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DIBX_RATE_PER_TOKEN", "-1"),
        ("DIBX_RATE_PER_ADDRESS", "lots"),
        ("DIBX_RATE_PER_TOKEN_BURST", "0"),
        ("DIBX_RATE_INSTANCES", "0"),
        ("DIBX_SHUTDOWN_GRACE", "-5"),
        ("DIBX_DRAIN_DELAY", "1000"),
    ],
)
def test_bad_rate_and_shutdown_settings_are_refused(name: str, value: str) -> None:
    with pytest.raises(config.ConfigError, match=name):
        config.load({name: value})
