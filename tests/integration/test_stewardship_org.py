"""Who may change a record under the policy's `[stewardship] steward` setting, and what a
refusal says: FORBIDDEN names the rule that applied, "the originating nation" under
per-nation stewardship and "the originating org" under per-org stewardship (for a record
written with an org; one written without stays its nation's), through a mutation, an import
and a marking review alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dibx.graph.driver import Graph
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    CREATE_SUPPLIER,
    SET_PROVIDES,
    UPDATE_SUPPLIER,
    WRITER,
    cid,
    payload,
    policy_with_steward,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j

IMPORT_ROWS = """mutation I($entity: String!, $data: String!) {
  importRows(entity: $entity, format: CSV, data: $data, dryRun: false) {
    rejects { line column code reason } } }"""
REAFFIRM = """mutation A($input: ReaffirmMarkingInput!) {
  reaffirmMarking(input: $input) { userErrors { code message } } }"""
REVIEWER = ("supplier:read", "marking:review", "data:write")
RECORD = "only the originating {} may change this record"
LINKS = "only the originating {} of the supplier may change its links"


def _data() -> Any:
    return b.dataset(
        suppliers=[b.supplier("gbr-seeded", "GBR", record="CUI", employees=5)],
        capabilities=[b.capability("cap", record="CUI")],
    )


async def _refusals(api: Api, key: str, nation: str, org: str) -> list[tuple[str, str]]:
    """(code, message) of an update of `key` and of setting an offer of it, as `nation`/`org`."""
    update = {
        "id": sid(key),
        "expectedVersion": 1,
        "fields": {"employees": {"value": 7, "marking": "CUI"}},
        "reason": "corrected",
    }
    offer = {"supplier": sid(key), "capability": cid("cap"), "marking": "CUI", "fields": {}}
    out = []
    for document, given in ((UPDATE_SUPPLIER, update), (SET_PROVIDES, offer)):
        errors = payload(await write(api, document, given, nation, org=org))["userErrors"]
        out += [(e["code"], e["message"]) for e in errors]
    return out


async def _import_refusals(
    api: Api, key: str, nation: str, org: str, entities: tuple[str, ...] = ("suppliers", "provides")
) -> list[tuple[str, str]]:
    """(code, reason) of the rejects of a suppliers row and a provides row for `key`."""
    token = api.token(nation, WRITER, org=org)
    rows = {
        "suppliers": f"key,marking,name,nation\n{key},CUI,Renamed Ltd,GBR\n",
        "provides": f"supplier,capability,marking\n{key},cap,CUI\n",
    }
    out = []
    for entity in entities:
        data = rows[entity]
        reply = await api.query(IMPORT_ROWS, {"entity": entity, "data": data}, token=token)
        assert reply.errors == [], reply.body
        out += [(r["code"], r["reason"]) for r in reply.data["importRows"]["rejects"]]
    return out


async def _review_refusal(api: Api, key: str, nation: str, org: str) -> list[tuple[str, str]]:
    token = api.token(nation, REVIEWER, org=org)
    given = {"id": sid(key), "expectedVersion": 1, "reason": "still right"}
    reply = await api.query(REAFFIRM, {"input": given}, token=token)
    assert reply.errors == [], reply.body
    return [(e["code"], e["message"]) for e in reply.data["reaffirmMarking"]["userErrors"]]


@pytest.mark.parametrize("steward", ["nation", "org"])
async def test_forbidden_names_the_stewardship_rule_that_applied(
    graph: Graph, tmp_path: Path, steward: str
) -> None:
    api = Api(graph, tmp_path, env=policy_with_steward(tmp_path, steward))
    try:
        await api.load(_data())
        made = payload(await write(api, CREATE_SUPPLIER, supplier_input("acme"), org="bae"))
        assert made["userErrors"] == []
        key = made["changes"][0]["key"]  # GBR:acme, originated by GBR's org bae
        forbidden = [("FORBIDDEN", RECORD.format(steward)), ("FORBIDDEN", LINKS.format(steward))]
        if steward == "org":
            # Another org of the same nation: refused by the org rule, said so.
            assert await _refusals(api, key, "GBR", "qinetiq") == forbidden
            # Its import names the record by the importer's own key (`acme` is GBR:acme).
            assert await _import_refusals(api, "acme", "GBR", "qinetiq") == forbidden
            assert await _review_refusal(api, key, "GBR", "qinetiq") == [
                ("FORBIDDEN", "only the originating org may review this marking")
            ]
            # A record written without an org (seeded) stays its nation's: the nation rule.
            assert await _refusals(api, "gbr-seeded", "USA", "lockheed") == [
                ("FORBIDDEN", RECORD.format("nation")),
                ("FORBIDDEN", LINKS.format("nation")),
            ]
        else:
            assert await _refusals(api, key, "USA", "lockheed") == forbidden
            # An import by another nation names a GBR record by the key dibx shows for it in
            # an offer (a record row under that key would be the importer's own new record).
            refused = await _import_refusals(api, key, "USA", "lockheed", ("provides",))
            assert refused == forbidden[1:]
            assert await _review_refusal(api, key, "USA", "lockheed") == [
                ("FORBIDDEN", "only the originator (GBR) may review this marking")
            ]
            # Another org of the same nation is the same steward.
            assert await _refusals(api, key, "GBR", "qinetiq") == []
    finally:
        await api.close()
