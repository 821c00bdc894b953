"""The strategy playground: one first message and one double-text, sent with the
same timing to four new threads, one per strategy, side by side."""

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}
# Slow enough that the double-text (1 s into the first answer) lands mid-answer.
PACE = "window.__doubletextConfig = {configurable: {token_delay: 0.05, reply_words: 60}}"


@pytest.fixture
async def open_page(browser, live_server_url):
    contexts = []

    async def open_at(viewport):
        context = await browser.new_context(base_url=live_server_url, viewport=viewport)
        contexts.append(context)
        page = await context.new_page()
        await page.goto("/playground/")
        await page.evaluate(PACE)
        return page

    yield open_at
    for context in contexts:
        await context.close()


def column(page, strategy):
    return page.locator(f'.column[data-strategy="{strategy}"]')


async def wait_done(page):
    await expect(page.locator("#progress")).to_contain_text("Done", timeout=40000)


async def check_each_strategy(page):
    reject = column(page, "reject")
    await expect(reject.locator(".notices")).to_contain_text("409")
    await expect(reject.locator(".messages")).to_contain_text("The weather in sf is sunny")
    await expect(reject.locator(".messages")).not_to_contain_text("nyc")
    await expect(reject.locator(".run.success")).to_have_count(1)
    await expect(reject.locator(".run.refused")).to_contain_text("rejected")

    enqueue = column(page, "enqueue")
    await expect(enqueue.locator(".messages")).to_contain_text("The weather in sf is sunny")
    await expect(enqueue.locator(".message.ai .body").last).to_contain_text("The weather in nyc")
    await expect(enqueue.locator(".run.success")).to_have_count(2)
    await expect(enqueue.locator(".notices")).to_contain_text("#2 queued")

    interrupt = column(page, "interrupt")
    cut_short = interrupt.locator(".message.interrupted")
    await expect(cut_short).to_have_count(1)
    # How far it got depends on the machine's load; it is the first answer's start.
    await expect(cut_short).to_contain_text("The weather in")
    await expect(cut_short).not_to_contain_text("nyc")
    await expect(cut_short.locator(".badge")).to_have_text("interrupted")
    await expect(interrupt.locator(".message.ai .body").last).to_contain_text("The weather in nyc")
    await expect(interrupt.locator(".run.interrupted")).to_contain_text("interrupted by #2")
    await expect(interrupt.locator(".run.success")).to_have_count(1)

    # The first answer shows where it was when the double-text left (the
    # rollback's is gone with it); its text stays whole.
    for strategy in ("reject", "enqueue", "interrupt"):
        marked = (
            column(page, strategy).locator(".message.ai").filter(has=page.locator(".sent-mark"))
        )
        await expect(marked).to_have_count(1)
        await expect(marked).to_contain_text("The weather in")
        await expect(marked).not_to_contain_text("nyc")

    rollback = column(page, "rollback")
    await expect(rollback.locator(".messages")).not_to_contain_text("sf")
    await expect(rollback.locator(".message.ai .body").last).to_contain_text("The weather in nyc")
    erased = rollback.locator(".run.rolled-back")
    await expect(erased).to_have_count(1)
    await expect(erased).to_contain_text("rolled back by #2")
    await expect(erased.locator(".text")).to_have_css("text-decoration-line", "line-through")
    await expect(rollback.locator(".notices")).to_contain_text("#1 rolled back")
    await expect(rollback.locator(".sent-mark")).to_have_count(0)


async def test_four_strategies_side_by_side(open_page, screenshot, axe):
    page = await open_page(DESKTOP)
    assert await axe(page) == []  # before anything is sent, too
    await page.click("#run")
    # The first answers stream in all four columns, as they come.
    for strategy in ("reject", "enqueue", "interrupt", "rollback"):
        await expect(column(page, strategy).locator(".messages")).to_contain_text("sf")
    await expect(column(page, "rollback").locator(".notices")).to_contain_text("rolled back")
    await screenshot(page, "playground-1400x900-running")
    await wait_done(page)
    await check_each_strategy(page)
    # One row, four columns, side by side.
    boxes = [await column(page, s).bounding_box() for s in ("reject", "enqueue", "interrupt")]
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]
    await screenshot(page, "playground-1400x900")
    assert await axe(page) == []


async def test_on_a_phone_with_the_keyboard_alone(open_page, screenshot, axe):
    page = await open_page(PHONE)
    await page.focus("#delay")
    for _ in range(5):
        await page.keyboard.press("ArrowRight")
    await expect(page.locator("#delay-value")).to_have_text("1.5 s")
    await page.keyboard.press("Tab")
    await expect(page.locator("#length")).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(page.locator("#run")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#progress")).to_contain_text("1.5 s into each answer")
    await wait_done(page)
    await check_each_strategy(page)
    # The columns stack, each as wide as the screen allows.
    first, second = [await column(page, s).bounding_box() for s in ("reject", "enqueue")]
    assert second["y"] >= first["y"] + first["height"]
    assert first["x"] == second["x"] and first["width"] > 300
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # Links jump to each stacked column.
    await page.click('nav.jump a[href="#column-rollback"]')
    await expect(column(page, "rollback").locator("h2")).to_be_in_viewport()
    await screenshot(page, "playground-390x844")
    assert await axe(page) == []
    # Again: four new threads, the columns start over.
    links = page.locator(".column .thread-link")
    before = [await links.nth(i).get_attribute("href") for i in range(4)]
    await page.focus("#run")
    await page.keyboard.press("Enter")
    await expect(page.locator("#progress")).not_to_contain_text("Done")
    await wait_done(page)
    after = [await links.nth(i).get_attribute("href") for i in range(4)]
    assert len(set(before + after)) == 8
    await check_each_strategy(page)


async def test_the_playground_is_linked_from_the_chat(page):
    await page.goto("/")
    await page.click("text=Strategy playground")
    await expect(page).to_have_url(f"{page.url.split('/playground')[0]}/playground/")
    await expect(page.locator("h1")).to_have_text("Strategy playground")
    await expect(page.locator(".column")).to_have_count(4)
    await expect(page.locator(".column .messages[aria-live=polite]")).to_have_count(4)


async def test_a_rate_limited_double_text_is_said_so_and_the_page_finishes(browser):
    """Eight runs against a limit of five a minute: the four first messages and one
    double-text go; the other three are refused by the rate limit (not by a
    strategy), the columns say so and the page still finishes."""
    from tests.live_server import LiveServer

    server = LiveServer(env={"RUNS_CREATE_RATE": "5/min"})
    context = await browser.new_context(base_url=server.url, viewport=DESKTOP)
    try:
        page = await context.new_page()
        await page.goto("/playground/")
        await page.evaluate(PACE)
        await page.click("#run")
        await wait_done(page)
        throttled = page.locator(".notice", has_text="Not sent: Too many messages")
        await expect(throttled).to_have_count(3)
        await expect(page.locator("#run")).to_be_enabled()
    finally:
        await context.close()
        server.stop()


async def test_a_double_text_after_a_short_answer_is_just_a_message(open_page):
    """Strategies only matter while the agent answers: after a short first answer
    the double-text is an ordinary message in all four threads."""
    page = await open_page(DESKTOP)
    await page.evaluate("delete window.__doubletextConfig")  # the page's own pace
    await page.select_option("#length", "15")
    await page.fill("#delay", "3")  # a range input takes fill()
    await expect(page.locator("#delay-value")).to_have_text("3.0 s")
    await page.click("#run")
    await wait_done(page)
    for strategy in ("reject", "enqueue", "interrupt", "rollback"):
        each = column(page, strategy)
        await expect(each.locator(".run.success")).to_have_count(2)
        await expect(each.locator(".messages")).to_contain_text("The weather in sf")
        await expect(each.locator(".message.ai .body").last).to_contain_text("The weather in nyc")
        await expect(each.locator(".notices")).to_be_empty()


async def test_a_signed_in_user_without_the_local_demo(browser, transactional_db):
    """With the local demo off, the page asks to sign in, then works on the user's
    own threads (session and CSRF for the API, the session for the websockets)."""
    from tests.acceptance.browser.test_accounts import create_users, sign_in
    from tests.conftest import orm
    from tests.live_server import LiveServer

    await orm(create_users)()
    server = LiveServer(env={"LOCAL_DEMO": "false"})
    try:
        page = await sign_in(browser, server.url, "alice")
        await page.goto("/playground/")
        await expect(page.locator("h1")).to_have_text("Strategy playground")
        await page.evaluate(PACE)
        await page.click("#run")
        await wait_done(page)
        await check_each_strategy(page)
        await page.context.close()
    finally:
        server.stop()
