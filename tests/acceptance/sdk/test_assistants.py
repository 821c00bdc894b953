"""Assistants as resources, with the official Python SDK on a real server:
create, get, update (a new version), get_versions, set_latest, search, count,
delete; the defaults read-only; a run of an assistant runs with its options."""

import uuid

import httpx
import pytest

from runs.graphs import registry

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"token_delay": 0}


def words(values) -> int:
    return len(values["messages"][-1]["content"].split())


async def test_create_get_update_versions_and_set_latest(sdk):
    chosen = str(uuid.uuid4())
    made = await sdk.assistants.create(
        "agent",
        context={"reply_words": 20, **FAST},
        metadata={"team": "red"},
        assistant_id=chosen,
        name="terse",
        description="short answers",
    )
    assert made["assistant_id"] == chosen and made["version"] == 1
    assert made["name"] == "terse" and made["description"] == "short answers"
    assert made["context"] == {"reply_words": 20, **FAST}
    assert made["config"] == {"configurable": {"reply_words": 20, **FAST}}
    assert await sdk.assistants.get(chosen) == made

    again = await sdk.assistants.create("hitl", assistant_id=chosen, if_exists="do_nothing")
    assert again == made
    with pytest.raises(httpx.HTTPStatusError) as taken:
        await sdk.assistants.create("agent", assistant_id=chosen)
    assert taken.value.response.status_code == 409

    updated = await sdk.assistants.update(
        chosen, context={"reply_words": 30, **FAST}, metadata={"tier": 2}, name="wordier"
    )
    assert updated["version"] == 2 and updated["name"] == "wordier"
    assert updated["metadata"] == {"team": "red", "tier": 2}
    versions = await sdk.assistants.get_versions(chosen)
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[1]["context"]["reply_words"] == 20
    assert [v["version"] for v in await sdk.assistants.get_versions(chosen, limit=1)] == [2]
    tiered = await sdk.assistants.get_versions(chosen, metadata={"tier": 2})
    assert [v["version"] for v in tiered] == [2]

    back = await sdk.assistants.set_latest(chosen, 1)
    assert back["version"] == 1 and back["name"] == "terse"
    assert back["context"]["reply_words"] == 20
    assert (await sdk.assistants.get(chosen))["version"] == 1


async def test_search_count_and_delete(sdk):
    red = await sdk.assistants.create("agent", metadata={"team": "red"}, name="Red Fox")
    blue = await sdk.assistants.create("hitl", metadata={"team": "blue"}, name="Blue Whale")

    found = await sdk.assistants.search(metadata={"team": "red"})
    assert [a["assistant_id"] for a in found] == [red["assistant_id"]]
    assert [a["name"] for a in await sdk.assistants.search(name="whale")] == ["Blue Whale"]
    by_graph = await sdk.assistants.search(graph_id="hitl")
    assert {a["assistant_id"] for a in by_graph} == {
        blue["assistant_id"],
        registry.assistant_uuid("hitl"),
    }
    newest = await sdk.assistants.search(limit=2)
    assert [a["assistant_id"] for a in newest] == [blue["assistant_id"], red["assistant_id"]]
    by_name = await sdk.assistants.search(sort_by="name", sort_order="asc")
    assert [a["name"] for a in by_name] == ["agent", "Blue Whale", "hitl", "Red Fox"]
    picked = await sdk.assistants.search(select=["assistant_id", "name"], limit=1)
    assert picked == [{"assistant_id": blue["assistant_id"], "name": "Blue Whale"}]
    page = await sdk.assistants.search(limit=3, response_format="object")
    assert len(page["assistants"]) == 3 and page["next"] == "3"

    assert await sdk.assistants.count() == 4
    assert await sdk.assistants.count(graph_id="agent") == 2
    assert await sdk.assistants.count(metadata={"team": "blue"}, name="WHALE") == 1

    await sdk.assistants.delete(red["assistant_id"])
    with pytest.raises(httpx.HTTPStatusError) as gone:
        await sdk.assistants.get(red["assistant_id"])
    assert gone.value.response.status_code == 404
    assert await sdk.assistants.count() == 3


async def test_the_default_assistants_are_read_only(sdk):
    default = await sdk.assistants.get("agent")
    assert default["assistant_id"] == registry.assistant_uuid("agent")
    assert default["metadata"] == {"created_by": "system"}
    for change in (
        sdk.assistants.update(default["assistant_id"], name="mine"),
        sdk.assistants.delete(default["assistant_id"]),
        sdk.assistants.set_latest(default["assistant_id"], 1),
    ):
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await change
        assert refused.value.response.status_code == 403
        assert refused.value.response.json()["error"] == "assistant_read_only"


async def test_a_run_uses_its_assistant_s_config_under_its_own(sdk):
    terse = await sdk.assistants.create("agent", context={"reply_words": 20, **FAST})
    aid = terse["assistant_id"]
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    values = await sdk.runs.wait(tid, aid, input={"messages": ["hello there"]})
    assert words(values) == 20
    # The run's own options win over the assistant's.
    values = await sdk.runs.wait(
        tid, aid, input={"messages": ["again"]}, context={"reply_words": 9}
    )
    assert words(values) == 9
    runs = await sdk.runs.list(tid)
    assert {run["assistant_id"] for run in runs} == {aid}
    assert (await sdk.threads.get(tid))["metadata"]["assistant_id"] == aid

    # A new version changes what the next run does; set_latest brings it back.
    await sdk.assistants.update(aid, context={"reply_words": 30, **FAST})
    assert words(await sdk.runs.wait(tid, aid, input={"messages": ["more"]})) == 30
    await sdk.assistants.set_latest(aid, 1)
    assert words(await sdk.runs.wait(tid, aid, input={"messages": ["less"]})) == 20

    # A thread-less run and a streamed one get the assistant's options too.
    assert words(await sdk.runs.wait(None, aid, input={"messages": ["hi"]})) == 20
    parts = [
        part.data
        async for part in sdk.runs.stream(
            None, aid, input={"messages": ["hi"]}, stream_mode="values"
        )
        if part.event == "values"
    ]
    assert words(parts[-1]) == 20

    # Deleting the assistant with its threads deletes the thread it ran on.
    await sdk.assistants.delete(aid, delete_threads=True)
    with pytest.raises(httpx.HTTPStatusError) as gone:
        await sdk.threads.get(tid)
    assert gone.value.response.status_code == 404


async def test_the_graph_endpoints_describe_a_user_s_assistant(sdk):
    made = await sdk.assistants.create("hitl", name="approver")
    graph = await sdk.assistants.get_graph(made["assistant_id"])
    assert {node["id"] for node in graph["nodes"]} >= {"model", "tools"}
    schemas = await sdk.assistants.get_schemas(made["assistant_id"])
    assert schemas["graph_id"] == "hitl"
    assert "reply_words" in schemas["context_schema"]["properties"]
    assert await sdk.assistants.get_subgraphs(made["assistant_id"], recurse=True) == {}
