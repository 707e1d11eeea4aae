"""The graphql-http audit suite (npm `graphql-http`, GraphQL over HTTP spec conformance) run
against `dibx serve`: every MUST and SHOULD passes, and a warning or notice is accepted only
when it is listed in EXPLAINED with the reason dibx answers otherwise.

The audit lives in bench/graphql-http-audit (its own package.json and lock, installed with
`npm ci`); the test is skipped only where npm is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dibx.graph.driver import Graph
from tests.support.served import dev_token, serve_env, serving

pytestmark = pytest.mark.neo4j

AUDIT_DIR = Path(__file__).resolve().parents[2] / "bench" / "graphql-http-audit"

# Audit id -> why dibx answers otherwise. Each must still be reported (a stale entry fails).
_NO_FREE_TEXT_GET = (
    "a MAY: dibx runs no free-text query sent with GET (documents and variables would land in "
    "URLs and access logs); GET runs persisted queries only (dibx.app.persisted)"
)
EXPLAINED: dict[str, str] = {
    "5A70": _NO_FREE_TEXT_GET,  # MAY accept application/x-www-form-urlencoded GET requests
    "D6D5": _NO_FREE_TEXT_GET,  # MAY allow {variables} in GETs, graphql-response+json
    "6A70": _NO_FREE_TEXT_GET,  # MAY allow {variables} in GETs, application/json
}


def _npm_ci() -> None:
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("the graphql-http audit needs Node and npm")
    installed = AUDIT_DIR / "node_modules" / ".package-lock.json"
    lock = AUDIT_DIR / "package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    subprocess.run(  # noqa: S603 - npm found on PATH, fixed arguments
        [npm, "ci", "--no-audit", "--no-fund"], cwd=AUDIT_DIR, check=True, timeout=600
    )


@pytest.fixture
def served(graph: Graph, neo4j_uri: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """`dibx serve` on a free port against the test session's Neo4j: (graphql url, token)."""
    env = serve_env(neo4j_uri, tmp_path / "var", DIBX_RATE_PER_ADDRESS="0", DIBX_RATE_PER_TOKEN="0")
    token = dev_token(env, "USA", "supplier:read")
    with serving(env, logs=[tmp_path / "stderr"]) as [served]:
        yield f"{served.url}/graphql", token


def audit(url: str, token: str) -> list[dict[str, Any]]:
    _npm_ci()
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(  # noqa: S603 - node found on PATH, fixed arguments
        [node, "audit.mjs", url],
        cwd=AUDIT_DIR,
        env={**os.environ, "DIBX_AUDIT_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_graphql_http_audit_passes(served: tuple[str, str]) -> None:
    """The audits run at once on a fresh process, as graphql-http runs them: 60 requests on
    a cold membership cache once answered 503 (SERVICE_UNAVAILABLE) to nearly all of them."""
    results = audit(*served)
    assert len(results) > 30  # the suite ran, not an empty list
    unexplained = [r for r in results if r["status"] != "ok" and r["id"] not in EXPLAINED]
    assert unexplained == [], json.dumps(unexplained, indent=1)
    stale = sorted(set(EXPLAINED) - {r["id"] for r in results if r["status"] != "ok"})
    assert stale == [], f"explained but no longer warned about: {stale}"
