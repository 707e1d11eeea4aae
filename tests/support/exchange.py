"""Export helpers for the tests: a nation's slice as an operator writes it."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dibx.auth.release import ReleaseScope
from dibx.exchange.export import Tally, operator_scope, run_export
from dibx.graph.driver import Graph
from dibx.services.memberships import MembershipDirectory
from tests.support.api import Api


async def scope_of(api: Api, nation: str) -> ReleaseScope:
    today = datetime.now(UTC).date()
    groups = await MembershipDirectory(api.graph).groups_of(nation, today)
    return operator_scope(api.runtime.policy, nation, groups, today)


async def export(
    api: Api,
    nation: str,
    fmt: str = "jsonl",
    out: Path | None = None,
    *,
    graph: Graph | None = None,
    **kw: Any,
) -> tuple[bytes, Tally]:
    """What `dibx export --nation <nation> --format <fmt>` writes (stdout unless `out`)."""
    buffer = io.BytesIO()
    tally = await run_export(
        graph or api.graph,
        await scope_of(api, nation),
        fmt=fmt,
        out=out,
        stdout=buffer,
        catalogue_steward=api.runtime.policy.stewardship.catalogue_steward,
        **kw,
    )
    return buffer.getvalue(), tally


def lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def markings_of(row: dict[str, Any]) -> list[str]:
    return [v for k, v in row.items() if k == "marking" or k.endswith(".marking")]
