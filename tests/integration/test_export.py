"""Releasable export (`dibx export`, `GET /export`): only the nation's slice, in the import format.

Invariants:
- an export for a nation carries only records and edges that nation may see, released
  values each with its marking, withheld fields left out (no value, no marking);
- `--attr` keeps keys, markings and origin and only the named fields;
- `--as-of` reads the state in force then (an old value after a stewarded update);
- JSON Lines, CSV and GraphML carry the same rows; GraphML parses with networkx;
- over HTTP a token is needed, the caller gets its own nation's slice, bad parameters are
  a 400 naming the parameter, and the request is audited.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from dibx import data as shipped
from dibx.auth import policy as policy_module
from dibx.auth.markings import is_released, parse
from dibx.exchange.export import ExportError, operator_scope, parse_as_of, run_export, select
from dibx.exchange.format import ENTITIES, check_header
from dibx.graph.driver import Graph
from dibx.ingest import seeding
from dibx.services.memberships import MembershipDirectory
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

UPDATE = """mutation U($id: ID!, $v: Int!, $e: String!) {
  updateSupplier(id: $id, expectedVersion: $v, input: {employees: $e}) { __typename } }"""


async def _demo(graph: Graph) -> None:
    report = await seeding.seed(graph, shipped.reference_dir(), demo=True)
    assert not report.rejected


async def _export(
    graph: Graph, api: Api, nation: str, fmt: str = "jsonl", out: Path | None = None, **kw: Any
) -> tuple[bytes, Any]:
    policy = api.runtime.policy
    today = datetime.now(UTC).date()
    groups = await MembershipDirectory(graph).groups_of(nation, today)
    scope = operator_scope(policy, nation, groups, today)
    buffer = io.BytesIO()
    tally = await run_export(
        graph,
        scope,
        fmt=fmt,
        out=out,
        stdout=buffer,
        catalogue_steward=policy.stewardship.catalogue_steward,
        **kw,
    )
    return buffer.getvalue(), tally


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines()]


def _marks(row: dict[str, Any]) -> list[str]:
    return [v for k, v in row.items() if k == "marking" or k.endswith(".marking")]


async def test_export_gbr_has_no_noforn_and_every_value_its_marking(
    graph: Graph, api: Api
) -> None:
    await _demo(graph)
    gbr, _ = await _export(graph, api, "GBR")
    usa, _ = await _export(graph, api, "USA")
    gbr_rows, usa_rows = _lines(gbr), _lines(usa)
    assert gbr_rows and len(usa_rows) > len(gbr_rows)
    for row in gbr_rows:
        for marking in _marks(row):
            assert "NOFORN" not in marking
        entity = ENTITIES[row["type"]]
        check_header(entity, [k for k in row if k != "type"], "row")
        for name in (*entity.field_names, *(e.end_role for e in entity.owned)):
            if name in row:
                assert name + ".marking" in row, (row, name)
    assert any("NOFORN" in m for row in usa_rows for m in _marks(row))
    # Records come before the edges that need them.
    order = [row["type"] for row in gbr_rows]
    assert order.index("provides") > max(i for i, t in enumerate(order) if t == "suppliers")
