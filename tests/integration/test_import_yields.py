"""An import running in the API process (an HTTP import job) checks its rows on the event
loop that also serves requests: it must hand the loop back every few rows, dry runs and the
first batch (before any write is in flight) included, or every request waits for the whole
body to be checked."""

from __future__ import annotations

import asyncio
import io
import itertools

import pytest

from dibx.exchange.importer import Source
from tests.integration.test_import import imported
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

ROWS = 800  # three progress updates (one per 256 rows) while reading


def _suppliers(rows: int) -> Source:
    lines = ["key,marking,name,nation,nation.marking"] + [
        f"yield-{i:05d},CUI,Yield Works {i},USA,CUI" for i in range(rows)
    ]
    body = ("\n".join(lines) + "\n").encode()
    return Source("suppliers.csv", io.BytesIO(body), len(body))


class TurnsSeen:
    """At each progress update (every 256 rows read), how often other tasks had run."""

    def __init__(self) -> None:
        self.turns = 0
        self.at_updates: list[int] = []

    def start(self, total: int | None) -> None:
        pass

    def update(self, rows: int, consumed: int) -> None:
        self.at_updates.append(self.turns)

    def finish(self) -> None:
        pass


async def _count_turns(seen: TurnsSeen) -> None:
    while True:
        seen.turns += 1
        await asyncio.sleep(0)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "write"])
async def test_checking_rows_hands_the_event_loop_back(api: Api, dry_run: bool) -> None:
    await api.load(b.dataset())  # the nations and agreements
    seen = TurnsSeen()
    ticker = asyncio.create_task(_count_turns(seen))
    try:
        report = await imported(
            api, "USA", [_suppliers(ROWS)], dry_run=dry_run, progress=seen, batch_size=5_000
        )
    finally:
        ticker.cancel()
    assert report.read == ROWS, report
    assert not report.rejected, report.rejects[:3]
    # Updates during the read (the last one, at the end, may follow a write's await).
    during = seen.at_updates[: ROWS // 256]
    assert len(during) == ROWS // 256
    # Another task ran between every two updates: the loop was handed back while checking.
    assert all(b > a for a, b in itertools.pairwise(during)), seen.at_updates
