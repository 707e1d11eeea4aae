"""Large documents parsed and validated off the event loop, clean ones remembered per caller's
scopes (`dibx.schema.prepared`): the answers are those of the inline path, error for error.
Every parse of a large document, over HTTP or the subscription socket, stops at the token
limit and runs off the loop."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from graphql.language.parser import Parser

from dibx.graph.driver import Graph
from tests.support import builders as b
from tests.support.api import READ, Api
from tests.support.live import LiveClient, serving

pytestmark = pytest.mark.neo4j

PAD = "# " + "x" * 3000 + "\n"  # a comment: makes a document large without a token
NATIONS = 'nations(codes: ["GBR"]) { nodes { code name } }'
WIDE = "suppliers(first: 100) { nodes { capabilities(first: 100) { nodes { key } } } }"
ALIASES = " ".join(f"n{i}: {NATIONS}" for i in range(3))
DOCUMENTS = {
    "clean": f"{PAD}query {{ {ALIASES} }}",
    "syntax error": f"{PAD}query {{ {ALIASES} ",
    "over the token limit": "query { " + " ".join(f"a{i}: __typename" for i in range(1100)) + " }",
    "unknown field": f"{PAD}query {{ {ALIASES} nope }}",
    "too deep": PAD + "query { " + 'supplier(key: "s") { ' * 13 + "key" + " }" * 14,
    "scope missing": f"{PAD}query {{ {ALIASES} supplyChain {{ edges {{ sole }} }} }}",
    "over budget": PAD + "query { " + " ".join(f"a{i}: {WIDE}" for i in range(5)) + " }",
}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
async def test_a_large_document_is_answered_as_when_parsed_on_the_loop(
    api: Api, graph: Graph, tmp_path: Path, name: str
) -> None:
    await api.load(b.dataset())
    document = DOCUMENTS[name]
    assert len(document) > 2048
    # The same app, but every document is parsed and validated inline, as before.
    inline = Api(graph, tmp_path / "inline", env={"DIBX_LARGE_DOCUMENT_BYTES": str(10**8)})
    try:
        for _ in range(2):  # the second time, a clean document comes from the cache
            offloaded = await api.query(document, token=api.token("GBR", scopes=("supplier:read",)))
            expected = await inline.query(
                document, token=inline.token("GBR", scopes=("supplier:read",))
            )
            assert (offloaded.status, offloaded.body) == (expected.status, expected.body)
    finally:
        await inline.close()
    if name == "clean":
        assert offloaded.status == 200
        assert offloaded.data["n0"]["nodes"][0]["code"] == "GBR"
    else:
        assert offloaded.errors


@pytest.mark.parametrize("size", ["small", "large"])
async def test_a_remembered_document_is_still_checked_against_the_callers_scopes(
    api: Api, size: str
) -> None:
    await api.load(b.dataset())
    document = ("" if size == "small" else PAD) + f"query {{ {NATIONS} }}"
    allowed = await api.query(document, token=api.token("GBR", scopes=READ))
    assert allowed.status == 200
    assert allowed.errors == []
    # Same text, cached as clean for the first caller: refused for one without the scope.
    refused = await api.query(document, token=api.token("GBR", scopes=("supply_chain:read",)))
    assert refused.status == 403
    assert [e["extensions"]["code"] for e in refused.errors] == ["INSUFFICIENT_SCOPE"]
    assert refused.data is None
    again = await api.query(document, token=api.token("GBR", scopes=READ))
    assert (again.status, again.errors) == (200, [])


async def test_every_parse_of_a_large_document_stops_at_the_token_limit_off_the_loop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A document's parse costs CPU in proportion to its tokens: the token limit bounds each
    parse of it (the one that names the operation for the audit too), and a large document
    is parsed in a worker thread, over HTTP and over the socket alike (a spy around the
    parser records where each parse ran and with which limit)."""
    loop_thread = threading.get_ident()
    parses: list[tuple[int, int | None, bool]] = []
    real = Parser.parse_document

    def spy(self: Any) -> Any:
        size = len(self._lexer.source.body)
        parses.append((size, self._max_tokens, threading.get_ident() == loop_thread))
        return real(self)

    monkeypatch.setattr(Parser, "parse_document", spy)
    tag = f"# {uuid.uuid4().hex}\n"  # a text no earlier test parsed (parses are cached)
    many = " ".join(["cursor"] * 2100)
    query_over = tag + "query { " + " ".join(f"a{i}: __typename" for i in range(1100)) + " }"
    subscription_over = tag + f"subscription {{ changes {{ {many} }} }}"
    subscription = (
        tag + PAD + "subscription S($after: String) { changes(after: $after) { cursor } }"
    )
    token = api.token("GBR")

    reply = await api.query(query_over, token=token)
    assert [e["extensions"]["limit"] for e in reply.errors] == ["tokens"]
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(token) == {"type": "connection_ack"}
        sid = await client.subscribe(document=subscription_over)
        refused = await client.receive()
        assert isinstance(refused, dict)
        assert (refused["id"], refused["type"]) == (sid, "error"), refused
        assert [e["extensions"]["limit"] for e in refused["payload"]] == ["tokens"]
        sid = await client.subscribe({"after": "garbage"}, document=subscription)
        ran = await client.receive()
        assert isinstance(ran, dict)
        assert (ran["id"], ran["type"]) == (sid, "next"), ran
        assert [e["extensions"]["code"] for e in ran["payload"]["errors"]] == ["BAD_USER_INPUT"]

    large = [(limit, on_loop) for size, limit, on_loop in parses if size > 2048]
    assert len(large) >= 3
    assert set(large) == {(2000, False)}
