"""The explorer: static pages at /explorer/, built from `explorer/` at set-up time.

The pages read dibx only through /graphql with the caller's own token, so they can never
show more than the API releases. They are served under a strict Content-Security-Policy:
scripts, styles and data from this origin only (plus the configured issuer's token endpoint
for the authorization-code sign-in), nothing inline, no framing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dibx.auth.dev_issuer import DevIssuer
from dibx.config import Settings

STATIC_DIR: Final = Path(__file__).resolve().parent / "explorer_static"
_BUILT: Final = "BUILT"  # written last by explorer/build.mjs


def content_security_policy(settings: Settings) -> str:
    connect = ["'self'"]
    if settings.explorer_oidc is not None:
        token = urlsplit(settings.explorer_oidc.token_url)
        connect.append(f"{token.scheme}://{token.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self'",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def explorer_config(settings: Settings, issuer: DevIssuer | None) -> dict[str, Any]:
    """What the sign-in page needs: the demo clients (development only) or the real issuer."""
    dev = None
    if issuer is not None:
        # The demo secrets are public by design (see dev_issuer); never served in production,
        # where the development issuer is refused at start.
        dev = {
            "tokenEndpoint": "/oauth/token",
            "clients": [
                {"clientId": c.client_id, "secret": c.secret, "nation": c.nation, "org": c.org}
                for c in issuer.clients.values()
            ],
        }
    oidc = settings.explorer_oidc
    return {
        "devIssuer": dev,
        "oidc": None
        if oidc is None
        else {
            "authorizationEndpoint": oidc.authorize_url,
            "tokenEndpoint": oidc.token_url,
            "clientId": oidc.client_id,
            "scope": oidc.scope,
            "redirectUri": oidc.redirect_url,
        },
        "nationsOfConcern": list(settings.nations_of_concern),
    }


class _Headers:
    """Adds the explorer's security headers to every response under /explorer/."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except HTTPException as exc:  # a missing file: answered here, so it has the headers too
            response = PlainTextResponse(exc.detail, exc.status_code, headers=exc.headers)
            await response(scope, receive, send_with_headers)


async def _not_built(_: Request) -> Response:
    return PlainTextResponse(
        "The explorer is not built: run `make demo` or `make explorer` (needs Node and npm).",
        status_code=503,
    )


def explorer_routes(
    settings: Settings, issuer: DevIssuer | None, static_dir: Path = STATIC_DIR
) -> list[BaseRoute]:
    config = explorer_config(settings, issuer)

    async def config_json(_: Request) -> Response:
        return JSONResponse(config)

    pages: BaseRoute
    if (static_dir / _BUILT).is_file():
        pages = Mount("/", app=StaticFiles(directory=static_dir, html=True))
    else:
        pages = Mount("/", routes=[Route("/{path:path}", _not_built)])
    headers = {
        "Content-Security-Policy": content_security_policy(settings),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    router = Router(routes=[Route("/config.json", config_json), pages])
    return [Mount("/explorer", app=_Headers(router, headers))]
