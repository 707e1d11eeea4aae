"""List arguments are bounded (`DIBX_MAX_LIST_ARGS`, 100 by default): a list of more values,
written in the document or given in the variables, is refused before any Cypher runs with
LIMIT_EXCEEDED naming the limit, over HTTP and on the subscription socket alike. Each value
would otherwise become an element of a Cypher list parameter, up to the body limit."""

from __future__ import annotations

from typing import Any

import pytest

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api
from tests.support.live import QUERY, LiveClient, serving

pytestmark = pytest.mark.neo4j

SUPPLIERS = "query S($n: [String!]) { suppliers(filter: {nations: $n}) { totalCount } }"
OVER = {"code": "LIMIT_EXCEEDED", "limit": "listArgs", "maximum": 100, "measured": 101}


def _ids(count: int) -> list[str]:
    return [encode_id("Supplier", f"s{i}") for i in range(count)]


def _literal(count: int) -> str:
    values = ", ".join(['"GBR"'] * count)
    return f"{{ suppliers(filter: {{nations: [{values}]}}) {{ totalCount }} }}"


@pytest.mark.asyncio(loop_scope="session")
async def test_a_list_over_the_limit_is_refused_before_any_cypher(api: Api) -> None:
    await api.load(b.dataset())
    # At the limit, everything runs.
    assert (await api.query(SUPPLIERS, {"n": ["GBR"] * 100})).errors == []
    assert (await api.query(_literal(100))).errors == []
    assert (await api.query(QUERY, {"filter": {"ids": _ids(100)}})).errors == []
    reads = api.graph.stats.reads
    for document, variables in (
        (SUPPLIERS, {"n": ["GBR"] * 101}),
        (_literal(101), {}),
        (QUERY, {"filter": {"ids": _ids(101)}}),
        (QUERY, {"types": ["SUPPLIER"] * 101}),
    ):
        reply = await api.query(document, variables)
        assert reply.data is None, reply.body
        [error] = reply.errors
        assert error["extensions"] == OVER, (document, error)
        assert "over the limit of 100" in error["message"]
    assert api.graph.stats.reads == reads


def _codes(message: dict[str, Any]) -> list[str]:
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors") or []
    return [e["extensions"]["code"] for e in errors]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_subscription_with_a_list_over_the_limit_is_refused(api: Api) -> None:
    token = api.token("GBR", scopes=("supplier:read",))
    async with serving(api) as url, LiveClient.opened(url) as client:
        assert await client.init(token) == {"type": "connection_ack"}
        sid = await client.subscribe({"filter": {"ids": _ids(101)}})
        refused = await client.receive()
        assert isinstance(refused, dict)
        assert (refused["id"], refused["type"]) == (sid, "error"), refused
        assert _codes(refused) == ["LIMIT_EXCEEDED"], refused
        assert refused["payload"][0]["extensions"] == OVER
    closing = [r for r in api.audit.records if r.get("subscription_id") == sid][-1]
    assert (closing["outcome"], closing["error_codes"]) == ("refused", ["LIMIT_EXCEEDED"])
