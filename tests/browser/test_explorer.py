"""The explorer, end to end in chromium: what it shows is what the API releases to the caller.

Every test runs under the `browse` fixture's checks: no request to any host but dibx, no
page error, no console error (a Content-Security-Policy violation is one).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.browser.conftest import Browse, Visit

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]


def gid(type_name: str, key: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{key}".encode()).decode().rstrip("=")


TURBOFAN = gid("Capability", "cap.military-turbofan")
HYPERSONIC = gid("Capability", "cap.hypersonic-strike")

PROVIDERS = """query($id: ID!) { capability(id: $id) {
  providers(first: 50) { edges { node { name nation { code } } } } } }"""


async def save(visit: Visit, name: str, targets: list[Path]) -> Path:
    image = await visit.page.screenshot(full_page=True)
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(image)
    return targets[0] / name


async def shown_providers(visit: Visit) -> set[tuple[str, str]]:
    rows = visit.page.get_by_test_id("provider")
    shown = set()
    for i in range(await rows.count()):
        row = rows.nth(i)
        nation = await row.get_attribute("data-nation")
        name = await row.locator("td").nth(1).inner_text()
        shown.add((str(nation), name.strip()))
    return shown


async def banners(visit: Visit) -> tuple[str, str]:
    top = await visit.page.get_by_test_id("banner-top").inner_text()
    bottom = await visit.page.get_by_test_id("banner-bottom").inner_text()
    return top.strip(), bottom.strip()


async def test_capability_page_shows_each_nation_what_the_api_releases_to_it(
    browse: Browse, screenshot_dir: list[Path]
) -> None:
    seen: dict[str, set[tuple[str, str]]] = {}
    banner: dict[str, str] = {}
    for nation in ("USA", "GBR"):
        visit = await browse()
        await visit.sign_in(nation)
        acting_for = await visit.page.get_by_test_id("acting-for").inner_text()
        assert acting_for.startswith(f"{nation} · ")
        await visit.open(f"/capability/{TURBOFAN}", "capability")
        seen[nation] = await shown_providers(visit)
        top, bottom = await banners(visit)
        assert top == bottom  # the same roll-up at the top and the bottom of the view
        banner[nation] = top
        api = await visit.graphql(nation, PROVIDERS, id=TURBOFAN)
        released = {
            (e["node"]["nation"]["code"], e["node"]["name"])
            for e in api["data"]["capability"]["providers"]["edges"]
        }
        assert seen[nation] == released  # exactly what the API releases to this nation
        note = await visit.page.get_by_test_id("computed-note").inner_text()
        assert f"released to {nation}" in note
        if nation == "GBR":
            await save(visit, "capability.png", screenshot_dir)

    assert seen["GBR"] < seen["USA"]  # GBR sees fewer providers of the same capability
    assert {n for n, _ in seen["USA"] - seen["GBR"]} == {"JPN", "KOR"}
    assert banner["USA"] != banner["GBR"]
    assert "NOFORN" in banner["USA"]  # USA was released NOFORN lead times
    assert "NOFORN" not in banner["GBR"]
    assert "REL TO" in banner["GBR"]
    assert "GBR" in banner["GBR"]


async def test_withheld_field_shows_its_marking_and_can_be_challenged(browse: Browse) -> None:
    visit = await browse()
    await visit.sign_in("GBR")
    await visit.open(f"/capability/{HYPERSONIC}", "capability")
    chip = visit.page.locator('[data-testid="facts"], [data-testid="capability-facts"]').locator(
        '[data-testid="withheld"][data-path="capability.classified"]'
    )
    assert "withheld" in await chip.inner_text()
    assert "CUI//NOFORN" in await chip.inner_text()
    # Every path the API reports withheld is listed, with its marking.
    listed = visit.page.get_by_test_id("withheld-list").get_by_test_id("withheld")
    paths = {await listed.nth(i).get_attribute("data-path") for i in range(await listed.count())}
    assert {"capability.classified", "capability.description"} <= paths

    await chip.get_by_test_id("challenge").click()
    await visit.ready("challenge-new")
    assert await visit.page.get_by_test_id("marking-in-force").inner_text() == "CUI//NOFORN"
    await visit.page.get_by_test_id("proposed").fill("CUI//REL TO USA, GBR")
    await visit.page.get_by_test_id("justification").fill("Whether it is classified is known.")
    await visit.page.get_by_test_id("file-challenge").click()
    outcome = visit.page.get_by_test_id("challenge-outcome")
    await outcome.get_by_role("status").wait_for()
    assert "The marking stays in force while the challenge is pending." in (
        await outcome.inner_text()
    )

    await visit.open("/challenges", "challenges")
    rows = visit.page.get_by_test_id("challenge-row")
    assert await rows.count() == 1
    row = await rows.first.inner_text()
    assert "classified" in row
    assert "CUI//REL TO USA, GBR" in row
    assert "PENDING" in row
    top, bottom = await banners(visit)
    assert top == bottom != ""


async def test_supply_chain_picture_renders_with_failures_exposure_and_what_if(
    browse: Browse, screenshot_dir: list[Path]
) -> None:
    visit = await browse()
    await visit.sign_in("USA")
    await visit.open(f"/chain/{HYPERSONIC}", "chain")
    api = await visit.graphql(
        "USA", "query($id: ID!) { supplyChain(root: $id, depth: 3) { nodeCount } }", id=HYPERSONIC
    )
    graph = visit.page.get_by_test_id("chain-graph")
    assert await graph.get_attribute("data-rendered") == str(
        api["data"]["supplyChain"]["nodeCount"]
    )
    # Cytoscape drew on its canvases: count the pixels that are not blank.
    painted = await visit.page.evaluate(
        """() => [...document.querySelectorAll('#cy canvas')].reduce((sum, c) => {
             const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
             return sum + n; }, 0)"""
    )
    assert painted > 5_000
    spof = await visit.page.get_by_test_id("spof").inner_text()
    assert "Lockheed Martin Missiles and Fire Control" in spof
    exposure = await visit.page.get_by_test_id("exposure").inner_text()
    assert "JL MAG Rare-Earth" in exposure
    assert "CHN" in exposure
    await save(visit, "supply-chain.png", screenshot_dir)

    await visit.page.get_by_test_id("remove-CHN").check()
    await visit.page.get_by_test_id("run-what-if").click()
    await visit.page.get_by_test_id("disruption").wait_for()
    await visit.ready("chain")
    disruption = await visit.page.get_by_test_id("disruption").inner_text()
    assert "Rare-earth" in disruption  # rare-earth capabilities lose Chinese capacity
    top, bottom = await banners(visit)
    assert top == bottom
    assert "NOFORN" in top


async def test_explorer_is_served_under_a_strict_content_security_policy(browse: Browse) -> None:
    visit = await browse()
    response = await visit.page.goto(f"{visit.base}/explorer/")
    assert response is not None
    assert response.ok
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src 'self';" in policy
    assert "unsafe" not in policy
    await visit.ready("signin")
    await visit.page.get_by_test_id("signin-USA").wait_for()
