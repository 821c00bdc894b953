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
ROOT = Path(__file__).resolve().parents[3]
# At the repository root, gitignored (tests/test-artifacts was committed by mistake).
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# axe-core, the accessibility engine, pinned in the JS tests' lockfile (npm ci installs it).
AXE_JS = ROOT / "tests" / "acceptance" / "sdk" / "js" / "node_modules" / "axe-core" / "axe.min.js"


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


@pytest.fixture
def axe():
    """`await axe(page)`: the serious and critical axe-core violations on the page,
    as readable strings (an empty list when the page passes).

    Minor and moderate findings are left out: the acceptance bar is "no serious or
    critical violation", and the rest would make the assertion noisy."""
    if not AXE_JS.exists():
        if os.environ.get("CI"):
            pytest.fail(f"axe-core not found at {AXE_JS}; .ci/run runs npm ci")
        pytest.skip("axe-core is not installed (npm ci --prefix tests/acceptance/sdk/js)")

    async def scan(page, selector=None):
        # At rest, as a person reads it: a message still fading in is see-through
        # and fails the contrast check (the blinking caret and the typing dots
        # never end, so only animations that do end are waited for).
        await page.wait_for_function(
            """() => document.getAnimations().every((a) => a.playState !== "running"
                || a.effect.getComputedTiming().iterations === Infinity)"""
        )
        await page.add_script_tag(path=str(AXE_JS))
        results = await page.evaluate(
            """async (selector) => {
                const results = await axe.run(selector || document, {resultTypes: ["violations"]});
                return results.violations;
            }""",
            selector,
        )
        return [
            f"{v['impact']}: {v['id']} ({v['help']}) at "
            + "; ".join(" ".join(node["target"]) for node in v["nodes"][:5])
            for v in results
            if v["impact"] in ("serious", "critical")
        ]

    return scan
