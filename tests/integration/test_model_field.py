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
    await api.load(b.dataset(suppliers=[b.supplier("s1", "USA"), b.supplier("s2", "GBR")]))
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
