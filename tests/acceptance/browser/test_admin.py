"""The admin after a playground run: what each double-text did, as an operator sees it."""

import pytest
from playwright.async_api import expect

from tests.conftest import orm

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long enough password"


def create_superuser():
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD)


async def test_admin_shows_what_the_playground_did(page, screenshot):
    await orm(create_superuser)()
    await page.set_viewport_size({"width": 1400, "height": 900})
    await page.goto("/playground/")
    await page.evaluate("window.__doubletextConfig = {configurable: {token_delay: 0.05}}")
    await page.click("#run")
    await expect(page.locator("#progress")).to_contain_text("Done", timeout=40000)

    await page.goto("/admin/login/?next=/admin/runs/run/")
    await page.fill("#id_username", "root")
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    runs = page.locator("#result_list")
    await expect(runs).to_contain_text("“what's the weather in nyc?”")
    await expect(runs).to_contain_text("rolled back #1 “what's the weather in sf?” (was running)")
    await expect(runs).to_contain_text("interrupted by #2")  # the interrupt thread's first run
    await screenshot(page, "admin-runs-1400x900")

    # The rollback thread is the one whose conversation starts with the double-text.
    await page.goto("/admin/runs/thread/")
    await page.locator("#result_list a", has_text="nyc").click()
    await expect(page.locator(".dt-conversation")).to_contain_text("The weather in nyc is sunny")
    await expect(page.locator(".dt-conversation")).not_to_contain_text("sf")
    await expect(page.locator("tr.dt-rolled-back")).to_contain_text("rolled back by #2")
    await screenshot(page, "admin-thread-1400x900")
