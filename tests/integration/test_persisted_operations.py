"""Persisted operations: registered (trusted) documents by SHA-256, the allow list that
DIBX_TRUSTED_DOCUMENTS=require enforces, and Apollo's automatic persisted queries (APQ).

Invariants:
- a registered document runs by its id (`documentId` or `extensions.persistedQuery`), over
  POST and over GET, and GET never runs a mutation or free text;
- under `require` only registered documents run (by id, or as text whose hash is
  registered); APQ cannot register anything there;
- APQ: an unknown hash answers PERSISTED_QUERY_NOT_FOUND with status 200, the text with its
  hash registers it, a hash that does not match its text is refused;
- `dibx operations add` writes the manifest, checks documents against the schema, and takes
  the manifests graphql-codegen and relay-compiler write;
- every refusal is audited with its code;
- the allow list holds on the subscription socket too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from dibx import cli
from dibx.config import ConfigError
from dibx.graph.driver import Graph
from tests.support import builders as b
from tests.support.api import Api
from tests.support.live import CHANGES, LiveClient, serving

pytestmark = pytest.mark.neo4j

COUNT = "query Count { suppliers { totalCount } }"
UNREGISTERED = "query Other { suppliers { nodes { key } } }"
MUTATION = (
    'mutation Challenge { challengeMarking(input: {target: "x", field: "name", '
    'proposedMarking: "CUI", justification: "j"}) { acknowledgement } }'
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text)}}


def manifest(tmp_path: Path, *documents: str) -> Path:
    path = tmp_path / "trusted-documents.json"
    path.write_text(json.dumps({sha(d): d for d in documents}))
    return path


async def post(api: Api, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await api.client.post(
        "/graphql", json=body, headers={"Authorization": f"Bearer {api.token()}", **headers}
    )


async def get(api: Api, params: dict[str, str]) -> httpx.Response:
    return await api.client.get(
        "/graphql",
        params=params,
        headers={"Authorization": f"Bearer {api.token()}", "Accept": "application/json"},
    )


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


@pytest_asyncio.fixture(loop_scope="session")
async def optional(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    """The default mode, with COUNT registered."""
    env = {"DIBX_TRUSTED_DOCUMENTS_FILE": str(manifest(tmp_path, COUNT))}
    client = Api(graph, tmp_path, env=env)
    await client.load(b.dataset())
    yield client
    await client.close()


@pytest_asyncio.fixture(loop_scope="session")
async def required(graph: Graph, tmp_path: Path) -> AsyncIterator[Api]:
    """DIBX_TRUSTED_DOCUMENTS=require, with COUNT and MUTATION registered."""
    env = {
        "DIBX_TRUSTED_DOCUMENTS": "require",
        "DIBX_TRUSTED_DOCUMENTS_FILE": str(manifest(tmp_path, COUNT, MUTATION)),
    }
    client = Api(graph, tmp_path, env=env)
    await client.load(b.dataset())
    yield client
    await client.close()


# -- registered documents -----------------------------------------------------------------


async def test_a_registered_document_runs_by_its_id(optional: Api) -> None:
    for body in (
        {"documentId": f"sha256:{sha(COUNT)}"},
        {"documentId": sha(COUNT)},
        {"extensions": apq(COUNT)},
    ):
        response = await post(optional, body)
        assert response.status_code == 200, response.text
        assert isinstance(response.json()["data"]["suppliers"]["totalCount"], int)
    record = optional.audit.records[-1]
    assert record["operation"] == "Count"
    assert record["document_sha256"] == sha(COUNT)


async def test_a_registered_query_runs_over_get_but_never_a_mutation_or_free_text(
    required: Api,
) -> None:
    by_id = await get(required, {"documentId": f"sha256:{sha(COUNT)}"})
    assert by_id.status_code == 200, by_id.text
    assert "totalCount" in by_id.json()["data"]["suppliers"]
    by_apq = await get(required, {"extensions": json.dumps(apq(COUNT)), "variables": "{}"})
    assert by_apq.status_code == 200, by_apq.text
    mutation = await get(required, {"documentId": sha(MUTATION)})
    assert mutation.status_code == 405
    assert code(mutation) == "BAD_REQUEST"


async def test_free_text_over_get_stays_refused(optional: Api) -> None:
    response = await get(optional, {"query": COUNT})
    assert response.status_code in (400, 405)
    assert "data" not in response.json() or response.json()["data"] is None


# -- the allow list -------------------------------------------------------------------------


async def test_require_runs_only_registered_documents(required: Api) -> None:
    registered_text = await post(required, {"query": COUNT})
    assert registered_text.status_code == 200, registered_text.text
    for body in (
        {"query": UNREGISTERED},
        {"query": UNREGISTERED, "extensions": apq(UNREGISTERED)},  # APQ registration
    ):
        refused = await post(required, body)
        assert refused.status_code == 400, refused.text
        assert code(refused) == "PERSISTED_QUERY_NOT_IN_LIST"
    # The APQ attempt registered nothing.
    again = await post(required, {"extensions": apq(UNREGISTERED)})
    assert code(again) == "PERSISTED_QUERY_NOT_FOUND"
    codes = [r.get("error_codes") or [r.get("code")] for r in required.audit.records]
    assert ["PERSISTED_QUERY_NOT_IN_LIST"] in codes


REGISTERED_SUBSCRIPTION = (
    "subscription Registered($after: String) { changes(after: $after) { cursor } }"
)


async def test_require_holds_subscriptions_on_the_socket_to_the_allow_list(
    graph: Graph, tmp_path: Path
) -> None:
    env = {
        "DIBX_TRUSTED_DOCUMENTS": "require",
        "DIBX_TRUSTED_DOCUMENTS_FILE": str(manifest(tmp_path, COUNT, REGISTERED_SUBSCRIPTION)),
    }
    client = Api(graph, tmp_path, env=env)
    try:
        async with serving(client) as url, LiveClient.opened(url) as ws:
            assert await ws.init(client.token("GBR")) == {"type": "connection_ack"}
            # A bad cursor makes a subscription that runs answer at once (BAD_USER_INPUT).
            sid = await ws.subscribe({"after": "garbage"}, document=CHANGES)
            refused = await ws.receive()
            assert isinstance(refused, dict)
            assert (refused["id"], refused["type"]) == (sid, "error"), refused
            assert [e["extensions"]["code"] for e in refused["payload"]] == [
                "PERSISTED_QUERY_NOT_IN_LIST"
            ]
            sid = await ws.subscribe({"after": "garbage"}, document=REGISTERED_SUBSCRIPTION)
            ran = await ws.receive()
            assert isinstance(ran, dict)
            assert (ran["id"], ran["type"]) == (sid, "next"), ran
            assert [e["extensions"]["code"] for e in ran["payload"]["errors"]] == ["BAD_USER_INPUT"]
    finally:
        await client.close()
    socket = [r for r in client.audit.records if r.get("transport") == "graphql-transport-ws"]
    assert ["PERSISTED_QUERY_NOT_IN_LIST"] in [r.get("error_codes") for r in socket]
    started = [r for r in socket if r.get("outcome") == "started"]
    assert [r["document_sha256"] for r in started] == [sha(REGISTERED_SUBSCRIPTION)]


async def test_require_without_a_manifest_refuses_to_start(graph: Graph, tmp_path: Path) -> None:
    env = {
        "DIBX_TRUSTED_DOCUMENTS": "require",
        "DIBX_TRUSTED_DOCUMENTS_FILE": str(tmp_path / "missing.json"),
    }
    with pytest.raises(ConfigError, match="no manifest"):
        Api(graph, tmp_path, env=env)


async def test_a_manifest_entry_whose_hash_is_not_its_sha256_refuses_to_start(
    graph: Graph, tmp_path: Path
) -> None:
    path = tmp_path / "md5.json"
    path.write_text(json.dumps({hashlib.md5(COUNT.encode()).hexdigest(): COUNT}))  # noqa: S324
    with pytest.raises(ConfigError, match="not the SHA-256"):
        Api(graph, tmp_path, env={"DIBX_TRUSTED_DOCUMENTS_FILE": str(path)})


# -- automatic persisted queries --------------------------------------------------------------


async def test_apq_not_found_then_registered_then_by_hash(optional: Api) -> None:
    unknown = await post(optional, {"extensions": apq(UNREGISTERED)})
    assert unknown.status_code == 200
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert code(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await post(optional, {"query": UNREGISTERED, "extensions": apq(UNREGISTERED)})
    assert registered.status_code == 200, registered.text
    by_hash = await post(optional, {"extensions": apq(UNREGISTERED)})
    assert by_hash.status_code == 200, by_hash.text
    assert by_hash.json()["data"] == registered.json()["data"]


async def test_apq_hash_must_match_the_text(optional: Api) -> None:
    response = await post(optional, {"query": UNREGISTERED, "extensions": apq(COUNT)})
    assert response.status_code == 400
    assert code(response) == "BAD_REQUEST"
    for bad in (
        {"persistedQuery": {"version": 2, "sha256Hash": sha(COUNT)}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-hex"}},
    ):
        refused = await post(optional, {"extensions": bad})
        assert refused.status_code == 400
        assert code(refused) == "BAD_REQUEST"


# -- the command ------------------------------------------------------------------------------


def test_operations_add_registers_documents_and_tool_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIBX_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("DIBX_TRUSTED_DOCUMENTS_FILE", raising=False)
    document = tmp_path / "count.graphql"
    document.write_text(COUNT)
    # graphql-codegen's client preset (persistedDocuments, sha256) writes {hash: text}.
    codegen = tmp_path / "persisted-documents.json"
    codegen.write_text(json.dumps({sha(UNREGISTERED): UNREGISTERED}))
    assert cli.main(["operations", "add", str(document), str(codegen)]) == 0
    assert f"{sha(COUNT)}  {document}" in capsys.readouterr().out
    written = json.loads((tmp_path / "var" / "trusted-documents.json").read_text())
    assert written == {sha(COUNT): COUNT, sha(UNREGISTERED): UNREGISTERED}

    wrong = tmp_path / "wrong.graphql"
    wrong.write_text("{ suppliers { colour } }")
    assert cli.main(["operations", "add", str(wrong)]) == 1
    assert "Cannot query field 'colour'" in capsys.readouterr().err
    after = json.loads((tmp_path / "var" / "trusted-documents.json").read_text())
    assert after == written
