"""GraphiQL at GET /graphql (for a browser asking for HTML): dibx's own build, not a CDN page.

The page is static and carries no data. Its script and styles are bundled into the package
by `make explorer` (explorer/src/graphiql -> explorer_static/graphiql, served under
/explorer/graphiql/), so it works where nothing but dibx is reachable. Its queries go to
/graphql with the bearer token typed into the page, so it shows only what the API releases.

Content-Security-Policy: scripts, styles and connections to this origin only, nothing inline,
no framing. `data:` is allowed for fonts and images alone: GraphiQL's stylesheet inlines its
fonts and a few icons that way, and neither can run code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.responses import HTMLResponse, PlainTextResponse, Response

from dibx.app.explorer import STATIC_DIR

ASSETS: Final = "/explorer/graphiql"
CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

PAGE: Final = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="referrer" content="no-referrer">
  <title>dibx GraphiQL</title>
  <link rel="icon" href="/explorer/icon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{ASSETS}/graphiql-style.css">
  <script type="module" src="{ASSETS}/graphiql.js"></script>
</head>
<body>
  <div id="root"></div>
  <noscript>GraphiQL needs JavaScript.</noscript>
</body>
</html>
"""


def graphiql_page(static_dir: Path = STATIC_DIR) -> Response:
    if not (static_dir / "graphiql" / "graphiql.js").is_file():
        return PlainTextResponse(
            "GraphiQL is not built: run `make demo` or `make explorer` (needs Node and npm).",
            status_code=503,
            headers=HEADERS,
        )
    return HTMLResponse(PAGE, headers=HEADERS)
