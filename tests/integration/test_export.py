"""Releasable export (`dibx export`, `GET /export`) of the demo data: only the nation's slice,
in the import format.

Invariants:
- an export for a nation carries only records and edges that nation may see, released
  values each with its marking, withheld fields left out (no value, no marking);
- `--attr` keeps keys, markings and origin and only the named fields;
- JSON Lines, CSV and GraphML carry the same rows; GraphML parses with networkx;
- over HTTP a token is needed, the caller gets its own nation's slice, bad parameters are
  a 400 naming the parameter, and the request is audited before anything is sent.

The demo data is loaded once for the module; every test here only reads it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import neo4j
import networkx as nx
import pytest
import pytest_asyncio

from dibx import data as shipped
from dibx.auth.markings import is_released, parse
from dibx.exchange.format import ENTITIES, check_header
from dibx.graph.driver import Graph
from dibx.graph.writes import clear_database
from dibx.ingest import seeding
from tests.conftest import DATABASE
from tests.support.api import Api
from tests.support.exchange import export, lines, markings_of, scope_of

pytestmark = pytest.mark.neo4j


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def demo(
    neo4j_driver: neo4j.AsyncDriver, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    graph = Graph(neo4j_driver, DATABASE)
    await clear_database(graph)
    report = await seeding.seed(graph, shipped.reference_dir(), demo=True)
    assert not report.rejected
    api = Api(graph, tmp_path_factory.mktemp("export"))
    yield api
    await api.close()


async def test_export_gbr_has_no_noforn_and_every_value_its_marking(demo: Api) -> None:
    gbr, _ = await export(demo, "GBR")
    usa, _ = await export(demo, "USA")
    gbr_rows, usa_rows = lines(gbr), lines(usa)
    assert gbr_rows
    assert len(usa_rows) > len(gbr_rows)
    for row in gbr_rows:
        for marking in markings_of(row):
            assert "NOFORN" not in marking
        entity = ENTITIES[row["type"]]
        check_header(entity, [k for k in row if k != "type"], "row")
        for name in (*entity.field_names, *(e.end_role for e in entity.owned)):
            if name in row:
                assert name + ".marking" in row, (row, name)
    assert any("NOFORN" in m for row in usa_rows for m in markings_of(row))
    # Records come before the edges that need them.
    order = [row["type"] for row in gbr_rows]
    assert order.index("provides") > max(i for i, t in enumerate(order) if t == "suppliers")


async def test_export_attr_keeps_keys_markings_and_the_named_fields_only(demo: Api) -> None:
    data, _ = await export(demo, "USA", attrs=["name", "provides.capacity"])
    rows = lines(data)
    fixed = {"type", "key", "marking", "withheld", "origin", "supplier", "capability", "buyer"}
    fixed |= {"child"}
    fixed |= {"parent", "requires"}
    allowed = fixed | {"name", "name.marking", "capacity", "capacity.marking"}
    assert rows
    for row in rows:
        assert set(row) <= allowed, row
    assert any("capacity" in r for r in rows if r["type"] == "provides")
    assert all("name" in r for r in rows if r["type"] in ("suppliers", "capabilities"))
    assert {r["type"] for r in rows} >= {"suppliers", "provides", "sources_from"}


async def test_export_formats_carry_the_same_rows(demo: Api, tmp_path: Path) -> None:
    data, tally = await export(demo, "GBR")
    rows = lines(data)
    await export(demo, "GBR", "csv", out=tmp_path / "csv")
    files = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert files == sorted(f"{name}.csv" for name in ENTITIES)
    from_csv: list[dict[str, str]] = []
    for name, entity in ENTITIES.items():
        with (tmp_path / "csv" / f"{name}.csv").open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            check_header(entity, reader.fieldnames or [], name)
            from_csv += [{"type": name, **{k: v for k, v in r.items() if v}} for r in reader]
    as_text = [{k: _text(v) for k, v in r.items()} for r in rows]
    assert sorted(map(_sorted, from_csv)) == sorted(map(_sorted, as_text))
    assert tally.total == len(rows)

    xml, _ = await export(demo, "GBR", "graphml")
    parsed = nx.read_graphml(io.BytesIO(xml), force_multigraph=True)
    nodes = [r for r in rows if r["type"] in ("suppliers", "capabilities")]
    assert parsed.number_of_nodes() == len(nodes)
    assert parsed.number_of_edges() == len(rows) - len(nodes)
    some = nodes[0]
    attrs = parsed.nodes[f"{some['type']}/{some['key']}"]
    assert {k: attrs[k] for k in some} == {k: _cell(v) for k, v in some.items()}
    offer = next(r for r in rows if r["type"] == "provides")
    ends = (f"suppliers/{offer['supplier']}", f"capabilities/{offer['capability']}")
    (edge,) = [
        d for d in parsed.get_edge_data(*ends).values() if d.get("marking") == offer["marking"]
    ]
    assert {k: edge[k] for k in offer if k not in ("supplier", "capability")} == {
        k: _cell(v) for k, v in offer.items() if k not in ("supplier", "capability")
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(_cell(value))


def _cell(value: Any) -> Any:
    """A JSON list (`withheld`) as CSV and GraphML write it: names separated by commas."""
    return ",".join(value) if isinstance(value, list) else value


def _sorted(row: dict[str, str]) -> list[tuple[str, str]]:
    return sorted(row.items())


async def test_export_releases_no_value_the_policy_withholds(demo: Api) -> None:
    """Every exported marking is one the nation may read (the reference decision)."""
    for nation in ("GBR", "AUS", "JPN", "FRA"):
        scope = await scope_of(demo, nation)
        data, _ = await export(demo, nation)
        for row in lines(data):
            for marking in markings_of(row):
                assert is_released(parse(marking), scope.groups), (nation, row)


# -- over HTTP ------------------------------------------------------------------------------


async def _get(demo: Api, query: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return await demo.client.get(f"/export{query}", headers=headers)


async def test_http_export_needs_a_token_and_the_read_scope(demo: Api) -> None:
    missing = await _get(demo, "?format=jsonl", None)
    assert missing.status_code == 401
    assert missing.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    forged = await _get(demo, "", demo.token("GBR")[:-4] + "AAAA")
    assert forged.status_code == 401
    narrow = await _get(demo, "", demo.token("GBR", scopes=("marking:challenge",)))
    assert narrow.status_code == 403
    assert narrow.json()["errors"][0]["extensions"]["code"] == "INSUFFICIENT_SCOPE"
    assert 'scope="supplier:read"' in narrow.headers["www-authenticate"]


async def test_http_export_is_the_callers_own_slice_and_audited(demo: Api) -> None:
    for nation in ("GBR", "USA"):
        reply = await _get(demo, "?format=jsonl", demo.token(nation))
        assert reply.status_code == 200
        assert reply.headers["content-type"].startswith("application/x-ndjson")
        assert reply.headers["cache-control"] == "no-store"
        operator, _ = await export(demo, nation)
        assert lines(reply.content) == lines(operator)
    records = [r for r in demo.audit.records if r.get("event") == "export"]
    started = [r for r in records if r["outcome"] == "started"]
    done = [r for r in records if r["outcome"] == "ok"]
    assert [r["nation"] for r in started] == [r["nation"] for r in done] == ["GBR", "USA"]
    gbr = done[0]
    assert gbr["released"] == sum(gbr["rows"].values()) > 0
    assert gbr["subject"] == "user-gbr"
    assert not any("NOFORN" in m for m in gbr["markings"])


async def test_http_export_graphml_and_as_of(demo: Api) -> None:
    reply = await _get(demo, "?format=graphml&asOf=2026-01-01", demo.token("AUS"))
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("application/graphml+xml")
    parsed = nx.read_graphml(io.BytesIO(reply.content), force_multigraph=True)
    assert parsed.number_of_nodes() > 0


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?format=csv", "format: unknown format 'csv'; use jsonl, graphml"),
        ("?format=xml", "format: unknown format 'xml'"),
        ("?asOf=tomorrow", "asOf: bad date 'tomorrow'"),
        ("?asOf=2026-12-01T10:00:00", "asOf: bad date"),
        ("?attr=capacityy", "attr: unknown field 'capacityy'"),
        ("?nation=USA", "nation: unknown parameter(s) nation"),
        ("?format=jsonl&format=graphml", "format: given more than once"),
    ],
)
async def test_http_export_bad_parameters_are_a_400_naming_them(
    demo: Api, query: str, field: str
) -> None:
    reply = await _get(demo, query, demo.token("GBR"))
    assert reply.status_code == 400
    (error,) = reply.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(field)
    (record,) = [r for r in demo.audit.records if r.get("status") == 400][-1:]
    assert record["event"] == "export"
    assert record["error_codes"] == ["BAD_USER_INPUT"]


async def test_http_export_attr_limits_the_fields(demo: Api) -> None:
    reply = await _get(demo, "?attr=name&attr=provides.trl", demo.token("GBR"))
    assert reply.status_code == 200
    named = {k for row in lines(reply.content) for k in row}
    assert named - {"type", "key", "marking", "origin", "supplier", "capability"} - {
        "buyer",
        "child",
        "parent",
        "requires",
    } == {"name", "name.marking", "trl", "trl.marking"}


async def test_http_export_takes_a_heavy_slot_and_is_rate_limited(
    demo: Api, tmp_path: Path
) -> None:
    env = {
        "DIBX_RATE_PER_TOKEN": "60",
        "DIBX_RATE_PER_TOKEN_BURST": "1",
        "DIBX_HEAVY_PER_TOKEN": "1",
    }
    limited = Api(demo.graph, tmp_path, env=env, clock=lambda: 0.0)  # no bucket refills
    try:
        token = limited.token("GBR")
        async with limited.app.state.heavy.slot("user-gbr"):  # the caller's heavy work
            busy = await _get(limited, "", token)
        assert busy.status_code == 429
        assert busy.headers["retry-after"] == "5"
        assert "heavy" in busy.json()["errors"][0]["message"]
        again = await _get(limited, "", token)
        assert again.status_code == 429
        assert again.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        codes = [r["error_codes"] for r in limited.audit.records if r.get("event") == "export"]
        assert codes == [["LIMIT_EXCEEDED"], ["RATE_LIMITED"]]
    finally:
        await limited.close()


async def test_http_export_gives_back_its_heavy_slot_when_the_client_leaves(demo: Api) -> None:
    token = demo.token("GBR")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/export",
        "raw_path": b"/export",
        "query_string": b"format=jsonl",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", b"dibx.test")],
        "client": ("127.0.0.1", 1),
        "server": ("dibx.test", 80),
    }
    sent: list[dict[str, Any]] = []

    async def gone() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await demo.app(scope, gone, send)
    heavy = demo.app.state.heavy
    assert heavy.held == 0
    async with heavy.slot("user-gbr"), heavy.slot("user-gbr"):  # both of its slots are free
        assert heavy.held == 2


async def _cli(neo4j_uri: str, tmp_path: Path, *args: str) -> tuple[int | None, bytes, str]:
    env = {
        **os.environ,
        "DIBX_ENV": "test",
        "DIBX_NEO4J_URI": neo4j_uri,
        "DIBX_DATA_DIR": str(tmp_path / "data"),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dibx.cli", "export", *args, env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await child.communicate()
    return child.returncode, out, err.decode()


async def test_cli_export_writes_the_slice_and_names_a_bad_nation(
    demo: Api, neo4j_uri: str, tmp_path: Path
) -> None:
    code, out, err = await _cli(neo4j_uri, tmp_path, "--nation", "GBR", "--format", "jsonl")
    assert code == 0, err
    operator, tally = await export(demo, "GBR")
    assert lines(out) == lines(operator)
    assert f"exported for GBR: suppliers {tally.rows['suppliers']}" in err
    code, out, err = await _cli(neo4j_uri, tmp_path, "--nation", "XX", "--format", "csv")
    assert (code, out) == (2, b"")
    assert "dibx export: nation: 'XX' is not an ISO 3166-1 alpha-3 code" in err
    code, _, err = await _cli(neo4j_uri, tmp_path, "--nation", "GBR", "--format", "csv")
    assert code == 2
    assert "out: CSV is one file per entity: give a directory with --out" in err
