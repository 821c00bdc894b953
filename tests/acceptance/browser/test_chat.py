"""A person at the chat page double-texts with each strategy and sees it act."""

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.django_db(transaction=True)

SF = "what's the weather in sf?"
NYC = "what's the weather in nyc?"


async def open_new_thread(page):
    await page.goto("/")
    await expect(page.locator("#connection")).to_have_text("live")
    before = await page.locator("#thread-title").text_content()
    await page.click("#new-thread")
    await expect(page.locator("#thread-title")).not_to_have_text(before)
    await expect(page.locator("#connection")).to_have_text("live")
    # Slow the demo agent down on this page so a person (or test) can double-text.
    await page.evaluate(
        "window.__doubletextConfig = {configurable: {token_delay: 0.06, reply_words: 70}}"
    )


async def send(page, text, strategy):
    await page.select_option("#strategy", strategy)
    await page.fill("#input", text)
    await page.press("#input", "Enter")


async def wait_streaming(page):
    await expect(page.locator(".message.streaming .body")).to_contain_text("The weather in sf")


async def test_rollback_erases_the_first_exchange(page, screenshot):
    await open_new_thread(page)
    await send(page, SF, "enqueue")
    await wait_streaming(page)
    await send(page, NYC, "rollback")
    messages = page.locator("#messages")
    await expect(messages.locator(".message").filter(has_text="weather in sf")).to_have_count(0)
    await expect(messages.locator(".message.ai .body").last).to_contain_text(
        "The weather in nyc is sunny", timeout=20000
    )
    await expect(page.locator("#typing")).to_be_hidden(timeout=20000)
    await expect(messages).not_to_contain_text("sf")
    # The rolled-back run stays in the timeline, struck through (test_chat_features).
    await expect(page.locator("#runs .run:not(.rolled_back)")).to_have_count(1)
    await screenshot(page, "rollback")


async def test_interrupt_keeps_the_cut_short_answer(page, screenshot):
    await open_new_thread(page)
    await send(page, SF, "enqueue")
    await wait_streaming(page)
    await send(page, NYC, "interrupt")
    interrupted = page.locator(".message.interrupted")
    await expect(interrupted).to_have_count(1)
    await expect(interrupted).to_contain_text("The weather in sf")
    await expect(interrupted.locator(".badge")).to_have_text("interrupted")
    await expect(page.locator(".message.ai .body").last).to_contain_text(
        "The weather in nyc is sunny", timeout=20000
    )
    await expect(page.locator("#runs .run.interrupted")).to_have_count(1)
    await screenshot(page, "interrupt")


async def test_enqueue_shows_the_queued_message_then_both_answers(page, screenshot):
    await open_new_thread(page)
    await send(page, SF, "enqueue")
    await wait_streaming(page)
    await send(page, NYC, "enqueue")
    queued = page.locator(".message.queued")
    await expect(queued).to_contain_text(NYC)
    await expect(queued.locator(".badge")).to_have_text("queued")
    await screenshot(page, "enqueue-queued")
    await expect(page.locator(".message.queued")).to_have_count(0, timeout=20000)
    await expect(page.locator(".message.ai .body").last).to_contain_text(
        "The weather in nyc is sunny", timeout=20000
    )
    await expect(page.locator("#messages")).to_contain_text("The weather in sf is sunny")
    await screenshot(page, "enqueue")


async def test_reject_shows_a_notice_and_keeps_the_text(page, screenshot):
    await open_new_thread(page)
    await send(page, SF, "enqueue")
    await wait_streaming(page)
    await send(page, NYC, "reject")
    await expect(page.locator("#notice")).to_contain_text("Rejected")
    await expect(page.locator("#input")).to_have_value(NYC)
    await screenshot(page, "reject")
    await expect(page.locator("#typing")).to_be_hidden(timeout=20000)
    await expect(page.locator("#messages")).not_to_contain_text("nyc")


async def test_script_in_a_message_is_inert(page):
    await open_new_thread(page)
    payload = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script> hi'
    await send(page, payload, "enqueue")
    await expect(page.locator(".message.human").first).to_contain_text("<script>")
    await expect(page.locator(".message.ai .body").last).to_contain_text("You asked", timeout=20000)
    assert await page.evaluate("window.__pwned") is None
    assert await page.locator("#messages img").count() == 0


XSS = [
    '<img src=x onerror="window.__pwned=1">',
    "<svg onload=window.__pwned=1></svg>",
    '<iframe src="javascript:window.__pwned=1"></iframe>',
    "[click me](javascript:window.__pwned=1)",
    '<a href="javascript:window.__pwned=1">link</a>',
    "<details open ontoggle=window.__pwned=1>",
]


async def test_html_payloads_stay_inert_in_the_answer_and_the_thread_list(page):
    await open_new_thread(page)
    await page.evaluate("window.__doubletextConfig = {configurable: {token_delay: 0}}")
    for payload in XSS:
        await send(page, payload + " hi", "enqueue")
        await expect(page.locator(".message.ai .body").last).to_contain_text("hi", timeout=20000)
    await page.reload()
    await expect(page.locator("#threads .thread.current")).to_contain_text("<img")
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator(".message.human")).to_have_count(len(XSS))
    assert await page.evaluate("window.__pwned") is None
    # Sanitised markup may stay (an <img> without its handler), but nothing that runs.
    dangerous = await page.evaluate(
        """() => [...document.querySelectorAll("#messages *, #threads *")].filter((e) =>
            ["SCRIPT", "IFRAME", "OBJECT", "EMBED", "SVG"].includes(e.tagName.toUpperCase()) ||
            [...e.attributes].some((a) => a.name.startsWith("on") ||
                /^\\s*javascript:/i.test(a.value))).map((e) => e.outerHTML)"""
    )
    assert dangerous == []
