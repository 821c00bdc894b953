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


async def test_admin_shows_a_thread_waiting_for_a_human(page, screenshot):
    await orm(create_superuser)()
    await page.set_viewport_size({"width": 1400, "height": 900})
    await page.goto("/playground/")  # the local demo's session and CSRF cookie
    # A human-in-the-loop run (the `hitl` demo graph) stops at its interrupt().
    status = await page.evaluate(
        """async () => {
            const csrf = document.cookie.match(/csrftoken=([^;]+)/)[1];
            const post = (path, body) => fetch(path, {method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRFToken": csrf},
                body: JSON.stringify(body)}).then((r) => r.json());
            const thread = await post("/threads", {});
            await post(`/threads/${thread.thread_id}/runs/wait`, {assistant_id: "hitl",
                input: {messages: [{role: "user", content: "what's the weather in paris?"}]},
                config: {configurable: {token_delay: 0}}});
            return (await fetch(`/threads/${thread.thread_id}`).then((r) => r.json())).status;
        }"""
    )
    assert status == "interrupted"
    await page.goto("/admin/login/?next=/admin/runs/thread/%3Fwaiting%3Dyes")
    await page.fill("#id_username", "root")
    await page.fill("#id_password", PASSWORD)
    await page.click("input[type=submit]")
    await page.locator("#result_list a", has_text="paris").click()
    interrupts = page.locator(".dt-interrupts")
    await expect(interrupts).to_contain_text("Waiting for a human")
    await expect(interrupts).to_contain_text("Call get_weather?")
    await expect(interrupts.locator(".dt-call")).to_have_text('get_weather(city: "paris")')
    await screenshot(page, "admin-thread-waiting-1400x900")
