"""GraphML export stays well-formed XML whatever text the stored values hold: a text field
took characters XML 1.0 cannot carry (C0 controls, U+FFFE), and one such value written by
one nation's steward made the GraphML export of every nation that may see it unreadable.
Writes now refuse control characters (`graph.model.check_text`), but values stored before
that, or by a loader that bypasses the model, still reach the export."""

from __future__ import annotations

import io
import json

import networkx as nx
import pytest

from tests.support.api import Api
from tests.support.builders import reference

pytestmark = pytest.mark.neo4j

IMPORT_ROWS = """mutation I($data: String!) {
  importRows(entity: "suppliers", format: JSONL, data: $data) {
    counts { created rejected } } }"""


async def test_graphml_export_parses_with_control_characters_in_stored_text(api: Api) -> None:
    await api.load(reference())
    row = {
        "key": "acme",
        "marking": "CUI",
        "name": "Acme Ltd",
        "city": "Sheffield",
        "description": "tab\tline\nbad\ufffe",
        "nation": "GBR",
    }
    done = await api.query(
        IMPORT_ROWS,
        {"data": json.dumps(row) + "\n"},
        nation="GBR",
        scopes=("supplier:read", "data:write"),
    )
    assert done.data == {"importRows": {"counts": {"created": 1, "rejected": 0}}}, done.body
    # Stored as a write from before the rule would have left them.
    await api.graph.write(
        "MATCH (s:Supplier {id: $id}) SET s.name = $name, s.city = $city",
        {"id": "GBR:acme", "name": "Acme\x00Ltd", "city": "Shef\x01field"},
    )
    reply = await api.client.get(
        "/export",
        params={"format": "graphml"},
        headers={"Authorization": f"Bearer {api.token('USA')}"},
    )
    assert reply.status_code == 200
    graph = nx.read_graphml(io.BytesIO(reply.content), force_multigraph=True)
    node = graph.nodes["suppliers/GBR:acme"]
    assert (node["name"], node["city"]) == ("Acme\ufffdLtd", "Shef\ufffdfield")
    assert node["description"] == "tab\tline\nbad\ufffd"
