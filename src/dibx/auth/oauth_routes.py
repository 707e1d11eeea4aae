"""The development issuer over HTTP: client-credentials token endpoint (RFC 6749 4.4), JWKS,
and authorization-server metadata (RFC 8414). Mount only when the development issuer is on."""

from __future__ import annotations

import base64
import binascii
from typing import Final
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dibx.auth.dev_issuer import DemoClient, DevIssuer
from dibx.auth.principal import ALL_SCOPES

_FORM: Final = "application/x-www-form-urlencoded"
_MAX_BODY: Final = 4096
_MAX_FIELDS: Final = 16
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 5.1


class _OAuthError(Exception):
    """An RFC 6749 5.2 error response."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="dibx-dev-issuer"'
        body = {"error": self.error, "error_description": self.description}
        return JSONResponse(body, status_code=self.status, headers=headers)


def oauth_routes(issuer: DevIssuer) -> list[Route]:
    base = issuer.issuer.rstrip("/")

    async def token(request: Request) -> JSONResponse:
        try:
            form = await _form(request)
            client = _authenticate(issuer, request.headers.get("authorization"), form)
            scopes = _granted_scopes(client, form)
        except _OAuthError as exc:
            return exc.response()
        return JSONResponse(issuer.token_response(client, scopes), headers=_NO_STORE)

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(issuer.public_jwks(), headers={"Cache-Control": "max-age=300"})

    async def metadata(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": issuer.issuer,
                "token_endpoint": f"{base}/oauth/token",
                "jwks_uri": f"{base}/.well-known/jwks.json",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "scopes_supported": sorted(ALL_SCOPES),
                "response_types_supported": [],
            }
        )

    return [
        Route("/oauth/token", token, methods=["POST"]),
        Route("/.well-known/jwks.json", jwks, methods=["GET"]),
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
    ]


async def _form(request: Request) -> dict[str, str]:
    # Parsed here rather than with request.form(): that needs python-multipart, and a token
    # request is a small urlencoded body whose parameters must not repeat (RFC 6749 3.2).
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != _FORM:
        raise _OAuthError("invalid_request", f"the request body must be {_FORM}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_BODY:
            raise _OAuthError("invalid_request", "the request body is too large")
    try:
        pairs = parse_qsl(
            body.decode("ascii"),
            keep_blank_values=True,
            strict_parsing=True,
            max_num_fields=_MAX_FIELDS,
        )
    except ValueError:  # UnicodeDecodeError included
        raise _OAuthError("invalid_request", "the request body is not a valid form") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise _OAuthError("invalid_request", "a request parameter is repeated")
    return form


def _authenticate(issuer: DevIssuer, authorization: str | None, form: dict[str, str]) -> DemoClient:
    if authorization is not None:
        client_id, secret = _basic_credentials(authorization)
        # RFC 6749 2.3: one authentication method per request.
        if "client_secret" in form or form.get("client_id", client_id) != client_id:
            raise _OAuthError("invalid_request", "use either HTTP Basic or form credentials")
    elif "client_id" in form and "client_secret" in form:
        client_id, secret = form["client_id"], form["client_secret"]
    else:
        raise _OAuthError("invalid_client", "client authentication is required", 401)
    client = issuer.authenticate(client_id, secret)
    if client is None:
        raise _OAuthError("invalid_client", "client authentication failed", 401)
    return client


def _basic_credentials(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _OAuthError("invalid_client", "the Authorization scheme must be Basic", 401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise _OAuthError("invalid_client", "malformed Basic credentials", 401) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _OAuthError("invalid_client", "malformed Basic credentials", 401)
    # RFC 6749 2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote_plus(client_id), unquote_plus(secret)


def _granted_scopes(client: DemoClient, form: dict[str, str]) -> frozenset[str]:
    grant_type = form.get("grant_type")
    if not grant_type:
        raise _OAuthError("invalid_request", "grant_type is required")
    if grant_type != "client_credentials":
        raise _OAuthError("unsupported_grant_type", "only client_credentials is supported")
    if "scope" not in form:
        return client.scopes  # RFC 6749 3.3: the default is everything the client may hold
    requested = frozenset(form["scope"].split(" ")) - {""}
    if not requested or not requested <= client.scopes:
        raise _OAuthError("invalid_scope", "the requested scope is not allowed for this client")
    return requested
