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
    # The project's langgraph.json; newest first, as on the platform.
    assert [a["graph_id"] for a in found] == ["hitl", "agent"]
    assistant = await sdk.assistants.get(found[1]["assistant_id"])
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


def ids(threads) -> list[str]:
    return [thread["thread_id"] for thread in threads]


async def test_search_and_count(sdk):
    first = await sdk.threads.create(metadata={"team": "red", "n": 1})
    second = await sdk.threads.create(metadata={"team": "red", "n": 2, "o": {"a": 1, "b": [1]}})
    await sdk.threads.create(metadata={"team": "blue"})
    tid = first["thread_id"]
    await sdk.runs.wait(tid, "agent", input={"messages": ["hi"]}, config=FAST)

    # the run stamped its graph into the thread's metadata
    assert ids(await sdk.threads.search(metadata={"graph_id": "agent"})) == [tid]
    assert ids(await sdk.threads.search(metadata={"o": {"b": [1], "a": 1}})) == [
        second["thread_id"]
    ]
    values = (await sdk.threads.get(tid))["values"]
    assert ids(await sdk.threads.search(values={"messages": values["messages"]})) == [tid]
    assert await sdk.threads.search(status="busy") == []

    red = await sdk.threads.search(
        metadata={"team": "red"}, sort_by="created_at", sort_order="asc", select=["thread_id"]
    )
    assert red == [{"thread_id": tid}, {"thread_id": second["thread_id"]}]
    # default: the most recently updated first (the run updated the first thread)
    assert ids(await sdk.threads.search(metadata={"team": "red"}))[0] == tid
    newest = await sdk.threads.search(sort_by="state_updated_at", limit=1)
    assert ids(newest) == [tid]

    extracted = await sdk.threads.search(
        ids=[tid], select=["status"], extract={"last": "values.messages[-1].type"}
    )
    assert extracted == [{"status": "idle", "extracted": {"last": "ai"}}]

    assert await sdk.threads.count() == 3
    assert await sdk.threads.count(metadata={"team": "red"}) == 2
    assert await sdk.threads.count(metadata={"team": "red"}, status="idle") == 2
    assert await sdk.threads.count(values={"messages": values["messages"]}) == 1

    with pytest.raises(httpx.HTTPStatusError) as error:
        await sdk.threads.search(select=["error"])
    assert error.value.response.status_code == 422
    assert error.value.response.json()["field"] == "select[0]"


async def test_pagination_headers(live_server_url, sdk):
    for _ in range(3):
        await sdk.threads.create()
    async with httpx.AsyncClient(base_url=live_server_url) as client:
        response = await client.post("/threads/search", json={"limit": 2})
    assert len(response.json()) == 2
    assert response.headers["x-pagination-total"] == "3"
    assert response.headers["x-pagination-next"] == "2"


async def test_copy_prune_and_the_state_at_a_checkpoint(sdk):
    thread = await sdk.threads.create(metadata={"user": "ann"})
    tid = thread["thread_id"]
    assert thread["state_updated_at"] and thread["error"] is None
    await sdk.runs.wait(tid, "agent", input={"messages": ["hi"]}, config=FAST)
    history = await sdk.threads.get_history(tid, limit=10)

    older = await sdk.threads.get_state(tid, checkpoint=history[1]["checkpoint"])
    assert older["checkpoint"] == history[1]["checkpoint"]
    assert older["values"] == history[1]["values"]

    copy = await sdk.threads.copy(tid)
    assert copy["thread_id"] != tid and copy["metadata"]["user"] == "ann"
    copied = await sdk.threads.get_history(copy["thread_id"], limit=10)
    assert [h["checkpoint_id"] for h in copied] == [h["checkpoint_id"] for h in history]
    assert (await sdk.threads.get_state(copy["thread_id"]))["values"] == history[0]["values"]

    pruned = await sdk.threads.prune([copy["thread_id"]], strategy="keep_latest")
    assert pruned == {"pruned_count": 1}
    assert len(await sdk.threads.get_history(copy["thread_id"], limit=10)) == 1
    assert len(await sdk.threads.get_history(tid, limit=10)) == len(history)

    assert await sdk.threads.prune([tid, copy["thread_id"]]) == {"pruned_count": 2}
    assert await sdk.threads.search() == []


async def test_create_with_supersteps_and_without_ttl(sdk):
    thread = await sdk.threads.create(
        graph_id="agent",
        supersteps=[
            {"updates": [{"values": {"messages": ["hi"]}, "as_node": "__start__"}]},
            {
                "updates": [
                    {
                        "values": {"messages": [{"type": "ai", "content": "hello"}]},
                        "as_node": "model",
                    }
                ]
            },  # noqa: E501
        ],
    )
    assert [m["content"] for m in thread["values"]["messages"]] == ["hi", "hello"]
    assert thread["status"] == "idle" and thread["metadata"] == {"graph_id": "agent"}
    assert len(await sdk.threads.get_history(thread["thread_id"], limit=10)) == 2

    with pytest.raises(httpx.HTTPStatusError) as error:
        await sdk.threads.create(ttl=60)
    assert error.value.response.status_code == 422
    assert error.value.response.json()["field"] == "ttl"
    assert await sdk.threads.search(metadata={"graph_id": "agent"}) != []
    assert await sdk.threads.count() == 1
