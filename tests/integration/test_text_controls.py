"""Control characters in text, through the API: a mutation refuses them (naming the input
and the character) and writes nothing; an import rejects the row with its file, line and
column, as any other invalid value; a free-text description keeps its tabs and line
breaks. The rules per field are the model's (`tests/unit/test_model_text.py`)."""

from __future__ import annotations

import pytest

from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    CREATE_SUPPLIER,
    WRITER,
    payload,
    sid,
    supplier_input,
    write,
)

pytestmark = pytest.mark.neo4j

IMPORT_ROWS = """mutation I($format: ImportFormat!, $data: String!) {
  importRows(entity: "suppliers", format: $format, data: $data, dryRun: false) {
    counts { created rejected } rejects { file line column code reason } } }"""
DESCRIBED = "query S($id: ID!) { supplier(id: $id) { name description } }"
SINGLE = "it takes one line of text without control characters"
FREE = "of the control characters it takes only tab, line feed and carriage return"


async def test_a_mutation_refuses_control_characters_and_writes_nothing(api: Api) -> None:
    await api.load(b.dataset())
    cases = [
        ("name", "Acme\x1bLtd", f"'name' contains the control character U+001B; {SINGLE}"),
        ("city", "Leeds\tWest", f"'city' contains the control character U+0009; {SINGLE}"),
        (
            "description",
            "Bells\x07",
            f"'description' contains the control character U+0007; {FREE}",
        ),
    ]
    for name, value, message in cases:
        given = supplier_input("acme")
        given["fields"][name] = {"value": value, "marking": "CUI"}
        out = payload(await write(api, CREATE_SUPPLIER, given))
        assert out["changes"] == []
        assert [(e["field"], e["code"], e["message"]) for e in out["userErrors"]] == [
            (["input", "fields", name, "value"], "INVALID", message)
        ]
    reason = {**supplier_input("acme"), "reason": "checked\x00"}
    out = payload(await write(api, CREATE_SUPPLIER, reason))
    assert [(e["field"], e["message"]) for e in out["userErrors"]] == [
        (["input", "reason"], f"'reason' contains the control character U+0000; {FREE}")
    ]

    given = supplier_input("acme")
    given["fields"]["description"] = {"value": "Magnets:\r\n\tsintered", "marking": "CUI"}
    assert payload(await write(api, CREATE_SUPPLIER, given))["userErrors"] == []
    read = await api.query(DESCRIBED, {"id": sid("GBR:acme")}, nation="GBR")
    assert read.data["supplier"] == {"name": "Acme Ltd", "description": "Magnets:\r\n\tsintered"}


async def test_an_import_rejects_control_characters_at_file_line_and_column(api: Api) -> None:
    await api.load(b.dataset())
    token = api.token("GBR", WRITER)
    csv_rows = (
        "key,marking,name,nation,description\n"
        'good,CUI,Good Ltd,GBR,"Two\n\tlines"\n'
        "del,CUI,Del\x7fLtd,GBR,\n"
        "nel,CUI,Nel Ltd,GBR,Next\x85line\n"
    )
    reply = await api.query(IMPORT_ROWS, {"format": "CSV", "data": csv_rows}, token=token)
    assert reply.errors == [], reply.body
    got = reply.data["importRows"]
    assert got["counts"] == {"created": 1, "rejected": 2}
    assert got["rejects"] == [
        {
            "file": "data.suppliers.csv",
            "line": 4,
            "column": "name",
            "code": "INVALID",
            "reason": f"'name' contains the control character U+007F; {SINGLE}",
        },
        {
            "file": "data.suppliers.csv",
            "line": 5,
            "column": "description",
            "code": "INVALID",
            "reason": f"'description' contains the control character U+0085; {FREE}",
        },
    ]
    jsonl = (
        '{"key": "nul", "marking": "CUI", "name": "Nul Ltd", "nation": "GBR", "city": "A\\u0000"}\n'
    )
    reply = await api.query(IMPORT_ROWS, {"format": "JSONL", "data": jsonl}, token=token)
    assert reply.data["importRows"]["rejects"] == [
        {
            "file": "data.suppliers.jsonl",
            "line": 1,
            "column": "city",
            "code": "INVALID",
            "reason": f"'city' contains the control character U+0000; {SINGLE}",
        }
    ]
    read = await api.query(DESCRIBED, {"id": sid("GBR:good")}, nation="GBR")
    assert read.data["supplier"] == {"name": "Good Ltd", "description": "Two\n\tlines"}
