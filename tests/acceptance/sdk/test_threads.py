"""Threads, state and assistants through the SDK."""

import uuid

import httpx
import pytest

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"configurable": {"token_delay": 0, "reply_words": 5}}


async def test_thread_lifecycle(sdk):
    thread_id = str(uuid.uuid4())
    thread = await sdk.threads.create(thread_id=thread_id, metadata={"user": "ann"})
    assert thread["thread_id"] == thread_id and thread["status"] == "idle"
    again = await sdk.threads.create(thread_id=thread_id, if_exists="do_nothing")
    assert again["thread_id"] == thread_id
    with pytest.raises(httpx.HTTPStatusError) as error:
        await sdk.threads.create(thread_id=thread_id)
    assert error.value.response.status_code == 409
    await sdk.threads.create(metadata={"user": "bob"})
    found = await sdk.threads.search(metadata={"user": "ann"})
    assert [t["thread_id"] for t in found] == [thread_id]
    await sdk.threads.update(thread_id, metadata={"topic": "weather"})
    assert (await sdk.threads.get(thread_id))["metadata"] == {"user": "ann", "topic": "weather"}
    await sdk.threads.delete(thread_id)
    with pytest.raises(httpx.HTTPStatusError) as error:
        await sdk.threads.get(thread_id)
    assert error.value.response.status_code == 404


async def test_state_history_and_update(sdk):
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    await sdk.runs.wait(tid, "agent", input={"messages": ["hi"]}, config=FAST)
    state = await sdk.threads.get_state(tid)
    assert set(state) >= {
        "values",
        "next",
        "checkpoint",
        "parent_checkpoint",
        "metadata",
        "created_at",
        "tasks",
    }
    assert state["next"] == [] and state["metadata"]["source"] == "loop"
    history = await sdk.threads.get_history(tid, limit=10)
    assert history[0]["checkpoint"] == state["checkpoint"]
    assert history[1]["checkpoint"] == state["parent_checkpoint"]
    assert len(history[-1]["values"]["messages"]) == 0
    older = await sdk.threads.get_state(
        tid, checkpoint_id=history[1]["checkpoint"]["checkpoint_id"]
    )
    assert older["values"] == history[1]["values"]
    update = await sdk.threads.update_state(
        tid, {"messages": [{"role": "user", "content": "added by hand"}]}, as_node="model"
    )
    assert update["checkpoint"]["checkpoint_id"]
    state = await sdk.threads.get_state(tid)
    assert state["values"]["messages"][-1]["content"] == "added by hand"
    assert state["metadata"]["source"] == "update"


async def test_assistants(sdk):
    found = await sdk.assistants.search()
    assert [a["graph_id"] for a in found] == ["agent", "hitl"]  # the project's langgraph.json
    assistant = await sdk.assistants.get(found[0]["assistant_id"])
    assert assistant["graph_id"] == "agent"
    # A run may name the assistant by its UUID too.
    thread = await sdk.threads.create()
    values = await sdk.runs.wait(
        thread["thread_id"], assistant["assistant_id"], input={"messages": ["hi"]}, config=FAST
    )
    assert values["messages"][-1]["type"] == "ai"
    graph = await sdk.assistants.get_graph("agent")
    assert {n["id"] for n in graph["nodes"]} >= {"model", "tools"}


async def test_thread_less_run(sdk):
    values = await sdk.runs.wait(None, "agent", input={"messages": ["hi"]}, config=FAST)
    assert [m["type"] for m in values["messages"]] == ["human", "ai"]
