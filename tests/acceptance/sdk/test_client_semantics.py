"""What LangGraph's clients send, honoured, with the official Python SDK on a
real server: human-in-the-loop, time travel, resumable and thread streams,
on_disconnect, delayed and thread-less runs, and the platform's event order."""

import asyncio
import json
import time

import httpx
import pytest

from runs.models import RunStatus, Thread, ThreadStatus
from tests.conftest import orm, wait_status
from tests.live_server import LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"configurable": {"token_delay": 0.005, "reply_words": 12}}
SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 60}}
WEATHER = {"messages": [{"role": "user", "content": "what's the weather in paris?"}]}


def said(messages) -> list[tuple[str, str]]:
    return [(m["type"], str(m["content"])[:30]) for m in messages]


async def thread_status(thread_id) -> str:
    return (await orm(Thread.objects.get)(pk=thread_id)).status


# --- human in the loop --------------------------------------------------------------


async def test_interrupt_then_resume_with_a_command(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    stopped = await sdk.runs.wait(tid, "hitl", input=WEATHER, config=FAST)
    (pending,) = stopped["__interrupt__"]
    assert pending["value"]["question"] == "Call get_weather?"
    assert pending["value"]["tool_calls"][0]["args"] == {"city": "paris"}
    run = (await sdk.runs.list(tid))[0]
    assert run["status"] == "success"  # the run ended; the thread waits
    thread = await sdk.threads.get(tid)
    assert thread["status"] == "interrupted"
    (task_id,) = thread["interrupts"]
    state = await sdk.threads.get_state(tid)
    assert state["next"] == ["tools"]
    assert state["tasks"][0]["id"] == task_id and state["tasks"][0]["name"] == "tools"
    assert state["tasks"][0]["interrupts"][0]["id"] == pending["id"]
    assert state["interrupts"] == [{"id": pending["id"], "value": pending["value"]}]

    done = await sdk.runs.wait(tid, "hitl", command={"resume": "yes"}, config=FAST)
    assert "__interrupt__" not in done
    assert [m["type"] for m in done["messages"]] == ["human", "ai", "tool", "ai"]
    assert done["messages"][3]["content"].startswith("The weather in paris is sunny")
    assert (await sdk.threads.get(tid))["status"] == "idle"
    assert (await sdk.threads.get_state(tid))["next"] == []


async def test_a_declined_interrupt_and_a_double_text_on_a_waiting_thread(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(tid, "hitl", input=WEATHER, config=FAST)
    declined = await sdk.runs.wait(tid, "hitl", command={"resume": "no"}, config=FAST)
    assert declined["messages"][2]["content"] == "declined"
    assert "declined" in declined["messages"][3]["content"]
    # Waiting again, a new message with any strategy just runs: nothing is in flight.
    await sdk.runs.wait(tid, "hitl", input=WEATHER, config=FAST)
    assert (await sdk.threads.get(tid))["status"] == "interrupted"
    fresh = await sdk.runs.wait(
        tid, "hitl", input={"messages": ["hello instead"]}, config=FAST, multitask_strategy="reject"
    )
    assert fresh["messages"][-2]["content"] == "hello instead"
    assert (await sdk.threads.get(tid))["status"] == "idle"


async def test_interrupt_before_a_node_and_go_on(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    paused = await sdk.runs.wait(
        tid, "agent", input=WEATHER, config=FAST, interrupt_before=["tools"]
    )
    assert [m["type"] for m in paused["messages"]] == ["human", "ai"]
    assert (await sdk.threads.get(tid))["status"] == "interrupted"
    assert (await sdk.threads.get_state(tid))["next"] == ["tools"]
    done = await sdk.runs.wait(tid, "agent", input=None, config=FAST)
    assert [m["type"] for m in done["messages"]] == ["human", "ai", "tool", "ai"]
    assert (await sdk.threads.get(tid))["status"] == "idle"


async def test_command_goto_runs_a_node_again(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(tid, "agent", input={"messages": ["hello"]}, config=FAST)
    again = await sdk.runs.wait(tid, "agent", command={"goto": "model"}, config=FAST)
    assert [m["type"] for m in again["messages"]] == ["human", "ai", "ai"]


# --- time travel ----------------------------------------------------------------------


async def two_exchanges(sdk) -> tuple[str, dict]:
    tid = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(tid, "agent", input={"messages": ["first question"]}, config=FAST)
    await sdk.runs.wait(tid, "agent", input={"messages": ["second question"]}, config=FAST)
    history = await sdk.threads.get_history(tid, limit=20)
    first_end = next(h for h in history if h["next"] == [] and len(h["values"]["messages"]) == 2)
    return tid, first_end


@pytest.mark.parametrize("how", ["checkpoint_id", "checkpoint", "configurable"])
async def test_a_run_from_an_earlier_checkpoint_branches(sdk, how):
    tid, first_end = await two_exchanges(sdk)
    cid = first_end["checkpoint"]["checkpoint_id"]
    where = {
        "checkpoint_id": {"checkpoint_id": cid},
        "checkpoint": {"checkpoint": {"checkpoint_id": cid, "checkpoint_ns": ""}},
        "configurable": {
            "config": {"configurable": {**FAST["configurable"], "checkpoint_id": cid}}
        },
    }[how]
    options = {"config": FAST, **where}
    values = await sdk.runs.wait(tid, "agent", input={"messages": ["edited question"]}, **options)
    humans = [m["content"] for m in values["messages"] if m["type"] == "human"]
    assert humans == ["first question", "edited question"]  # the later exchange is not on it
    state = await sdk.threads.get_state(tid)
    assert state["values"] == values
    history = await sdk.threads.get_history(tid, limit=20)
    branch_input = next(h for h in history if h["metadata"]["source"] == "input")  # newest
    assert branch_input["parent_checkpoint"]["checkpoint_id"] == cid
    # The old branch is still there.
    assert any("second question" in json.dumps(h["values"]) for h in history)


async def test_regenerate_from_the_checkpoint_before_an_answer(sdk):
    tid, _ = await two_exchanges(sdk)
    history = await sdk.threads.get_history(tid, limit=20)
    before_answer = next(h for h in history if h["next"] == ["model"])  # newest such
    old_answer = (await sdk.threads.get_state(tid))["values"]["messages"][-1]
    values = await sdk.runs.wait(
        tid, "agent", input=None, checkpoint=before_answer["checkpoint"], config=FAST
    )
    assert [m["content"] for m in values["messages"] if m["type"] == "human"] == [
        "first question",
        "second question",
    ]
    assert values["messages"][-1]["id"] != old_answer["id"]
    history = await sdk.threads.get_history(tid, limit=20)
    assert any(h["metadata"]["source"] == "fork" for h in history)


@pytest.mark.parametrize("strategy", ["interrupt", "enqueue"])
async def test_a_double_text_sent_with_the_head_it_last_saw_keeps_the_run_in_flight(sdk, strategy):
    """SDKs (agent-chat-ui's) send the thread head they last saw with every
    message: a double-text carries the checkpoint from before the run it
    interrupts or queues behind. It must continue the thread, not fork away
    from that run's work."""
    tid = (await sdk.threads.create())["thread_id"]
    await sdk.runs.wait(tid, "agent", input={"messages": ["warm up"]}, config=FAST)
    seen = (await sdk.threads.get_state(tid))["checkpoint"]
    first = await sdk.runs.create(tid, "agent", input=WEATHER, config=SLOW)
    await wait_for_tokens(sdk, tid, first["run_id"], 5)
    second = await sdk.runs.create(
        tid,
        "agent",
        input={"messages": ["and tomorrow?"]},
        config=FAST,
        checkpoint=seen,
        multitask_strategy=strategy,
    )
    await sdk.runs.join(tid, second["run_id"])
    messages = (await sdk.threads.get_state(tid))["values"]["messages"]
    humans = [m["content"] for m in messages if m["type"] == "human"]
    assert humans == ["warm up", "what's the weather in paris?", "and tomorrow?"]
    if strategy == "interrupt":
        kept = messages[-3]  # the cut-short answer, before the new question
        assert kept["response_metadata"]["interrupted"] is True


async def wait_for_tokens(sdk, tid, run_id, count):
    seen = 0
    async for part in sdk.runs.join_stream(tid, run_id, stream_mode="messages-tuple"):
        if part.event == "messages" and part.data[0].get("content"):
            seen += 1
            if seen >= count:
                return
    raise AssertionError(f"run {run_id} ended after {seen} tokens")


# --- streams --------------------------------------------------------------------------


def sse_parts(lines: list[str]) -> list[dict]:
    parts, current = [], {}
    for line in lines:
        if not line:
            if current:
                parts.append(current)
            current = {}
        elif line.startswith(":"):
            continue
        else:
            key, _, value = line.partition(": ")
            current[key] = json.loads(value) if key == "data" else value
    return parts


async def test_a_resumable_stream_reconnects_with_last_event_id_and_misses_nothing(
    live_server_url,
):
    async with httpx.AsyncClient(base_url=live_server_url, timeout=30) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        body = {
            "assistant_id": "agent",
            "input": WEATHER,
            "config": SLOW,
            "stream_mode": ["values", "messages-tuple"],
            "stream_resumable": True,
        }
        first = []
        async with http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as response:
            location = response.headers["location"]
            run_url = response.headers["content-location"]
            assert location == f"{run_url}/stream"
            lines = response.aiter_lines()
            async for line in lines:
                first.append(line)
                if len(sse_parts(first)) >= 12:
                    break  # the connection drops mid-run
        seen = sse_parts(first)
        assert all("id" in part for part in seen)
        resumed = []
        headers = {"Last-Event-ID": seen[-1]["id"]}
        async with http.stream("GET", location, headers=headers) as response:
            async for line in response.aiter_lines():
                resumed.append(line)
        rest = sse_parts(resumed + [""])
        replay = []
        async with http.stream("GET", location, headers={"Last-Event-ID": "-1"}) as response:
            async for line in response.aiter_lines():
                replay.append(line)
        everything = sse_parts(replay + [""])
    ids = [p["id"] for p in seen] + [p["id"] for p in rest if "id" in p]
    assert ids == [p["id"] for p in everything if "id" in p]  # each event exactly once
    assert len(ids) == len(set(ids))
    assert rest[-1]["event"] == "end" and rest[-1]["data"]["status"] == "success"
    final = [p for p in rest if p["event"] == "values"][-1]["data"]["messages"][-1]
    tokens = [
        p["data"][0]["content"]
        for p in seen + rest
        if p["event"] == "messages" and p["data"][0]["id"] == final["id"]
    ]
    assert "".join(tokens) == final["content"]  # the answer, token by token, once


async def test_on_disconnect_cancel_stops_the_run_when_the_client_leaves(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    run_id = None
    tokens = 0
    async for part in sdk.runs.stream(
        tid,
        "agent",
        input={"messages": ["tell me a long story"]},
        config=SLOW,
        stream_mode="messages-tuple",
        on_disconnect="cancel",
    ):
        if part.event == "metadata":
            run_id = part.data["run_id"]
        tokens += part.event == "messages"
        if tokens == 5:
            break
    run = await wait_status(run_id, RunStatus.INTERRUPTED, timeout=10)
    assert run.status == RunStatus.INTERRUPTED
    kept = (await sdk.threads.get_state(tid))["values"]["messages"][-1]
    assert kept["response_metadata"]["interrupted"] is True
    assert len(kept["content"].split()) < 60


async def test_on_disconnect_continue_is_the_default(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    async for part in sdk.runs.stream(
        tid, "agent", input={"messages": ["go on"]}, config=SLOW, stream_mode="messages-tuple"
    ):
        if part.event == "metadata":
            run_id = part.data["run_id"]
        if part.event == "messages":
            break
    assert (await wait_status(run_id, RunStatus.SUCCESS, timeout=15)).status == "success"


async def test_the_thread_stream_carries_every_run_as_it_comes(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    parts = []

    async def listen():
        # (This SDK version's join_stream is a coroutine returning the stream.)
        async for part in await sdk.threads.join_stream(tid):
            parts.append(part)
            if sum(1 for p in parts if p.event == "metadata" and "status" in p.data) == 2:
                return

    listening = asyncio.create_task(listen())
    await asyncio.sleep(0.5)  # subscribed
    for text in ("one", "two"):
        await sdk.runs.wait(tid, "agent", input={"messages": [text]}, config=FAST)
    await asyncio.wait_for(listening, 15)
    starts = [p.data["run_id"] for p in parts if p.event == "metadata" and "attempt" in p.data]
    done = [p.data["run_id"] for p in parts if p.event == "metadata" and "status" in p.data]
    assert len(starts) == 2 and starts == done
    assert any(p.event == "messages" for p in parts) and any(p.event == "values" for p in parts)


async def test_a_step_s_messages_come_before_its_values(sdk):
    """The platform's order; agent-chat-ui's SDK shows a message twice otherwise."""
    tid = (await sdk.threads.create())["thread_id"]
    first_in_messages, first_in_values = {}, {}
    index = 0
    async for part in sdk.runs.stream(
        tid, "agent", input=WEATHER, config=FAST, stream_mode=["values", "messages-tuple"]
    ):
        index += 1
        if part.event == "messages":
            first_in_messages.setdefault(part.data[0]["id"], index)
        elif part.event == "values":
            for message in part.data.get("messages", []):
                first_in_values.setdefault(message["id"], index)
    input_id = next(iter(first_in_values))  # the human message: never a `messages` event
    produced = {i: at for i, at in first_in_values.items() if i != input_id}
    assert len(produced) == 3  # the tool call, the tool's result, the answer
    for message_id, at in produced.items():
        assert first_in_messages[message_id] < at, message_id


async def test_waits_send_newlines_while_they_wait(live_server_url):
    async with httpx.AsyncClient(base_url=live_server_url, timeout=30) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        body = {
            "assistant_id": "agent",
            "input": {"messages": ["slow"]},
            "config": {"configurable": {"token_delay": 0.15, "reply_words": 45}},
        }
        response = await http.post(f"/threads/{tid}/runs/wait", json=body)
    assert response.headers["location"].endswith("/join")
    assert response.content.startswith(b"\n")  # at least one keep-alive before the JSON
    assert response.json()["messages"][-1]["type"] == "ai"


# --- delayed and thread-less runs -----------------------------------------------------


async def test_after_seconds_delays_the_run(sdk):
    tid = (await sdk.threads.create())["thread_id"]
    asked = time.monotonic()
    run = await sdk.runs.create(
        tid, "agent", input={"messages": ["later"]}, config=FAST, after_seconds=2
    )
    await asyncio.sleep(1)
    assert (await sdk.runs.get(tid, run["run_id"]))["status"] == "pending"
    done = await wait_status(run["run_id"], RunStatus.SUCCESS, timeout=15)
    assert time.monotonic() - asked >= 2
    assert (done.started_at - done.created_at).total_seconds() >= 2


@pytest.fixture
def quick_sweep_server(transactional_db):
    server = LiveServer(env={"RUNS_TEMPORARY_THREAD_SECONDS": "0.2", "RUNS_LEASE_SECONDS": "1.5"})
    yield server.url
    server.stop()


async def test_a_thread_less_run_s_thread_goes_unless_kept(quick_sweep_server):
    from langgraph_sdk import get_client

    sdk = get_client(url=quick_sweep_server, api_key=None)
    gone = await sdk.runs.wait(None, "agent", input={"messages": ["hi"]}, config=FAST)
    assert [m["type"] for m in gone["messages"]] == ["human", "ai"]
    kept_runs = []
    await sdk.runs.wait(
        None,
        "agent",
        input={"messages": ["keep me"]},
        config=FAST,
        on_completion="keep",
        on_run_created=kept_runs.append,
    )
    kept = kept_runs[0]["thread_id"]

    async def swept():
        return await orm(lambda: Thread.objects.count())() == 1

    deadline = time.monotonic() + 10
    while not await swept():
        assert time.monotonic() < deadline, "the temporary thread was not deleted"
        await asyncio.sleep(0.2)
    assert await thread_status(kept) == ThreadStatus.IDLE
