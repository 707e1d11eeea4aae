"""The explorer's server side: its configuration, its sign-in settings and its headers.

The pages themselves are tested in chromium (tests/browser); these need neither a browser
nor Neo4j: they mount only the explorer routes.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from graphql import parse, validate
from joserfc import jwk
from starlette.applications import Starlette

from dibx import config
from dibx.app.explorer import STATIC_DIR, explorer_routes
from dibx.auth.dev_issuer import DevIssuer
from dibx.schema import build_schema

OIDC = {
    "DIBX_EXPLORER_AUTHORIZE_URL": "https://login.example.mil/oauth2/authorize",
    "DIBX_EXPLORER_TOKEN_URL": "https://login.example.mil/oauth2/token",
    "DIBX_EXPLORER_CLIENT_ID": "dibx-explorer",
    "DIBX_EXPLORER_REDIRECT_URL": "https://dibx.example.mil/explorer/",
}


def issuer() -> DevIssuer:
    key = jwk.RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, auto_kid=True)
    return DevIssuer(jwk.KeySet([key]), "http://127.0.0.1:8000", "dibx")


async def get(
    settings: config.Settings, dev: DevIssuer | None, path: str, static: Path = STATIC_DIR
) -> httpx.Response:
    app = Starlette(routes=explorer_routes(settings, dev, static))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://dibx.test"
    ) as client:
        return await client.get(path)


async def test_development_config_lists_the_demo_clients_and_no_real_issuer() -> None:
    reply = await get(config.load({}), issuer(), "/explorer/config.json")
    body = reply.json()
    assert body["oidc"] is None
    assert body["devIssuer"]["tokenEndpoint"] == "/oauth/token"
    clients = {c["nation"]: c for c in body["devIssuer"]["clients"]}
    assert clients["GBR"]["clientId"] == "demo-gbr"
    assert clients["GBR"]["secret"] == "demo-gbr-secret"  # public by design, development only
    assert body["nationsOfConcern"] == ["CHN", "IRN", "PRK", "RUS"]


async def test_with_a_real_issuer_the_page_signs_in_with_pkce_and_may_reach_its_token_endpoint(
    tmp_path: Path,
) -> None:
    settings = config.load(
        {
            "DIBX_ENV": "production",
            "DIBX_DEV_ISSUER": "false",
            "DIBX_JWKS_URL": "https://login.example.mil/keys",
            **OIDC,
        }
    )
    reply = await get(settings, None, "/explorer/config.json")
    body = reply.json()
    assert body["devIssuer"] is None  # no demo client, no secret, in production
    assert body["oidc"] == {
        "authorizationEndpoint": OIDC["DIBX_EXPLORER_AUTHORIZE_URL"],
        "tokenEndpoint": OIDC["DIBX_EXPLORER_TOKEN_URL"],
        "clientId": "dibx-explorer",
        "scope": config.DEFAULT_EXPLORER_SCOPE,
        "redirectUri": OIDC["DIBX_EXPLORER_REDIRECT_URL"],
    }
    policy = reply.headers["content-security-policy"]
    assert "connect-src 'self' https://login.example.mil;" in policy


async def test_every_explorer_response_carries_the_security_headers(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>x</title>")
    (tmp_path / "BUILT").write_text("")
    reply = await get(config.load({}), issuer(), "/explorer/", static=tmp_path)
    assert reply.status_code == 200
    assert reply.headers["content-security-policy"].startswith(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; "
    )
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["referrer-policy"] == "no-referrer"
    missing = await get(config.load({}), issuer(), "/explorer/nope.js", static=tmp_path)
    assert missing.status_code == 404
    assert "content-security-policy" in missing.headers


async def test_an_unbuilt_explorer_says_how_to_build_it(tmp_path: Path) -> None:
    reply = await get(config.load({}), issuer(), "/explorer/", static=tmp_path / "absent")
    assert reply.status_code == 503
    assert "make demo" in reply.text
    # The configuration still answers: the sign-in settings do not depend on the build.
    assert (await get(config.load({}), None, "/explorer/config.json", tmp_path)).status_code == 200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DIBX_EXPLORER_CLIENT_ID": "x"},
            "explorer sign-in is partly configured: also set DIBX_EXPLORER_AUTHORIZE_URL, "
            "DIBX_EXPLORER_TOKEN_URL, DIBX_EXPLORER_REDIRECT_URL",
        ),
        (
            {**OIDC, "DIBX_EXPLORER_TOKEN_URL": "http://login.example.mil/token"},
            "DIBX_EXPLORER_TOKEN_URL='http://login.example.mil/token': expected an https URL",
        ),
        (
            {**OIDC, "DIBX_EXPLORER_AUTHORIZE_URL": "javascript:alert(1)"},
            "DIBX_EXPLORER_AUTHORIZE_URL='javascript:alert(1)': expected an https URL",
        ),
    ],
)
def test_bad_explorer_sign_in_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError) as excinfo:
        config.load(env)
    assert message in str(excinfo.value)


def test_loopback_issuer_may_use_http() -> None:
    local = {
        k: v.replace("https://login.example.mil", "http://127.0.0.1:8080") for k, v in OIDC.items()
    }
    oidc = config.load(local).explorer_oidc
    assert oidc is not None
    assert oidc.token_url == "http://127.0.0.1:8080/oauth2/token"


# -- the pages' GraphQL documents stay valid against the schema (no browser needed) ----------

SOURCES = sorted((config.PROJECT_ROOT / "explorer" / "src").rglob("*.ts"))
DOCUMENTS = [
    pytest.param(match.group(2), id=f"{path.stem}.{match.group(1)}")
    for path in SOURCES
    for match in re.finditer(r"const (\w+) = `((?:query|mutation)\b.*?)`;", path.read_text(), re.S)
]


def test_the_explorer_sends_graphql_documents() -> None:
    assert len(DOCUMENTS) >= 7


@pytest.mark.parametrize("document", DOCUMENTS)
def test_explorer_document_is_valid(document: str) -> None:
    schema = build_schema()._schema
    assert validate(schema, parse(document)) == []
