"""The development issuer: demo clients, its key file, and its OAuth endpoints over HTTP.

Requests go through httpx's ASGI transport: starlette.testclient warns (deprecated) when it
finds httpx rather than httpx2, and warnings are errors here.
"""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwk
from starlette.applications import Starlette

from dibx.auth.dev_issuer import DEMO_CLIENTS, DemoClient, DevIssuer, load_or_create_keys
from dibx.auth.oauth_routes import oauth_routes
from dibx.auth.principal import (
    ALL_SCOPES,
    MARKING_CHALLENGE,
    SUPPLIER_READ,
    SUPPLIER_WRITE,
    SUPPLY_CHAIN_READ,
)
from dibx.auth.tokens import KeySet, TokenValidator

ISSUER = "http://127.0.0.1:8000"
AUDIENCE = "dibx"
GBR = ("demo-gbr", "demo-gbr-secret")
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture(scope="module")
def private_keys(tmp_path_factory: pytest.TempPathFactory) -> jwk.KeySet:
    return load_or_create_keys(tmp_path_factory.mktemp("issuer") / "jwks-private.json")


@pytest.fixture(scope="module")
def issuer(private_keys: jwk.KeySet) -> DevIssuer:
    return DevIssuer(private_keys, ISSUER, AUDIENCE)


def asgi_client(issuer: DevIssuer) -> httpx.AsyncClient:
    app = Starlette(routes=oauth_routes(issuer))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=ISSUER)


@pytest.fixture
async def client(issuer: DevIssuer) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(issuer) as client:
        yield client


async def published_validator(client: httpx.AsyncClient) -> TokenValidator:
    keys = KeySet.from_dict((await client.get("/.well-known/jwks.json")).json())
    return TokenValidator(ISSUER, AUDIENCE, keys)


async def token_request(client: httpx.AsyncClient, **form: str) -> dict[str, object]:
    response = await client.post("/oauth/token", data=form, auth=GBR)
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, object] = response.json()
    body["status"] = response.status_code
    return body


# --- token endpoint -----------------------------------------------------------------------


async def test_client_credentials_with_basic_auth(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=GBR
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split(" ")) == {SUPPLIER_READ, SUPPLY_CHAIN_READ, MARKING_CHALLENGE}


async def test_token_from_endpoint_validates_against_published_jwks(
    client: httpx.AsyncClient,
) -> None:
    form = {"grant_type": "client_credentials", "scope": SUPPLIER_READ}
    token = (await client.post("/oauth/token", data=form, auth=GBR)).json()["access_token"]
    principal = (await published_validator(client)).validate(token)
    assert principal.nation == "GBR"
    assert principal.client_id == principal.subject == "demo-gbr"
    assert principal.scopes == {SUPPLIER_READ}
    assert principal.org == DEMO_CLIENTS["demo-gbr"].org
    assert principal.token_id


async def test_client_credentials_in_form_body(client: httpx.AsyncClient) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "demo-usa",
        "client_secret": "demo-usa-secret",
    }
    response = await client.post("/oauth/token", data=form)
    assert response.status_code == 200
    principal = (await published_validator(client)).validate(response.json()["access_token"])
    assert principal.nation == "USA"
    assert principal.scopes == ALL_SCOPES
    assert principal.attributes == {"FED"}


async def test_basic_credentials_are_form_urlencoded(private_keys: jwk.KeySet) -> None:
    # RFC 6749 2.3.1: client id and secret are urlencoded before Basic encoding.
    odd = DemoClient("a:b c", "s%e:cret", "GBR", "X", frozenset())
    credentials = base64.b64encode(b"a%3Ab+c:s%25e%3Acret").decode()
    issuer = DevIssuer(private_keys, ISSUER, AUDIENCE, clients={odd.client_id: odd})
    async with asgi_client(issuer) as client:
        response = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {credentials}"},
        )
    assert response.status_code == 200


async def test_wrong_secret(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("demo-gbr", "nope")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert response.headers["cache-control"] == "no-store"


async def test_secret_of_another_client(client: httpx.AsyncClient) -> None:
    auth = ("demo-gbr", "demo-usa-secret")
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
    )
    assert response.status_code == 401


async def test_unknown_client(client: httpx.AsyncClient) -> None:
    auth = ("demo-xyz", "demo-xyz-secret")
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=auth
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer abc"}, {"Authorization": "Basic !!!"}]
)
async def test_missing_or_malformed_client_authentication(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_two_authentication_methods_at_once(client: httpx.AsyncClient) -> None:
    form = {"grant_type": "client_credentials", "client_secret": "demo-gbr-secret"}
    body = await token_request(client, **form)
    assert (body["status"], body["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("scope", [SUPPLIER_WRITE, f"{SUPPLIER_READ} {SUPPLIER_WRITE}", "", "x"])
async def test_scope_not_allowed(client: httpx.AsyncClient, scope: str) -> None:
    body = await token_request(client, grant_type="client_credentials", scope=scope)
    assert (body["status"], body["error"]) == (400, "invalid_scope")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "CLIENT_CREDENTIALS"])
async def test_wrong_grant_type(client: httpx.AsyncClient, grant_type: str) -> None:
    body = await token_request(client, grant_type=grant_type)
    assert (body["status"], body["error"]) == (400, "unsupported_grant_type")


async def test_missing_grant_type(client: httpx.AsyncClient) -> None:
    body = await token_request(client)
    assert (body["status"], body["error"]) == (400, "invalid_request")


async def test_repeated_parameter(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=GBR,
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json"),
        (b"grant_type", "application/x-www-form-urlencoded"),
        (b"grant_type=\xff", "application/x-www-form-urlencoded"),
        (b"a=" + b"x" * 5000, "application/x-www-form-urlencoded"),
    ],
)
async def test_malformed_request_body(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await client.post(
        "/oauth/token", content=content, headers={"Content-Type": content_type}, auth=GBR
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_token_endpoint_is_post_only(client: httpx.AsyncClient) -> None:
    assert (await client.get("/oauth/token")).status_code == 405


# --- published metadata -------------------------------------------------------------------


async def test_jwks_has_no_private_parts(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert keys
    for key in keys:
        assert key["kid"]
        assert not PRIVATE_JWK_MEMBERS & key.keys()


async def test_authorization_server_metadata(client: httpx.AsyncClient) -> None:
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert set(metadata["scopes_supported"]) == ALL_SCOPES


# --- dev issuer ---------------------------------------------------------------------------


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dev-keys" / "jwks-private.json"
    first = load_or_create_keys(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind
    second = load_or_create_keys(path)
    assert [key.kid for key in first] == [key.kid for key in second]
    assert all(key.is_private and key.kid for key in second)


def test_key_file_must_hold_private_keys(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    public = jwk.RSAKey.generate_key(2048, auto_kid=True).as_dict(private=False)
    path.write_text(json.dumps({"keys": [public]}), encoding="utf-8")
    with pytest.raises(ValueError, match="private"):
        load_or_create_keys(path)


def test_issuer_signs_with_ec_p256(issuer: DevIssuer) -> None:
    key = jwk.ECKey.generate_key("P-256", auto_kid=True)
    ec_issuer = DevIssuer(jwk.KeySet([key]), ISSUER, AUDIENCE)
    validator = TokenValidator(ISSUER, AUDIENCE, KeySet.from_dict(ec_issuer.public_jwks()))
    token = ec_issuer.issue("svc", "svc", "JPN", [SUPPLIER_READ])
    assert validator.validate(token).nation == "JPN"


def test_demo_clients_cover_the_demo_nations() -> None:
    nations = {client.nation for client in DEMO_CLIENTS.values()}
    assert {"USA", "GBR", "AUS", "CAN", "NZL", "JPN", "KOR", "POL"} <= nations
    for client in DEMO_CLIENTS.values():
        assert client.client_id == f"demo-{client.nation.lower()}"
        assert client.secret == f"{client.client_id}-secret"
        assert client.secret not in repr(client)
        expected = (
            ALL_SCOPES
            if client.nation == "USA"
            else {
                SUPPLIER_READ,
                SUPPLY_CHAIN_READ,
                MARKING_CHALLENGE,
            }
        )
        assert client.scopes == expected


def test_authenticate(issuer: DevIssuer) -> None:
    assert issuer.authenticate("demo-kor", "demo-kor-secret") == DEMO_CLIENTS["demo-kor"]
    assert issuer.authenticate("demo-kor", "demo-kor-secret ") is None
    assert issuer.authenticate("demo-kor", "") is None
    assert issuer.authenticate("nobody", "demo-kor-secret") is None


@pytest.mark.parametrize(
    ("nation", "ttl", "scopes", "reason"),
    [
        ("gbr", 60, [], "alpha-3"),
        ("XXX", 60, [], "alpha-3"),
        ("GBR", 0, [], "ttl"),
        ("GBR", 10**6, [], "ttl"),
        ("GBR", 60, ["a b"], "spaces"),
        ("GBR", 60, [""], "non-empty"),
    ],
)
def test_issue_refuses_bad_input(
    issuer: DevIssuer, nation: str, ttl: int, scopes: list[str], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        issuer.issue("s", "c", nation, scopes, ttl=ttl)


def decoded(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_issued_token_is_rfc9068_shaped(issuer: DevIssuer) -> None:
    token = issuer.issue("s", "c", "POL", [SUPPLIER_READ], org="O", attributes=["FED"], ttl=60)
    header, payload = (decoded(part) for part in token.split(".")[:2])
    assert header == {"alg": "RS256", "kid": header["kid"], "typ": "at+jwt"}
    assert header["kid"]
    assert payload["exp"] - payload["iat"] == 60
    assert payload["nbf"] == payload["iat"]
    assert {"jti", "client_id", "sub", "nation", "scope", "org", "attr"} <= payload.keys()
    other = issuer.issue("s", "c", "POL", [SUPPLIER_READ])
    assert decoded(other.split(".")[1])["jti"] != payload["jti"]
