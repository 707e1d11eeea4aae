"""The GraphiQL page: static, its scripts from this origin only, under a strict policy."""

from __future__ import annotations

import re
from pathlib import Path

from dibx.app.graphiql import CONTENT_SECURITY_POLICY, graphiql_page


def built(tmp_path: Path) -> Path:
    (tmp_path / "graphiql").mkdir()
    (tmp_path / "graphiql" / "graphiql.js").write_text("")
    return tmp_path


def test_page_loads_only_its_own_bundled_assets(tmp_path: Path) -> None:
    page = graphiql_page(built(tmp_path))
    assert page.status_code == 200
    html = bytes(page.body).decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts == [(' type="module" src="/explorer/graphiql/graphiql.js"', "")]
    assert "style=" not in html
    assert "<style" not in html
    assert "//" not in html.replace("<!doctype html>", "")  # no remote or protocol URL


def test_policy_allows_nothing_inline_and_no_other_origin(tmp_path: Path) -> None:
    page = graphiql_page(built(tmp_path))
    policy = dict(d.split(" ", 1) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY


def test_unbuilt_page_says_how_to_build_it(tmp_path: Path) -> None:
    page = graphiql_page(tmp_path)
    assert page.status_code == 503
    assert "make explorer" in bytes(page.body).decode()
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
