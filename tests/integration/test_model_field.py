"""Adding a marked field is one model entry: the schema, the compiled read (with the field's
own release check), its description and its sort all follow from it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from strawberry.printer import print_schema

from dibx.auth import markings
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, Field
from dibx.graph.writes import write_dataset
from dibx.ingest.demo import load_demo
from dibx.schema import build_schema
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

WEBSITE = Field("website", str, "Website of the supplier.", sortable=True)
MODEL_WITH_WEBSITE = MODEL.with_field("Supplier", WEBSITE)
SITES = """
{ suppliers(sort: [{field: WEBSITE, direction: DESC}]) {
    nodes { key website fieldMarkings { field marking released } } } }
"""


@pytest_asyncio.fixture(loop_scope="session")
async def api(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    client = Api(graph, tmp_path, model=MODEL_WITH_WEBSITE)
    yield client
    await client.close()


def test_new_field_is_in_the_schema_with_its_description() -> None:
    printed = print_schema(build_schema(MODEL_WITH_WEBSITE))
    assert '"""Website of the supplier."""\n  website: String\n' in printed
    assert "  WEBSITE\n" in printed  # SupplierSortField
    assert "website" not in print_schema(build_schema())


async def _site(graph: Graph, key: str, site: str, marking: str) -> None:
    m = markings.parse(marking)
    await graph.write(
        "MATCH (s:Supplier {id: $key}) "
        "SET s.website = $site, s.marking_website = $m, s.release_website = $r",
        {"key": key, "site": site, "m": str(m), "r": list(markings.release_clauses(m))},
    )


async def test_new_field_is_read_sorted_and_released_per_field(api: Api) -> None:
    # Built and written with the model of record; the new field is set on the nodes below.
    await write_dataset(
        api.graph, b.dataset(suppliers=[b.supplier("s1", "USA"), b.supplier("s2", "GBR")])
    )
    await _site(api.graph, "s1", "https://a.example", "CUI//NOFORN")
    await _site(api.graph, "s2", "https://b.example", "PUBLIC")

    usa = await api.query(SITES, nation="USA")
    assert usa.errors == []
    nodes = usa.data["suppliers"]["nodes"]
    assert [(n["key"], n["website"]) for n in nodes] == [
        ("s2", "https://b.example"),
        ("s1", "https://a.example"),
    ]

    gbr = await api.query(SITES, nation="GBR")
    assert gbr.errors == []
    nodes = gbr.data["suppliers"]["nodes"]
    # Withheld from GBR: null, sorted as null (last), and said under `withheld`.
    assert [(n["key"], n["website"]) for n in nodes] == [
        ("s2", "https://b.example"),
        ("s1", None),
    ]
    s1 = next(n for n in nodes if n["key"] == "s1")
    assert {"field": "website", "marking": "CUI//NOFORN", "released": False} in s1["fieldMarkings"]
    assert {"path": "suppliers.nodes.1.website", "marking": "CUI//NOFORN"} in (
        gbr.releasability["withheld"]
    )


# End to end, nothing but the model entry: a demo file names the field, the loader checks it
# with the model, the writer stores it with its marking, the schema serves it, and a supplier
# whose row gives no marking for it takes the file's default for the field.
PHONE = Field("phone", str, "Switchboard number.", marking="CUI//NOFORN")
MODEL_WITH_PHONE = MODEL.with_field("Supplier", PHONE)
DEMO = """
notice: Illustrative companies, not real ones.
defaults:
  Supplier:
    marking: PUBLIC
    fields: {name: PUBLIC, cage: PUBLIC, city: PUBLIC, description: PUBLIC, employees: PUBLIC,
             phone: CUI//NOFORN}
  BASED_IN:
    marking: PUBLIC
suppliers:
  - {id: p1, name: Open Phone Ltd, nation: GBR, phone: "+44 20 7946 0000",
     markings: {phone: PUBLIC}}
  - {id: p2, name: Quiet Phone Inc, nation: USA, phone: "+1 202 555 0100"}
  - {id: p3, name: Bad Phone Inc, nation: USA, phone: 12345}
"""
PHONES = "{ suppliers(sort: [{field: NAME}]) { nodes { key phone } } }"


@pytest_asyncio.fixture(loop_scope="session")
async def phone_api(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    client = Api(graph, tmp_path, model=MODEL_WITH_PHONE)
    yield client
    await client.close()


async def test_a_field_added_to_the_model_is_loaded_written_and_read_end_to_end(
    phone_api: Api, tmp_path: Path
) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "suppliers.yaml").write_text(DEMO)
    loaded = load_demo(tmp_path / "demo", MODEL_WITH_PHONE)
    # The model's check runs in the loader: a number is not text, and the row says so.
    rows = [(r.row, str(r.reason)) for r in loaded.rejected if not r.row.startswith("defaults")]
    assert rows == [("suppliers[2] (p3)", "'phone' must be text, got int 12345 (quote it in YAML)")]
    await phone_api.load(b.reference().merged(loaded.dataset))

    usa = await phone_api.query(PHONES, nation="USA")
    assert usa.errors == []
    assert usa.data["suppliers"]["nodes"] == [
        {"key": "p1", "phone": "+44 20 7946 0000"},
        {"key": "p2", "phone": "+1 202 555 0100"},
    ]
    gbr = await phone_api.query(PHONES, nation="GBR")
    assert gbr.data["suppliers"]["nodes"] == [
        {"key": "p1", "phone": "+44 20 7946 0000"},
        {"key": "p2", "phone": None},  # the file's default for the field, NOFORN
    ]
    assert {"path": "suppliers.nodes.1.phone", "marking": "CUI//NOFORN"} in (
        gbr.releasability["withheld"]
    )
    # The model of record itself knows no such field: its loader rejects the column by name.
    plain = load_demo(tmp_path / "demo", MODEL)
    rejected = {r.row: str(r.reason) for r in plain.rejected if r.row.startswith("suppliers")}
    assert sorted(rejected) == ["suppliers[0] (p1)", "suppliers[1] (p2)", "suppliers[2] (p3)"]
    assert all(reason.startswith("unknown field(s) phone;") for reason in rejected.values())
