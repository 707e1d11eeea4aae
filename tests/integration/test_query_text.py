"""The compiled Cypher text depends on the document's shape, never on argument values.

Neo4j keeps one plan per query text and plans a new text from scratch (seconds for a rich
compiled read on a busy server). A nested page's size or cursor that changed the text would
make every new value a cold plan: a dashboard paging a nested connection would wait for the
planner on each page.

Invariants:
- two requests differing only in a nested relation's `first`, or in its cursor, run the
  same query text (and the answers follow the values);
- the same for relations under a root page's nodes;
- two aliases of one relation with different arguments still get their own results.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from dibx.graph.driver import Graph
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

NESTED = """
query Nested($id: ID!, $n: Int!, $after: String) {
  supplier(id: $id) { key
    suppliers(first: $n, after: $after) { edges { cursor node { key } } pageInfo { hasNextPage } }
  }
}
"""
UNDER_A_PAGE = """
query UnderAPage($n: Int!) {
  suppliers(first: 1, sort: [{field: KEY, direction: ASC}]) {
    nodes { key capabilities(first: $n) { nodes { key } } }
  }
}
"""
ALIASES = """
query Aliases($id: ID!) {
  supplier(id: $id) {
    one: suppliers(first: 1) { nodes { key } }
    three: suppliers(first: 3) { nodes { key } }
  }
}
"""


@pytest_asyncio.fixture(loop_scope="session")
async def recorded(api: Api) -> AsyncIterator[tuple[Api, list[str]]]:
    await api.load(
        b.dataset(
            suppliers=[b.supplier(f"s{i}", "USA") for i in range(1, 6)],
            capabilities=[b.capability("c1"), b.capability("c2"), b.capability("c3")],
            provides=[b.provides("s1", "c1"), b.provides("s1", "c2"), b.provides("s1", "c3")],
            sources_from=[b.sources("s1", f"s{i}") for i in range(2, 6)],
        )
    )
    texts: list[str] = []
    graph: Graph = api.graph
    original = graph.read

    async def read(query: Any, params: Any = None, **kw: Any) -> list[dict[str, Any]]:
        texts.append(str(query))
        return await original(query, params, **kw)

    graph.read = read  # type: ignore[method-assign]
    yield api, texts


async def _ask(api: Api, texts: list[str], document: str, **variables: Any) -> tuple[Any, str]:
    before = len(texts)
    reply = await api.query(document, variables)
    assert reply.errors == [], reply.errors
    # The compiled read, not the membership reads the first request makes for the banner.
    compiled = [t for t in texts[before:] if "$groups" in t and ":MEMBER_OF]" not in t]
    assert len(compiled) == 1, compiled  # one compiled read per request
    return reply.data, compiled[0]


async def test_a_nested_page_size_or_cursor_does_not_change_the_query_text(
    recorded: tuple[Api, list[str]],
) -> None:
    api, texts = recorded
    s1 = encode_id("Supplier", "s1")
    one, text_one = await _ask(api, texts, NESTED, id=s1, n=1)
    two, text_two = await _ask(api, texts, NESTED, id=s1, n=2)
    assert [e["node"]["key"] for e in one["supplier"]["suppliers"]["edges"]] == ["s2"]
    assert [e["node"]["key"] for e in two["supplier"]["suppliers"]["edges"]] == ["s2", "s3"]
    assert text_one == text_two

    first_cursor = one["supplier"]["suppliers"]["edges"][0]["cursor"]
    second_cursor = two["supplier"]["suppliers"]["edges"][1]["cursor"]
    after_one, text_after_one = await _ask(api, texts, NESTED, id=s1, n=1, after=first_cursor)
    after_two, text_after_two = await _ask(api, texts, NESTED, id=s1, n=1, after=second_cursor)
    assert [e["node"]["key"] for e in after_one["supplier"]["suppliers"]["edges"]] == ["s3"]
    assert [e["node"]["key"] for e in after_two["supplier"]["suppliers"]["edges"]] == ["s4"]
    assert text_after_one == text_after_two


async def test_a_relation_page_size_under_a_root_page_does_not_change_the_query_text(
    recorded: tuple[Api, list[str]],
) -> None:
    api, texts = recorded
    one, text_one = await _ask(api, texts, UNDER_A_PAGE, n=1)
    three, text_three = await _ask(api, texts, UNDER_A_PAGE, n=3)
    assert [n["key"] for n in one["suppliers"]["nodes"][0]["capabilities"]["nodes"]] == ["c1"]
    assert [n["key"] for n in three["suppliers"]["nodes"][0]["capabilities"]["nodes"]] == [
        "c1",
        "c2",
        "c3",
    ]
    assert text_one == text_three


async def test_aliases_with_different_arguments_keep_their_own_results(
    recorded: tuple[Api, list[str]],
) -> None:
    api, texts = recorded
    data, _ = await _ask(api, texts, ALIASES, id=encode_id("Supplier", "s1"))
    assert [n["key"] for n in data["supplier"]["one"]["nodes"]] == ["s2"]
    assert [n["key"] for n in data["supplier"]["three"]["nodes"]] == ["s2", "s3", "s4"]


END_CURSOR_ONLY = """
query EndCursor($id: ID!, $after: String) {
  supplier(id: $id) { key
    suppliers(first: 2, after: $after) { nodes { key } pageInfo { endCursor hasNextPage } }
  }
}
"""


async def test_a_link_s_place_is_read_only_where_a_cursor_is_asked(
    recorded: tuple[Api, list[str]],
) -> None:
    """Each link's place (far key and edge id, what a cursor seals) is about 60 bytes per
    link for Neo4j to write and the API to decode: the query returns it only for a relation
    whose edges' `cursor` or page's `startCursor`/`endCursor` is selected."""
    api, texts = recorded
    s1 = encode_id("Supplier", "s1")
    _, without = await _ask(api, texts, UNDER_A_PAGE, n=2)
    assert "at: [" not in without
    _, with_edges = await _ask(api, texts, NESTED, id=s1, n=1)
    assert with_edges.count("at: [") == 1
    page, with_end = await _ask(api, texts, END_CURSOR_ONLY, id=s1)
    assert with_end.count("at: [") == 1
    info = page["supplier"]["suppliers"]["pageInfo"]
    assert info["hasNextPage"] is True
    more, _ = await _ask(api, texts, END_CURSOR_ONLY, id=s1, after=info["endCursor"])
    assert [n["key"] for n in more["supplier"]["suppliers"]["nodes"]] == ["s4", "s5"]
