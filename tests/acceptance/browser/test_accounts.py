"""Signing in at the browser: the login page, each user's own threads, logging out."""

import pytest
from playwright.async_api import expect

from tests.conftest import orm
from tests.live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long enough password"


def create_users():
    from django.contrib.auth import get_user_model

    User = get_user_model()
    for name in ("alice", "bob"):
        User.objects.create_user(name, password=PASSWORD)


@pytest.fixture
async def server(transactional_db):
    """A server without the local demo: everyone must sign in."""
    await orm(create_users)()
    live = LiveServer(env={"LOCAL_DEMO": "false"})
    yield live.url
    live.stop()


async def sign_in(browser, url, username, password=PASSWORD):
    context = await browser.new_context(base_url=url, viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    await page.goto("/")
    await expect(page).to_have_url(f"{url}/accounts/login/?next=/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", password)
    await page.click("button[type=submit]")
    return page


async def test_sign_in_chat_and_nobody_else_sees_the_thread(browser, server, screenshot):
    refused = await sign_in(browser, server, "alice", "wrong password")
    await expect(refused.locator(".notice.error")).to_contain_text("didn't match")

    alice = await sign_in(browser, server, "alice")
    await expect(alice.locator("#username")).to_have_text("alice")
    await expect(alice.locator("#connection")).to_have_text("live")
    await alice.evaluate("window.__doubletextConfig = {configurable: {token_delay: 0}}")
    await alice.fill("#input", "a secret plan")
    await alice.press("#input", "Enter")
    await expect(alice.locator(".message.ai .body").last).to_contain_text("a secret plan")
    alices_thread = alice.url.split("#")[1]
    await screenshot(alice, "signed-in")

    bob = await sign_in(browser, server, "bob")
    await expect(bob.locator("#username")).to_have_text("bob")
    await expect(bob.locator("#connection")).to_have_text("live")
    await expect(bob.locator("#threads")).not_to_contain_text("secret")
    await bob.evaluate(f"location.hash = '{alices_thread}'")
    await expect(bob.locator("#notice")).to_contain_text("does not exist")
    await expect(bob.locator("#messages")).not_to_contain_text("secret")

    await alice.click("text=Log out")
    await expect(alice).to_have_url(f"{server}/accounts/login/")
    await alice.goto("/")
    await expect(alice).to_have_url(f"{server}/accounts/login/?next=/")
