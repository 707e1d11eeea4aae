"""The explorer in a real headless browser: Debian's chromium driven by Playwright, against the
real app served by uvicorn on 127.0.0.1 over the demo data in the test session's Neo4j.

The demo data, the server and the browser are set up once for the package: the tests compare
what the page shows with what the API answers on the same data, so they need no fresh copy.

Offline by construction: chromium resolves no host name but 127.0.0.1, and every request
the page makes is recorded; a test fails if any goes anywhere but dibx.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import neo4j
import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from dibx import config
from dibx.app import build_runtime, create_app
from dibx.graph.driver import Graph
from dibx.graph.writes import clear_database, write_dataset
from dibx.ingest.demo import load_demo
from dibx.ingest.reference import default_data_dir, load_reference
from dibx.services.audit import MemorySink

DATABASE = "neo4j"
SCREENSHOTS_ENV = "DIBX_EXPLORER_SCREENSHOTS"  # set to write screenshots to docs/screenshots/


def chromium_path() -> str:
    """Debian's chromium binary (the /usr/bin/chromium wrapper only adds flags we set)."""
    override = os.environ.get("DIBX_CHROMIUM")
    for candidate in (override, "/usr/lib/chromium/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get install chromium)")


@pytest.fixture(scope="session")
def explorer_built(project_root: Path) -> None:
    """Builds the explorer if its sources changed (the Makefile rule is a no-op otherwise)."""
    done = subprocess.run(
        ["make", "-s", "explorer"],  # noqa: S607 - make from PATH, as the README says
        cwd=project_root,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"building the explorer failed:\n{done.stdout}\n{done.stderr}")


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def demo_graph(neo4j_driver: neo4j.AsyncDriver) -> AsyncIterator[None]:
    await clear_database(Graph(neo4j_driver, DATABASE))
    reference, demo = load_reference(default_data_dir()), load_demo(default_data_dir())
    assert reference.ok
    assert demo.ok
    await write_dataset(Graph(neo4j_driver, DATABASE), reference.dataset.merged(demo.dataset))
    yield
    await clear_database(Graph(neo4j_driver, DATABASE))


@pytest.fixture(scope="package")
def dibx_url(
    explorer_built: None,
    demo_graph: None,
    neo4j_uri: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The real app, served by uvicorn in a thread with its own event loop and driver."""
    settings = config.load(
        {
            "DIBX_ENV": "test",
            "DIBX_DATA_DIR": str(tmp_path_factory.mktemp("dibx")),
            "DIBX_NEO4J_URI": neo4j_uri,
            "DIBX_NEO4J_USER": os.environ.get("DIBX_TEST_NEO4J_USER", "neo4j"),
            "DIBX_NEO4J_PASSWORD": os.environ.get("DIBX_TEST_NEO4J_PASSWORD", ""),
            # A generous bound: analytics on a busy CI machine must not time out.
            "DIBX_ANALYTICS_TIME_LIMIT": "120",
        }
    )
    app = create_app(build_runtime(settings, audit=MemorySink()))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="dibx-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            # No name resolves to anything but loopback: the page cannot reach the internet.
            args=["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        yield launched
        await launched.close()


@dataclass
class Visit:
    """One browser context (one signed-in tab) and everything its page asked for."""

    base: str
    context: BrowserContext
    page: Page
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    async def sign_in(self, nation: str) -> None:
        await self.page.goto(f"{self.base}/explorer/#/signin")
        await self.page.get_by_test_id(f"signin-{nation}").click()
        await self.page.wait_for_selector('main[data-view="search"][data-state="ready"]')

    async def open(self, route: str, view: str) -> None:
        await self.page.goto(f"{self.base}/explorer/#{route}")
        await self.ready(view)

    async def ready(self, view: str) -> None:
        await self.page.wait_for_selector(f'main[data-view="{view}"][data-state="ready"]')

    async def token(self, nation: str) -> str:
        """A token for the nation's demo client, obtained as the sign-in page obtains it."""
        client = f"demo-{nation.lower()}"
        async with httpx.AsyncClient(base_url=self.base) as http:
            reply = await http.post(
                "/oauth/token",
                auth=(client, f"{client}-secret"),
                data={"grant_type": "client_credentials"},
            )
        return str(reply.json()["access_token"])

    async def graphql(self, nation: str, query: str, **variables: object) -> dict[str, Any]:
        """The API's own answer for the nation, to compare with what the page shows."""
        headers = {"Authorization": f"Bearer {await self.token(nation)}"}
        async with httpx.AsyncClient(base_url=self.base, timeout=120) as http:
            reply = await http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
        body: dict[str, Any] = reply.json()
        return body

    def foreign_requests(self) -> list[str]:
        origin = urlsplit(self.base)
        return [
            url
            for url in self.requests
            if (urlsplit(url).scheme, urlsplit(url).netloc) != (origin.scheme, origin.netloc)
        ]


Browse = Callable[[], Awaitable[Visit]]


@pytest_asyncio.fixture(loop_scope="session")
async def browse(browser: Browser, dibx_url: str) -> AsyncIterator[Browse]:
    """Opens fresh tabs (one per caller); afterwards, no tab may have asked another host,
    hit a page error, or logged a console error (CSP violations are console errors)."""
    opened: list[Visit] = []

    async def open_tab() -> Visit:
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(60_000)  # analytics on a busy CI machine
        page = await context.new_page()
        seen = Visit(dibx_url, context, page)
        page.on("request", lambda request: seen.requests.append(request.url))
        page.on("pageerror", lambda error: seen.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                seen.problems.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        opened.append(seen)
        return seen

    yield open_tab
    for seen in opened:
        await seen.context.close()
    for seen in opened:
        assert seen.requests, "the page made no request at all"
        assert seen.foreign_requests() == [], "the page asked a host other than dibx"
        assert seen.problems == []


@pytest.fixture
def screenshot_dir(tmp_path: Path, project_root: Path) -> list[Path]:
    """Where a screenshot goes: the test's tmp dir, and docs/screenshots/ when asked for."""
    targets = [tmp_path]
    if os.environ.get(SCREENSHOTS_ENV):
        targets.append(project_root / "docs" / "screenshots")
    return targets
