"""The LangGraph docs' double-texting examples, run against our server with the
official langgraph-sdk (https://docs.langchain.com/langsmith/double-texting)."""

import asyncio

import httpx
import pytest
from langchain_core.messages import convert_to_messages

pytestmark = pytest.mark.django_db(transaction=True)

# The first run streams slowly enough to double-text; the second is quick.
SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 80}}
FAST = {"configurable": {"token_delay": 0.01, "reply_words": 12}}
SF = {"messages": [{"role": "user", "content": "what's the weather in sf?"}]}
NYC = {"messages": [{"role": "user", "content": "what's the weather in nyc?"}]}


async def streaming(sdk, thread_id, run_id, chunks=1):
    """Wait until the run has streamed some of its answer (as a user would see it)."""
    async for part in sdk.runs.join_stream(thread_id, run_id, stream_mode="messages-tuple"):
        if part.event == "messages" and part.data[0]["type"] == "AIMessageChunk":
            chunks -= 1
            if chunks <= 0:
                return


def pretty(messages) -> list[str]:
    converted = convert_to_messages(messages)
    for message in converted:
        message.pretty_print()
    return [m.type for m in converted]


async def test_rollback(sdk):
    assistant_id = "agent"
    thread = await sdk.threads.create()
    rolled_back_run = await sdk.runs.create(
        thread["thread_id"], assistant_id, input=SF, config=SLOW
    )
    await streaming(sdk, thread["thread_id"], rolled_back_run["run_id"])
    run = await sdk.runs.create(
        thread["thread_id"], assistant_id, input=NYC, multitask_strategy="rollback", config=FAST
    )
    await sdk.runs.join(thread["thread_id"], run["run_id"])
    state = await sdk.threads.get_state(thread["thread_id"])
    assert pretty(state["values"]["messages"]) == ["human", "ai", "tool", "ai"]
    assert state["values"]["messages"][0]["content"] == "what's the weather in nyc?"
    with pytest.raises(httpx.HTTPStatusError) as error:
        await sdk.runs.get(thread["thread_id"], rolled_back_run["run_id"])
    assert error.value.response.status_code == 404


async def test_interrupt(sdk):
    thread = await sdk.threads.create()
    interrupted_run = await sdk.runs.create(thread["thread_id"], "agent", input=SF, config=SLOW)
    await streaming(sdk, thread["thread_id"], interrupted_run["run_id"], chunks=5)
    run = await sdk.runs.create(
        thread["thread_id"], "agent", input=NYC, multitask_strategy="interrupt", config=FAST
    )
    await sdk.runs.join(thread["thread_id"], run["run_id"])
    state = await sdk.threads.get_state(thread["thread_id"])
    types = pretty(state["values"]["messages"])
    assert types == ["human", "ai", "tool", "ai", "human", "ai", "tool", "ai"]
    partial = state["values"]["messages"][3]
    assert partial["response_metadata"]["interrupted"] is True
    assert partial["content"].startswith("The weather in sf")
    first = await sdk.runs.get(thread["thread_id"], interrupted_run["run_id"])
    assert first["status"] == "interrupted"
    second = await sdk.runs.get(thread["thread_id"], run["run_id"])
    assert second["status"] == "success"


async def test_enqueue(sdk):
    thread = await sdk.threads.create()
    first_run = await sdk.runs.create(thread["thread_id"], "agent", input=SF, config=FAST)
    second_run = await sdk.runs.create(
        thread["thread_id"], "agent", input=NYC, multitask_strategy="enqueue", config=FAST
    )
    await sdk.runs.join(thread["thread_id"], second_run["run_id"])
    state = await sdk.threads.get_state(thread["thread_id"])
    assert pretty(state["values"]["messages"]) == ["human", "ai", "tool", "ai"] * 2
    humans = [m["content"] for m in state["values"]["messages"] if m["type"] == "human"]
    assert humans == ["what's the weather in sf?", "what's the weather in nyc?"]
    for run in (first_run, second_run):
        assert (await sdk.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_reject(sdk):
    thread = await sdk.threads.create()
    run = await sdk.runs.create(thread["thread_id"], "agent", input=SF, config=SLOW)
    with pytest.raises(httpx.HTTPStatusError) as error:
        await sdk.runs.create(thread["thread_id"], "agent", input=NYC, multitask_strategy="reject")
    assert error.value.response.status_code == 409
    assert error.value.response.json()["error"] == "thread_busy"
    await sdk.runs.join(thread["thread_id"], run["run_id"])
    state = await sdk.threads.get_state(thread["thread_id"])
    assert pretty(state["values"]["messages"]) == ["human", "ai", "tool", "ai"]
    assert (await sdk.runs.get(thread["thread_id"], run["run_id"]))["status"] == "success"


async def test_wait_returns_final_values_and_runs_list(sdk):
    thread = await sdk.threads.create()
    values = await sdk.runs.wait(thread["thread_id"], "agent", input=SF, config=FAST)
    assert [m["type"] for m in values["messages"]] == ["human", "ai", "tool", "ai"]
    runs = await sdk.runs.list(thread["thread_id"])
    assert [r["status"] for r in runs] == ["success"]


async def test_cancel_with_wait_and_action(sdk):
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    run = await sdk.runs.create(tid, "agent", input=SF, config=SLOW)
    await streaming(sdk, tid, run["run_id"])
    await sdk.runs.cancel(tid, run["run_id"], wait=True, action="interrupt")
    assert (await sdk.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    second = await sdk.runs.create(tid, "agent", input=NYC, config=SLOW)
    await streaming(sdk, tid, second["run_id"])
    await sdk.runs.cancel(tid, second["run_id"], wait=True, action="rollback")
    with pytest.raises(httpx.HTTPStatusError):
        await sdk.runs.get(tid, second["run_id"])
    state = await sdk.threads.get_state(tid)
    humans = [m["content"] for m in state["values"]["messages"] if m["type"] == "human"]
    assert humans == ["what's the weather in sf?"]
    await asyncio.sleep(0)
