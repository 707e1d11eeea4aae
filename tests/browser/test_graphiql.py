"""GraphiQL served by dibx itself, in chromium with no network but the local app.

The `browse` fixture fails the test if the page asks any other host (a CDN), hits a page
error or logs a console error (a Content-Security-Policy violation is one).
"""

from __future__ import annotations

import pytest

from tests.browser.conftest import Browse

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

EXAMPLE = """query HypersonicStrike {
  capability(key: "cap.hypersonic-strike") { name area classified description
    providers(first: 5) { edges { node { name nation { code } } } } } }"""


async def test_graphiql_runs_its_dibx_example_with_a_token_and_shows_what_was_withheld(
    browse: Browse,
) -> None:
    visit = await browse()
    page = visit.page
    reply = await page.goto(f"{visit.base}/graphql")
    assert reply is not None
    assert reply.status == 200
    policy = reply.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe" not in policy
    assert "http" not in policy  # no remote origin anywhere in the policy

    query_editor = page.locator(".graphiql-query-editor .CodeMirror-code")
    await query_editor.wait_for()
    assert 'capability(key: "cap.hypersonic-strike")' in await query_editor.inner_text()

    # What the API itself answers GBR (this also warms the query cache on a busy machine).
    api = await visit.graphql("GBR", EXAMPLE)
    released = api["extensions"]["releasability"]
    assert released["withheld"]  # the example shows GBR something withheld

    await page.get_by_test_id("token").fill(await visit.token("GBR"))
    await page.get_by_test_id("use-token").click()
    await page.locator(".graphiql-execute-button").click()
    await page.wait_for_selector('[data-testid="releasability"][data-state="shown"]')

    result = await page.locator(".graphiql-response .CodeMirror-code").inner_text()
    assert "Hypersonic strike missile" in result
    banner = await page.get_by_test_id("banner").inner_text()
    assert banner.strip() == released["banner"]
    listed = page.get_by_test_id("withheld-list").get_by_test_id("withheld")
    shown = {
        (await listed.nth(i).get_attribute("data-path"), await listed.nth(i).inner_text())
        for i in range(await listed.count())
    }
    paths = {path for path, _ in shown}
    assert {"capability.classified", "capability.description"} <= paths
    for entry in released["withheld"]:
        if entry["path"] in {"capability.classified", "capability.description"}:
            text = next(t for p, t in shown if p == entry["path"])
            assert entry["marking"] in text


async def test_graphiql_page_is_served_without_strawberrys_cdn_page(browse: Browse) -> None:
    visit = await browse()
    reply = await visit.page.goto(f"{visit.base}/graphql")
    assert reply is not None
    html = await reply.text()
    assert "unpkg.com" not in html
    assert "cdn.jsdelivr.net" not in html
    await visit.page.locator(".graphiql-container").wait_for()
    assert await visit.page.get_by_test_id("token-state").inner_text() == "no token"
