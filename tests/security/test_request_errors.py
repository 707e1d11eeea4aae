"""Malformed and mistaken requests get a specific error with a code, never a 500.

Invariants:
- a field the schema lacks is a validation error (GRAPHQL_VALIDATION_FAILED), not a scope
  refusal: the scope gate judges only root fields that exist;
- status per GraphQL over HTTP: 200 under `application/json`, 400 (and no `data` entry)
  under `application/graphql-response+json` for request errors;
- a body Python cannot parse (bad JSON, nesting deeper than its parser's recursion) is a
  400 with a JSON error body and a code;
- with introspection off (production), no error suggests names ("Did you mean ...?"),
  which would give the schema away; in development they help.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from dibx.graph.driver import Graph
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

GRAPHQL_RESPONSE = {"Accept": "application/graphql-response+json"}
MISSPELLED_ROOT = "{ supplierz { nodes { name } } }"


async def test_misspelled_root_field_is_a_validation_error_not_a_scope_refusal(api: Api) -> None:
    reply = await api.query(MISSPELLED_ROOT)
    assert reply.status == 200, reply.body
    assert "www-authenticate" not in reply.headers
    [error] = reply.errors
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}
    assert error["message"].startswith("Cannot query field 'supplierz' on type 'Query'.")


async def test_request_errors_are_400_without_data_for_graphql_response_json(api: Api) -> None:
    for document, code in (
        (MISSPELLED_ROOT, "GRAPHQL_VALIDATION_FAILED"),
        ("{ suppliers { nodes { key ", "GRAPHQL_PARSE_FAILED"),
        ("query ($n: Int!) { suppliers(first: $n) { totalCount } }", "BAD_USER_INPUT"),
    ):
        reply = await api.query(document, headers=GRAPHQL_RESPONSE)
        assert reply.status == 400, (document, reply.body)
        assert "data" not in reply.body
        assert [e["extensions"]["code"] for e in reply.errors] == [code]
    # A field error is not a request error: data is present, and so is the 200.
    field_error = await api.query('{ supplier(id: "!") { key } }', headers=GRAPHQL_RESPONSE)
    assert field_error.status == 200
    assert field_error.body["data"] == {"supplier": None}
    # Missing scopes still answer 403, whatever the media type.
    refused = await api.query("{ suppliers { totalCount } }", scopes=(), headers=GRAPHQL_RESPONSE)
    assert refused.status == 403


async def test_deeply_nested_variables_are_a_json_400(api: Api) -> None:
    depth = 100_000
    body = '{"query": "{ viewer { nation } }", "variables": ' + '{"a":' * depth
    body += "1" + "}" * depth + "}"
    response = await api.client.post(
        "/graphql",
        content=body,
        headers={"Authorization": f"Bearer {api.token()}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_malformed_json_is_a_json_400(api: Api) -> None:
    response = await api.client.post(
        "/graphql",
        content="{not json",
        headers={"Authorization": f"Bearer {api.token()}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# -- suggestions ------------------------------------------------------------------------

MISTAKES = [
    "{ suppliers { nodes { nmae } } }",  # field
    MISSPELLED_ROOT,  # root field
    "{ suppliers(frist: 1) { totalCount } }",  # argument
    "{ suppliers(sort: [{field: NAMES}]) { totalCount } }",  # enum literal
    '{ suppliers(filter: {nation: ["USA"]}) { totalCount } }',  # input field
    "query ($s: SupplierSorts) { suppliers { totalCount } }",  # type
]
VARIABLE_MISTAKE = (
    "query ($f: SupplierSortField!) { suppliers(sort: [{field: $f}]) { totalCount } }"
)


@pytest_asyncio.fixture(loop_scope="session")
async def production(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    """The app with introspection off, as DIBX_ENV=production has it by default."""
    client = Api(graph, tmp_path, env={"DIBX_INTROSPECTION": "false"})
    yield client
    await client.close()


async def errors_for(api: Api) -> list[list[str]]:
    """The error messages of each mistake, one list per document."""
    await api.load(b.dataset())
    messages = []
    for document in MISTAKES:
        reply = await api.query(document)
        assert reply.errors, document
        messages.append([e["message"] for e in reply.errors])
    reply = await api.query(VARIABLE_MISTAKE, {"f": "NAMES"})
    assert reply.errors
    messages.append([e["message"] for e in reply.errors])
    return messages


async def test_no_suggestions_with_introspection_off(production: Api) -> None:
    messages = await errors_for(production)
    assert [m for ms in messages for m in ms if "Did you mean" in m] == []
    assert messages[0] == ["Cannot query field 'nmae' on type 'Supplier'."]
    assert messages[-1] == [
        "Variable '$f' has invalid value: Value 'NAMES' does not exist in 'SupplierSortField' enum."
    ]


async def test_suggestions_in_development(api: Api) -> None:
    messages = await errors_for(api)
    assert messages[0] == ["Cannot query field 'nmae' on type 'Supplier'. Did you mean 'name'?"]
    for document, ms in zip([*MISTAKES, VARIABLE_MISTAKE], messages, strict=True):
        assert any("Did you mean" in m for m in ms), (document, ms)


# -- request errors are JSON with a code; limits say which and by how much ------------------


COMPILED = "{ suppliers { totalCount } }"


async def test_malformed_requests_answer_json_with_a_code(api: Api) -> None:
    headers = {"Authorization": f"Bearer {api.token()}"}
    for _ in range(2):  # validated once, then answered by the compiled path
        assert (await api.query(COMPILED)).errors == []
    for body, status in (
        ({"variables": {}}, 400),  # no query
        ({"query": "query A { viewer { nation } }", "operationName": "B"}, 400),
        ({"query": 42}, 400),
        ([{"query": "{ viewer { nation } }"}], 400),  # a batch
        # A document the compiled path answers (asked once before, below) with an
        # operationName or variables of the wrong JSON type: 400, never a crash.
        ({"query": COMPILED, "operationName": {}}, 400),
        ({"query": COMPILED, "operationName": ["A"]}, 400),
        ({"query": COMPILED, "variables": ["x"]}, 400),
    ):
        response = await api.client.post("/graphql", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.headers["content-type"].startswith("application/json"), body
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_REQUEST", body
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        response = await api.client.post(
            "/graphql",
            content="{ viewer { nation } }",
            headers={**headers, "Content-Type": content_type},
        )
        assert response.status_code in (400, 415), content_type
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def _deep(suppliers: int) -> str:
    """`suppliers` nested supplier connections: 2 * suppliers - 1 levels deep."""
    inner = "totalCount"
    for _ in range(suppliers - 1):
        inner = f"nodes {{ suppliers {{ {inner} }} }}"
    return f"{{ suppliers {{ {inner} }} }}"


@pytest_asyncio.fixture(loop_scope="session")
async def limited(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    env = {"DIBX_MAX_DEPTH": "4", "DIBX_MAX_ALIASES": "2", "DIBX_MAX_TOKENS": "60"}
    client = Api(graph, tmp_path, env=env)
    yield client
    await client.close()


@pytest.mark.parametrize("accept", ["application/json", "application/graphql-response+json"])
async def test_limits_answer_limit_exceeded_with_the_limit_and_the_measure(
    limited: Api, accept: str
) -> None:
    for document, limit, maximum, measured in (
        (_deep(3), "depth", 4, 5),
        ("{ a: viewer { nation } b: viewer { nation } c: viewer { nation } }", "aliases", 2, 3),
        ("{ " + "viewer { nation } " * 20 + "}", "tokens", 60, 61),
    ):
        reply = await limited.query(document, headers={"Accept": accept})
        assert reply.status == (200 if accept == "application/json" else 400), reply.body
        [error] = reply.errors
        assert error["extensions"] == {
            "code": "LIMIT_EXCEEDED",
            "limit": limit,
            "maximum": maximum,
            "measured": measured,
        }, document
    assert (await limited.query(_deep(2))).errors == []  # 3 levels
