"""Real headless Chromium (Debian's package) driven by Playwright.

Playwright is only the driver here: it cannot download browsers on these
machines, so it launches /usr/bin/chromium. Without Chromium the tests skip
locally and fail under CI (`.ci/run` installs it).
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture
async def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; .ci/run installs it")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser, live_server_url):
    context = await browser.new_context(
        base_url=live_server_url, viewport={"width": 1280, "height": 800}
    )
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def take(page, name):
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
