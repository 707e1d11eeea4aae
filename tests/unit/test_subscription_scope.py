"""The scope gate covers subscription root fields as it covers queries and mutations: a
caller without `supplier:read` is refused `changes` before anything runs (deny by default)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from strawberry.types import ExecutionResult

from dibx.auth.principal import Principal
from dibx.schema import build_schema


@pytest.mark.asyncio
async def test_subscription_without_its_scope_is_refused_before_it_runs() -> None:
    schema = build_schema()
    who = Principal("u", "c", "GBR", None, frozenset({"marking:challenge"}), frozenset(), "j")
    stream = await schema.subscribe(
        "subscription { changes { cursor } }", context_value=SimpleNamespace(principal=who)
    )
    results = [r async for r in stream]  # type: ignore[union-attr]
    assert len(results) == 1
    [result] = results
    assert isinstance(result, ExecutionResult)
    codes = [(e.extensions or {}).get("code") for e in result.errors or []]
    assert codes == ["INSUFFICIENT_SCOPE"]
