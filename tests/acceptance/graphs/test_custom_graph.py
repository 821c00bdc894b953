"""A graph the project has never seen, from a langgraph.json of its own (its
state has no messages; two nodes, a conditional edge, a subgraph): it runs
through REST and the websocket, the official SDK reads from Doubletext what it
reads from LangGraph's own server, and the four strategies act on it."""

import json

import pytest
import websockets
from langgraph_sdk import get_client

from checkpoints.models import Checkpoint
from tests.acceptance.graphs import scenarios
from tests.conftest import orm
from tests.live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(transactional_db):
    live = LiveServer(env={"LANGGRAPH_CONFIG": str(scenarios.CONFIG)})
    yield live.url
    live.stop()


async def test_the_sdk_reads_what_langgraph_dev_serves(server):
    ours = await scenarios.probe(server)
    for key, expected in scenarios.REFERENCE.items():
        assert ours[key] == expected, key


async def test_the_assistants_are_the_configured_graphs(server):
    sdk = get_client(url=server, api_key=None)
    assert sorted(a["graph_id"] for a in await sdk.assistants.search()) == [
        "agent",
        "memory",
        "notes",
    ]
    drawn = await sdk.assistants.get_graph("notes")
    assert {n["id"] for n in drawn["nodes"]} == {
        "__start__",
        "research",
        "review",
        "decide",
        "__end__",
    }
    xray = await sdk.assistants.get_graph("notes", xray=True)
    assert {"review:draft", "review:polish"} <= {n["id"] for n in xray["nodes"]}
    schemas = await sdk.assistants.get_schemas("notes")
    assert set(schemas["state_schema"]["properties"]) == {"topic", "notes", "verdict"}


async def test_it_runs_through_the_websocket(server):
    sdk = get_client(url=server, api_key=None)
    tid = (await sdk.threads.create())["thread_id"]
    url = server.replace("http://", "ws://") + f"/ws/threads/{tid}/"
    async with websockets.connect(url, origin=server) as ws:
        assert json.loads(await ws.recv())["type"] == "state"
        await ws.send(
            json.dumps({"type": "message", "assistant_id": "notes", "input": {"topic": "tea"}})
        )
        frames = []
        while not (frames and frames[-1].get("event") in ("success", "error")):
            frames.append(json.loads(await ws.recv()))
    assert frames[-1]["event"] == "success"
    steps = [f["node"] for f in frames if f["type"] == "update"]
    assert steps == ["research", "review", "research", "decide"]
    state = await sdk.threads.get_state(tid)
    assert state["values"]["verdict"] == frames[-2]["update"]["verdict"]


@pytest.mark.parametrize("strategy", ["reject", "enqueue", "interrupt", "rollback"])
async def test_double_texting_on_it(server, strategy):
    result = await scenarios.double_text([server], strategy)
    scenarios.check(strategy, result)
    if strategy == "rollback":
        tid = result["thread_id"]
        runs = await orm(
            lambda: set(Checkpoint.objects.filter(thread_id=tid).values_list("run_id", flat=True))
        )()
        assert runs == {result["second"]["run_id"]}  # nothing of the rolled-back run


async def test_a_graph_s_store_is_its_user_s_store(server):
    """What a node puts in the store, the user reads through /store, and the
    next thread's run finds (each user has a store of their own:
    tests/integration/store)."""
    sdk = get_client(url=server, api_key=None)
    first = await sdk.runs.wait(None, "memory", input={"topic": "tea"})
    assert first == {"topic": "tea", "previous": None}
    second = await sdk.runs.wait(None, "memory", input={"topic": "coffee"})
    assert second == {"topic": "coffee", "previous": "tea"}
    item = await sdk.store.get_item(["memory", "topics"], "last")
    assert item["value"] == {"topic": "coffee"}
    await sdk.store.put_item(["memory", "topics"], "last", {"topic": "cocoa"})
    third = await sdk.runs.wait(None, "memory", input={"topic": "milk"})
    assert third["previous"] == "cocoa"
