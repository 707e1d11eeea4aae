"""The API's background loop (`dibx.app.compact_changes`): a step that fails is logged and
the next step and the next round still run. The feed is a stand-in (named so) because the
point is the loop's handling of a database error, which a live Neo4j cannot be made to raise
on cue; the steps themselves are tested against Neo4j in tests/integration/test_changes.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import neo4j
import pytest
import structlog

from dibx.app import Runtime, compact_changes


class StandInFeed:
    """Counts its calls; compaction fails on the first round only."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.second_round = asyncio.Event()

    async def warm(self) -> None:
        self.calls.append("warm")

    async def compact(self) -> int:
        self.calls.append("compact")
        if self.calls.count("compact") == 1:
            raise neo4j.exceptions.TransientError("lock wait timed out")
        return 3

    async def mark_membership_dates(self) -> int:
        self.calls.append("dates")
        if self.calls.count("dates") == 2:
            self.second_round.set()
        return 0


async def test_a_failed_step_is_logged_and_the_loop_goes_on() -> None:
    feed = StandInFeed()
    runtime = cast(Runtime, SimpleNamespace(services=SimpleNamespace(changes=feed)))
    with structlog.testing.capture_logs() as logs:
        task = asyncio.create_task(compact_changes(runtime, every_s=0))
        await asyncio.wait_for(feed.second_round.wait(), timeout=60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert feed.calls[:5] == ["warm", "compact", "dates", "compact", "dates"]
    events: list[dict[str, Any]] = [e for e in logs if e["event"].startswith("changes_")]
    assert events[0]["event"] == "changes_compaction_failed"
    assert "lock wait timed out" in events[0]["error"]
    assert {"event": "changes_compacted", "count": 3} in [
        {k: e[k] for k in ("event", "count") if k in e} for e in events
    ]
