"""The chat page beyond the four strategies: what a rollback or an interrupt looks like
as it happens, the run timeline and its detail, the graph picker, human in the loop,
editing and regenerating with branches, phone-width drawers, the keyboard alone, and
an axe-core scan. Each test runs at a desktop and a phone size, with screenshots."""

import pytest
from playwright.async_api import expect

from tests.acceptance.browser.conftest import SCREENSHOTS

pytestmark = pytest.mark.django_db(transaction=True)

SF = "what's the weather in sf?"
NYC = "what's the weather in nyc?"
SLOW = "window.__doubletextConfig = {configurable: {token_delay: 0.06, reply_words: 70}}"
FAST = "window.__doubletextConfig = {configurable: {token_delay: 0.01, reply_words: 13}}"
SIZES = {"wide": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}

# Every order the conversation's nodes take, recorded on each DOM change: what the
# page showed at each moment, without sampling on a timer.
RECORD_ORDERS = """() => {
    window.__orders = [];
    const messages = document.getElementById("messages");
    const snap = () => window.__orders.push([...messages.children].map((n) => ({
        removing: Boolean(n.dataset.removing),
        human: n.classList.contains("human"),
        text: n.textContent,
    })));
    new MutationObserver(snap).observe(messages,
        {childList: true, subtree: true, attributes: true, attributeFilter: ["class"]});
}"""


@pytest.fixture(params=list(SIZES))
async def sized(request, browser, live_server_url):
    """A page at a desktop size and at a phone size; its `name` tags screenshots."""
    context = await browser.new_context(base_url=live_server_url, viewport=SIZES[request.param])
    page = await context.new_page()
    page.size_name = request.param
    yield page
    await context.close()


async def shot(page, name):
    """A screenshot as a person sees the page at rest: animations run to their end
    (a message caught fading in would look disabled)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.size_name}.png"
    await page.screenshot(path=str(path), full_page=True, animations="disabled")


async def open_new_thread(page, config=SLOW, graph=None):
    await page.goto("/")
    await expect(page.locator("#connection")).to_have_text("live")
    await expect(page.locator("#assistant option")).not_to_have_count(0)
    before = await page.locator("#thread-title").text_content()
    if await page.locator("#toggle-threads").is_visible():
        await page.click("#toggle-threads")
    if graph:
        await page.select_option("#assistant", label=graph)
    await page.click("#new-thread")
    await expect(page.locator("#thread-title")).not_to_have_text(before)
    await expect(page.locator("#connection")).to_have_text("live")
    await page.evaluate(config)


async def send(page, text, strategy="enqueue"):
    await page.select_option("#strategy", strategy)
    await page.fill("#input", text)
    await page.press("#input", "Enter")


async def open_runs(page):
    """The timeline: beside the chat, or behind its button on a phone."""
    if await page.locator("#toggle-runs").is_visible():
        if await page.locator("#toggle-runs").get_attribute("aria-expanded") != "true":
            await page.click("#toggle-runs")
    await expect(page.locator("#timeline")).to_be_visible()


async def close_drawers(page):
    await page.keyboard.press("Escape")


async def answered(page, text):
    await expect(page.locator(".message.ai .body").last).to_contain_text(text, timeout=20000)
    await expect(page.locator("#typing")).to_be_hidden(timeout=20000)


async def test_rollback_fades_the_erased_exchange_where_it_stood(sized):
    page = sized
    await open_new_thread(page)
    await send(page, SF)
    await expect(page.locator(".message.streaming .body")).to_contain_text("The weather in sf")
    await page.evaluate(RECORD_ORDERS)
    await send(page, NYC, "rollback")
    await answered(page, "The weather in nyc is sunny")
    orders = await page.evaluate("window.__orders")
    faded_then_new = False
    for order in orders:
        removing = [i for i, n in enumerate(order) if n["removing"]]
        new = [i for i, n in enumerate(order) if not n["removing"] and "nyc" in n["text"]]
        # The erased exchange stays above; what the new message brings comes after it.
        assert not removing or not new or max(removing) < min(new), order
        # One copy of the new message at a time: never "sending…" beside the real one.
        assert sum(1 for n in order if n["human"] and not n["removing"] and NYC in n["text"]) <= 1
        faded_then_new |= bool(removing and new)
    assert faded_then_new  # both were on screen together, in that order
    await expect(page.locator("#messages")).not_to_contain_text("sf")
    await shot(page, "rollback")


async def test_interrupt_never_shows_the_new_message_twice(sized):
    page = sized
    await open_new_thread(page)
    await send(page, SF)
    await expect(page.locator(".message.streaming .body")).to_contain_text("humidity. It is")
    await page.evaluate(RECORD_ORDERS)
    await send(page, NYC, "interrupt")
    await answered(page, "The weather in nyc is sunny")
    for order in await page.evaluate("window.__orders"):
        copies = [n for n in order if n["human"] and not n["removing"] and NYC in n["text"]]
        assert len(copies) <= 1, order
    await expect(page.locator(".message.human").filter(has_text=NYC)).to_have_count(1)
    await shot(page, "interrupt")


async def test_rolled_back_run_stays_in_the_timeline_naming_its_eraser(sized):
    page = sized
    await open_new_thread(page)
    await send(page, SF)
    await expect(page.locator(".message.streaming .body")).to_contain_text("The weather in sf")
    await send(page, NYC, "rollback")
    await answered(page, "The weather in nyc is sunny")
    await open_runs(page)
    gone = page.locator("#runs .run.rolled_back")
    await expect(gone).to_have_count(1)
    await expect(gone).to_contain_text("rolled back")
    await expect(gone).to_contain_text("erased by #2")
    await expect(gone).to_contain_text(NYC)
    await expect(gone.locator(".text")).to_have_text(SF)
    assert "line-through" in await gone.locator(".text").evaluate(
        "(e) => getComputedStyle(e).textDecorationLine"
    )
    await expect(page.locator("#runs .run")).to_have_count(2)
    # Still there for a page that opens the thread afterwards.
    await page.reload()
    await open_runs(page)
    await expect(page.locator("#runs .run.rolled_back")).to_contain_text("erased by #2")
    await shot(page, "timeline-rolled-back")


async def test_tool_calls_have_an_svg_icon_not_an_emoji(sized):
    page = sized
    await open_new_thread(page, FAST)
    await send(page, SF)
    await answered(page, "The weather in sf is sunny")
    card = page.locator(".tool-card.call").first
    await expect(card.locator("svg")).to_have_count(1)
    await expect(card).to_contain_text('get_weather(city: "sf")')
    assert "🔧" not in await page.locator("#messages").text_content()
    await shot(page, "tool-call")


async def test_demo_answers_end_on_a_whole_sentence(sized):
    page = sized
    await open_new_thread(page, FAST)
    await send(page, "hello")
    await answered(page, "You asked")
    text = (await page.locator(".message.ai .body").last.text_content()).strip()
    assert text.endswith(".") and len(text.split()) == 13, text


async def test_graph_picker_starts_a_thread_on_the_chosen_graph(sized):
    page = sized
    await page.goto("/")
    await expect(page.locator("#assistant option")).to_have_text(["agent", "hitl"])
    await open_new_thread(page, FAST, graph="hitl")
    await expect(page.locator("#thread-graph")).to_have_text("graph: hitl")
    await send(page, SF)
    # Only hitl asks before calling a tool.
    await expect(page.locator("#interrupt")).to_be_visible(timeout=20000)
    await page.reload()
    await expect(page.locator("#thread-graph")).to_have_text("graph: hitl")
    if await page.locator("#toggle-threads").is_visible():
        await page.click("#toggle-threads")
    await expect(page.locator("#threads .thread.current .tag")).to_have_text("hitl")
    await shot(page, "graph-picker")


async def test_graph_picker_lists_a_users_own_assistant(sized):
    page = sized
    await page.goto("/")
    created = await page.request.post(
        "/assistants",
        data={
            "graph_id": "agent",
            "name": "terse agent",
            "context": {"reply_words": 5, "token_delay": 0},
        },
    )
    assert created.ok, await created.text()
    await open_new_thread(page, "0", graph="terse agent")
    await expect(page.locator("#thread-graph")).to_have_text("graph: terse agent")
    await send(page, "hello")
    # The assistant's context: five words, whatever the demo's default.
    await answered(page, 'You asked: "hello".')
    text = (await page.locator(".message.ai .body").last.text_content()).strip()
    assert len(text.split()) == 5, text


@pytest.mark.parametrize(
    ("how", "answer"),
    [
        ("approve", "The weather in sf is sunny"),
        ("decline", "because the call to get_weather was declined"),
        ("answer", "because the call to get_weather was declined"),
    ],
)
async def test_an_interrupt_is_shown_and_answered(sized, how, answer):
    page = sized
    await open_new_thread(page, FAST, graph="hitl")
    await send(page, SF)
    panel = page.locator("#interrupt")
    await expect(panel).to_be_visible(timeout=20000)
    await expect(panel).to_contain_text("Call get_weather?")
    await expect(panel.locator(".tool-card")).to_contain_text('get_weather(city: "sf")')
    await expect(page.locator("#thread-status")).to_have_text("waiting for you")
    if how == "approve":
        await shot(page, "hitl-waiting")
        await page.click("#approve")
    elif how == "decline":
        await page.click("#decline")
    else:
        await page.fill("#answer", "not now")
        await page.press("#answer", "Enter")
    await expect(panel).to_be_hidden()
    await answered(page, answer)
    await shot(page, f"hitl-{how}")


async def test_a_double_text_while_waiting_follows_the_strategy(sized):
    page = sized
    await open_new_thread(page, FAST, graph="hitl")
    await send(page, SF)
    await expect(page.locator("#interrupt")).to_be_visible(timeout=20000)
    await send(page, "never mind, hello", "reject")
    # Nothing runs while the thread waits, so even reject lets it through, and the
    # new message replaces the question.
    await answered(page, 'You asked: "never mind, hello"')
    await expect(page.locator("#interrupt")).to_be_hidden()
    await expect(page.locator("#notice")).to_be_hidden()


async def test_edit_a_message_and_switch_between_branches(sized):
    page = sized
    await open_new_thread(page, FAST)
    await send(page, "hello")
    await answered(page, 'You asked: "hello"')
    human = page.locator(".message.human").first
    await human.get_by_role("button", name="Edit this message").click()
    await human.locator("textarea").fill("goodbye")
    await human.get_by_role("button", name="Send edit").click()
    await answered(page, 'You asked: "goodbye"')
    await expect(page.locator(".message.human")).to_have_count(1)
    switcher = page.locator(".message.human .branches")
    await expect(switcher).to_contain_text("2/2", timeout=10000)
    await shot(page, "edit-branch-2")
    await switcher.get_by_role("button", name="Previous branch").click()
    await expect(switcher).to_contain_text("1/2")
    await expect(page.locator(".message.human .body")).to_have_text(["hello"])
    await expect(page.locator(".message.ai .body")).to_contain_text('You asked: "hello"')
    await expect(page.locator("#branch-bar")).to_be_visible()
    await shot(page, "edit-branch-1")
    await switcher.get_by_role("button", name="Next branch").click()
    await expect(switcher).to_contain_text("2/2")
    await expect(page.locator("#branch-bar")).to_be_hidden()
    await expect(page.locator(".message.ai .body")).to_contain_text('You asked: "goodbye"')
    await open_runs(page)
    edited = page.locator("#runs .run").nth(1)
    await expect(edited.locator(".text")).to_have_text("goodbye")
    await expect(edited.locator(".fork")).to_have_text("edit: forked from an earlier checkpoint")


async def test_regenerate_an_answer_makes_a_branch(sized):
    page = sized
    await open_new_thread(page, FAST)
    await send(page, "hello")
    await answered(page, 'You asked: "hello"')
    await page.get_by_role("button", name="Regenerate this answer").click()
    switcher = page.locator(".message.ai .branches")
    await expect(switcher).to_contain_text("2/2", timeout=20000)
    await expect(page.locator(".message.ai")).to_have_count(1)
    await switcher.get_by_role("button", name="Previous branch").click()
    await expect(switcher).to_contain_text("1/2")
    await open_runs(page)
    regenerated = page.locator("#runs .run").nth(1)
    await expect(regenerated.locator(".text")).to_have_text("regenerated answer")
    await expect(regenerated.locator(".fork")).to_have_text("forked from an earlier checkpoint")
    await shot(page, "regenerate")


async def test_timeline_entries_expand_to_strategy_effect_and_steps(sized):
    page = sized
    await open_new_thread(page)
    await send(page, SF)
    await expect(page.locator(".message.streaming .body")).to_contain_text("The weather in sf")
    await send(page, NYC, "interrupt")
    await answered(page, "The weather in nyc is sunny")
    await open_runs(page)
    first, second = page.locator("#runs .run").nth(0), page.locator("#runs .run").nth(1)
    await expect(first).to_contain_text("interrupted by #2")
    head = second.locator(".run-head")
    await expect(head).to_have_attribute("aria-expanded", "false")
    await head.click()
    await expect(head).to_have_attribute("aria-expanded", "true")
    detail = second.locator(".run-detail")
    await expect(detail).to_contain_text("strategy: interrupt")
    await expect(detail).to_contain_text("interrupted #1")
    await expect(detail.locator(".steps li").first).to_contain_text("step")
    await expect(detail.locator(".steps")).to_contain_text("model")
    await expect(detail.locator(".steps")).to_contain_text("tools")
    await first.locator(".run-head").click()
    await expect(first.locator(".run-detail")).to_contain_text("nothing: no run was in flight")
    await shot(page, "timeline-detail")


async def tab_to(page, selector, limit=60):
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


async def test_keyboard_alone_and_drawers_on_a_phone(browser, live_server_url):
    context = await browser.new_context(base_url=live_server_url, viewport=SIZES["phone"])
    page = await context.new_page()
    page.size_name = "phone"
    await page.goto("/")
    await expect(page.locator("#connection")).to_have_text("live")
    await page.evaluate(FAST)
    # The sidebars are behind buttons at this width.
    await expect(page.locator("#sidebar")).to_be_hidden()
    await expect(page.locator("#timeline")).to_be_hidden()
    await tab_to(page, "#toggle-threads")
    await page.keyboard.press("Enter")
    await expect(page.locator("#sidebar")).to_be_visible()
    await expect(page.locator("#toggle-threads")).to_have_attribute("aria-expanded", "true")
    await shot(page, "drawer-threads")
    await tab_to(page, "#new-thread")
    before = await page.locator("#thread-title").text_content()
    await page.keyboard.press("Enter")
    await expect(page.locator("#thread-title")).not_to_have_text(before)
    await expect(page.locator("#sidebar")).to_be_hidden()
    await expect(page.locator("#connection")).to_have_text("live")
    await tab_to(page, "#input")
    await page.keyboard.type("hello")
    await page.keyboard.press("Enter")
    await answered(page, 'You asked: "hello"')
    await page.focus("#toggle-runs")
    await page.keyboard.press("Enter")
    await expect(page.locator("#timeline")).to_be_visible()
    await expect(page.locator("#runs .run-head").first).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#runs .run-detail")).to_contain_text("strategy")
    await shot(page, "drawer-runs")
    await page.keyboard.press("Escape")
    await expect(page.locator("#timeline")).to_be_hidden()
    await expect(page.locator("#toggle-runs")).to_be_focused()
    # A touch screen has no Escape key: each drawer has a close button.
    await page.click("#toggle-threads")
    await page.get_by_role("button", name="Close threads").click()
    await expect(page.locator("#sidebar")).to_be_hidden()
    await context.close()


async def test_keyboard_focus_stays_on_a_run_entry_when_the_run_ends(sized):
    """The timeline is rebuilt when a run's status changes: a keyboard user on
    the entry of a run that ends stays on it."""
    page = sized
    await open_new_thread(page)
    await send(page, "hello")
    await open_runs(page)
    entry = page.locator("#runs .run-head").first
    await expect(entry).to_contain_text("running")
    await entry.focus()
    await expect(entry).to_contain_text("success", timeout=20000)
    await expect(page.locator("#runs .run-head").first).to_be_focused()


async def test_streamed_answers_and_notices_are_announced(sized):
    page = sized
    await expect_live_regions(page)
    await open_new_thread(page, FAST)
    await send(page, "hello")
    await answered(page, "You asked")
    await expect(page.locator("#announcer")).to_contain_text('Agent: You asked: "hello"')


async def expect_live_regions(page):
    await page.goto("/")
    await expect(page.locator("#messages")).to_have_attribute("aria-live", "polite")
    await expect(page.locator("#notice")).to_have_attribute("aria-live", "polite")
    await expect(page.locator("#announcer")).to_have_attribute("aria-live", "polite")


async def test_axe_finds_no_serious_violation(sized, axe):
    page = sized
    await open_new_thread(page, FAST, graph="hitl")
    await send(page, SF)
    await expect(page.locator("#interrupt")).to_be_visible(timeout=20000)
    assert await axe(page) == []
    await page.click("#approve")
    await answered(page, "The weather in sf is sunny")
    await open_runs(page)
    await page.locator("#runs .run-head").first.click()
    assert await axe(page) == []
    await shot(page, "axe-scanned")
    # An earlier branch, with its switcher and the bar saying so.
    await close_drawers(page)
    await page.get_by_role("button", name="Regenerate this answer").click()
    switcher = page.locator(".message.ai .branches")
    await expect(switcher).to_contain_text("2/2", timeout=20000)
    await switcher.get_by_role("button", name="Previous branch").click()
    await expect(page.locator("#branch-bar")).to_be_visible()
    if await page.locator("#toggle-threads").is_visible():
        await page.click("#toggle-threads")  # the drawer, on a phone
    assert await axe(page) == []  # (it waits for the page to come to rest)
