"""SSE streams: tokens arrive incrementally; join_stream attaches mid-run."""

import json
import time

import pytest

from runs.api.sse import stream_run
from runs.bus.subscribe import ThreadSubscription
from runs.models import RunStatus
from runs.services import runs as run_service
from runs.services import state
from runs.services.actors import SYSTEM
from tests.conftest import FAST, orm, wait_status

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 40}}
HELLO = {"messages": [{"role": "user", "content": "hello"}]}


async def test_stream_gives_tokens_incrementally(sdk):
    thread = await sdk.threads.create()
    arrivals = []
    async for part in sdk.runs.stream(
        thread["thread_id"],
        "agent",
        input=HELLO,
        config=SLOW,
        stream_mode=["messages-tuple", "values", "updates"],
    ):
        arrivals.append((time.monotonic(), part.event, part.data))
    events = [event for _, event, _ in arrivals]
    assert events[0] == "metadata" and events[-1] == "end"
    tokens = [(t, data) for t, event, data in arrivals if event == "messages"]
    assert len(tokens) == 40
    assert tokens[0][1][0]["type"] == "AIMessageChunk"
    assert tokens[0][1][1]["langgraph_node"] == "model"
    text = "".join(data[0]["content"] for _, data in tokens)
    # The first token came long before the run ended: it was streamed, not batched.
    first, end = tokens[0][0], arrivals[-1][0]
    assert end - first > 0.5 * (end - arrivals[0][0])
    values = [data for _, event, data in arrivals if event == "values"]
    assert values[-1]["messages"][-1]["content"] == text
    updates = [data for _, event, data in arrivals if event == "updates"]
    assert list(updates[-1]) == ["model"]


def parse_sse(chunks: list[bytes]) -> list[tuple[str, object]]:
    parts = []
    for chunk in chunks:
        event, data = chunk.decode().strip().split("\n")
        parts.append((event.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return parts


async def test_a_run_that_ended_before_its_stream_began_sends_every_token(executor, thread):
    """The view subscribes, creates the run and returns; a short run can end
    before the response body starts. Its events are queued on the
    subscription and must all go out, not just `end` (seen as a double-text
    whose answer never showed, in about 1 of 10 rollbacks)."""
    sub = await ThreadSubscription(thread.pk).open()
    run = await orm(run_service.create_run)(thread.pk, input=HELLO, config=FAST, actor=SYSTEM)
    await wait_status(run.pk, RunStatus.SUCCESS)
    body = stream_run(sub, thread.pk, run.pk, "messages-tuple")
    parts = parse_sse([chunk async for chunk in body])
    tokens = [data[0]["content"] for event, data in parts if event == "messages"]
    final = await orm(state.get_state)(thread.pk, actor=SYSTEM)
    assert "".join(tokens) == final["values"]["messages"][-1]["content"]
    assert len(tokens) == 12
    assert parts[-1] == ("end", {"run_id": str(run.pk), "status": "success"})


async def test_join_stream_attaches_to_a_run_in_flight(sdk):
    thread = await sdk.threads.create()
    tid = thread["thread_id"]
    run = await sdk.runs.create(tid, "agent", input=HELLO, config=SLOW)
    seen = 0
    async for part in sdk.runs.join_stream(tid, run["run_id"], stream_mode="messages-tuple"):
        if part.event == "messages":
            seen += 1
            if seen == 10:
                break
    # A second watcher attaching now gets what already streamed (one snapshot
    # chunk) and then the rest, token by token.
    parts = [
        p async for p in sdk.runs.join_stream(tid, run["run_id"], stream_mode="messages-tuple")
    ]
    chunks = [p.data[0]["content"] for p in parts if p.event == "messages"]
    state = await sdk.threads.get_state(tid)
    final = state["values"]["messages"][-1]["content"]
    assert "".join(chunks) == final
    assert 1 < len(chunks) < 40
    assert parts[-1].event == "end" and parts[-1].data["status"] == "success"


async def test_error_event_when_the_run_fails(sdk, live_server_url):
    thread = await sdk.threads.create()
    # The OpenAI backend is not configured on the server: a run that names it
    # is refused up front, before any stream starts.
    import httpx

    with pytest.raises(httpx.HTTPStatusError) as error:
        async for _ in sdk.runs.stream(thread["thread_id"], "openai", input=HELLO):
            pass
    assert error.value.response.status_code == 404


async def test_every_stream_mode_streams_what_langgraph_streams(sdk):
    """`events` (LangChain's event stream) beside LangGraph's own modes; a
    step's messages come before its updates and values, as on the platform."""
    thread = await sdk.threads.create()
    parts = [
        part
        async for part in sdk.runs.stream(
            thread["thread_id"],
            "agent",
            input={"messages": ["what's the weather in paris?"]},
            config=FAST,
            stream_mode=["events", "values", "updates", "tasks", "checkpoints", "debug"],
        )
    ]
    names = [part.event for part in parts]
    assert set(names) == {
        "metadata",
        "events",
        "values",
        "updates",
        "tasks",
        "checkpoints",
        "debug",
        "end",
    }
    events = [part.data["event"] for part in parts if part.event == "events"]
    assert events[0] == "on_chain_start" and events[-1] == "on_chain_end"
    tokens = [
        p.data["data"]["chunk"]
        for p in parts
        if p.event == "events" and p.data["event"] == "on_chat_model_stream"
    ]
    assert "".join(t["content"] for t in tokens).startswith("The weather in paris is sunny")
    root = next(p.data for p in parts if p.event == "events")
    assert root["name"] == "agent" and root["run_id"] == parts[0].data["run_id"]
    updates = [next(iter(p.data)) for p in parts if p.event == "updates"]
    assert updates == ["model", "tools", "model"]
    tasks = [p.data for p in parts if p.event == "tasks"]
    assert [t["name"] for t in tasks if "input" in t] == ["model", "tools", "model"]
    checkpoints = [p.data["metadata"]["step"] for p in parts if p.event == "checkpoints"]
    assert checkpoints == [-1, 0, 1, 2, 3]
