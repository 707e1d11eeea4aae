"""The explorer, end to end in chromium: what it shows is what the API releases to the caller."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import Visit

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

HYPERSONIC = base64.urlsafe_b64encode(b"Capability:cap.hypersonic-strike").decode().rstrip("=")
LM_MFC = base64.urlsafe_b64encode(b"Supplier:sup.lm-mfc").decode().rstrip("=")


async def save(visit: Visit, name: str, targets: list[Path]) -> Path:
    image = await visit.page.screenshot(full_page=True)
    for target in targets:
        target.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(image)
    return targets[0] / name


async def test_smoke(visit: Visit, screenshot_dir: list[Path]) -> None:
    await visit.sign_in("GBR")
    await visit.open(f"/capability/{HYPERSONIC}", "capability")
    await save(visit, "capability.png", screenshot_dir)
    await visit.open(f"/chain/{HYPERSONIC}", "chain")
    await save(visit, "chain.png", screenshot_dir)
    print(visit.requests)
