"""Export is a read path: for random graphs and nations it releases exactly what the GraphQL
API answers to that nation, never more.

For each random graph (`stewarded_graphs`: every stewarded record and edge type, random
markings on records, edges and fields, some values absent) and each nation, the rows of
`dibx export --nation N` equal the rows rebuilt from N's GraphQL answers: the same records
and edges (an edge only where N sees both ends), the same released values, each with the
marking the API reports for it, no withheld value and no withheld field's marking (which the
API does disclose under `extensions`, and export leaves out): a withheld field is only named
in `withheld`, exactly the fields the API reports as not released. `origin` is not part of the
API's answer and is compared separately: it is only ever the importer-visible originator.

DIBX_HYPOTHESIS_EXAMPLES scales the number of random graphs (default 20; a quarter here).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from dibx.graph.writes import clear_database
from tests.support.api import Api
from tests.support.exchange import export, lines
from tests.support.strategies import Drawn, stewarded_graphs

pytestmark = pytest.mark.neo4j

EXAMPLES = max(3, int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20")) // 4)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CALLERS = ("USA", "GBR", "AUS", "JPN")
MARKS = "marking fieldMarkings { field marking released }"
SUPPLIER_FIELDS = ("name", "cage", "city", "description", "employees")
CAPABILITY_FIELDS = (
    *("name", "area", "description", "jurisdiction", "usml"),
    *("eccn", "sme", "etl", "classified", "cdnExcluded"),
)
SLICE = f"""{{
  suppliers(first: 50) {{ nodes {{ key {MARKS} {" ".join(SUPPLIER_FIELDS)} nation {{ code }}
    capabilities(first: 50) {{ edges {{ {MARKS} capacity unit trl leadTimeDays node {{ key }} }} }}
    suppliers(first: 50) {{ edges {{ {MARKS} item share sole node {{ key }} }} }}
    owners(first: 50) {{ edges {{ {MARKS} share node {{ key }} }} }} }} }}
  capabilities(first: 50) {{ nodes {{ key {MARKS} {" ".join(CAPABILITY_FIELDS)}
    requires(first: 50) {{ edges {{ marking node {{ key }} }} }} }} }}
  nations(first: 50) {{ nodes {{ code
    suppliers(first: 50) {{ edges {{ marking node {{ key }} }} }} }} }}
}}"""


def _released(item: dict[str, Any], names: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """A row's fields as the API released them: value (if any) and marking."""
    row: dict[str, Any] = {}
    markings = {m["field"]: m for m in item["fieldMarkings"]}
    held = []
    for name in names:
        fm = markings[name]
        if not fm["released"]:
            assert item.get(name) is None
            held.append(name)
            continue
        if item.get(name) is not None:
            row[name] = item[name]
        row[f"{name}.marking"] = fm["marking"]
    if held:  # named as withheld: which fields the API did not release, nothing more
        row["withheld"] = held
    return row


def expected_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The export rows the API's answer implies."""
    based = {
        e["node"]["key"]: (n["code"], e["marking"])
        for n in data["nations"]["nodes"]
        for e in n["suppliers"]["edges"]
    }
    rows: list[dict[str, Any]] = []
    for s in data["suppliers"]["nodes"]:
        row = {"type": "suppliers", "key": s["key"], "marking": s["marking"]}
        row |= _released(s, SUPPLIER_FIELDS)
        if s["nation"] is not None:
            code, marking = based[s["key"]]
            assert code == s["nation"]["code"]
            row |= {"nation": code, "nation.marking": marking}
        rows.append(row)
        for kind, link, role, names in (
            ("provides", "capabilities", "capability", ("capacity", "unit", "trl", "leadTimeDays")),
            ("sources_from", "suppliers", "supplier", ("item", "share", "sole")),
            ("subsidiary_of", "owners", "parent", ("share",)),
        ):
            start = {"provides": "supplier", "sources_from": "buyer", "subsidiary_of": "child"}
            for e in s[link]["edges"]:
                edge = {"type": kind, start[kind]: s["key"], role: e["node"]["key"]}
                edge |= {"marking": e["marking"], **_released(e, names)}
                rows.append(edge)
    for c in data["capabilities"]["nodes"]:
        rows.append(
            {
                "type": "capabilities",
                "key": c["key"],
                "marking": c["marking"],
                **_released(c, CAPABILITY_FIELDS),
            }
        )
        rows += [
            {
                "type": "requires",
                "capability": c["key"],
                "requires": e["node"]["key"],
                "marking": e["marking"],
            }
            for e in c["requires"]["edges"]
        ]
    return rows


def _canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(r, sort_keys=True) for r in rows)


@SETTINGS
@given(drawn=stewarded_graphs().map(Drawn))
async def test_export_releases_exactly_what_the_api_answers(api: Api, drawn: Drawn) -> None:
    await clear_database(api.graph)
    await api.load(drawn.data)
    for nation in CALLERS:
        reply = await api.query(SLICE, nation=nation)
        assert reply.status == 200, reply.body
        assert not reply.errors, reply.errors
        exported, _ = await export(api, nation)
        rows = lines(exported)
        check_origins(rows)
        assert _canonical(rows) == _canonical(expected_rows(reply.data)), nation


def check_origins(rows: list[dict[str, Any]]) -> None:
    """Seeded data: a supplier's origin is its nation only where that is released (else
    none), a capability's the catalogue steward, an edge's its start record's. Removes them."""
    origin: dict[tuple[str, str], str | None] = {}
    starts = {"provides": "supplier", "sources_from": "buyer", "subsidiary_of": "child"}
    for row in rows:
        found = row.pop("origin", None)
        kind = row["type"]
        if kind == "suppliers":
            assert found == row.get("nation"), row
            origin[("suppliers", row["key"])] = found
        elif kind == "capabilities":
            assert found == "USA", row
            origin[("capabilities", row["key"])] = found
        elif kind == "requires":
            assert found == origin[("capabilities", row["capability"])], row
        else:
            assert found == origin[("suppliers", row[starts[kind]])], row
