"""The chat websocket, driven by real Channels communicators against the real
executor: every frame type, each strategy, bad frames."""

import json

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from runs.models import Run, RunStatus
from runs.services import assistants, state
from runs.ws.routing import websocket_urlpatterns
from tests.conftest import SLOW, make_thread, make_user, orm

pytestmark = pytest.mark.django_db(transaction=True)

FAST = {"configurable": {"token_delay": 0.01, "reply_words": 8}}
app = URLRouter(websocket_urlpatterns)


def communicator(path, user=None, client=None, headers=None):
    """A websocket to `path`, signed in as `user` (the session's user in a real server)."""
    ws = WebsocketCommunicator(app, path, headers=headers)
    if user is not None:
        ws.scope["user"] = user
    if client is not None:
        ws.scope["client"] = client
    return ws


async def turned_away(ws) -> int:
    """The code a refused connection is closed with (accepted, then closed at once)."""
    connected, _ = await ws.connect()
    assert connected
    message = await ws.receive_output()
    assert message["type"] == "websocket.close", message
    return message["code"]


@pytest.fixture
async def connect(executor, user):
    opened = []

    async def open_socket(thread_id, as_user=user):
        ws = communicator(f"/ws/threads/{thread_id}/", as_user)
        connected, _ = await ws.connect()
        assert connected
        opened.append(ws)
        return ws

    yield open_socket
    for ws in opened:
        await ws.disconnect()


@pytest.fixture
async def thread_id(user):
    return str((await orm(make_thread)(user)).pk)


async def frames_until(ws, predicate, limit=400, timeout=10):
    """Receive frames until one matches; return all received (the match last)."""
    seen = []
    for _ in range(limit):
        frame = await ws.receive_json_from(timeout=timeout)
        seen.append(frame)
        if predicate(frame):
            return seen
    raise AssertionError(f"no matching frame in {seen[-5:]}")


def run_event(event, run_id=None):
    def match(frame):
        return (
            frame["type"] == "run"
            and frame["event"] == event
            and (run_id is None or frame["run"]["run_id"] == run_id)
        )

    return match


async def say(ws, content, strategy="enqueue", config=FAST):
    await ws.send_json_to(
        {"type": "message", "content": content, "strategy": strategy, "config": config}
    )


@pytest.mark.parametrize("spelling", [str.lower, str.upper])
async def test_connect_sends_the_state_and_a_run_streams(connect, thread_id, spelling):
    ws = await connect(spelling(thread_id))  # any spelling of the id joins the same stream
    first = await ws.receive_json_from()
    assert first["type"] == "state" and first["messages"] == [] and first["runs"] == []
    await say(ws, "what's the weather in sf?")
    frames = await frames_until(ws, run_event("success"))
    kinds = [f["type"] if f["type"] != "run" else f"run:{f['event']}" for f in frames]
    assert kinds[:2] == ["run:created", "run:started"]
    steps = [f for f in frames if f["type"] == "messages"]
    assert [s["node"] for s in steps] == ["__input__", "model", "tools", "model"]
    assert steps[1]["messages"][0]["tool_calls"][0]["name"] == "get_weather"
    tokens = [f for f in frames if f["type"] == "token"]
    assert len(tokens) >= 8
    assert "".join(t["text"] for t in tokens) == steps[-1]["messages"][0]["content"]
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}


async def test_rollback_announces_and_sends_the_restored_state(connect, thread_id):
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await say(ws, "what's the weather in sf?", config=SLOW)
    await frames_until(ws, lambda f: f["type"] == "token")
    await say(ws, "what's the weather in nyc?", strategy="rollback")
    frames = await frames_until(ws, lambda f: f["type"] == "state")
    rolled = [f for f in frames if f["type"] == "run" and f["event"] == "rolled_back"]
    assert len(rolled) == 1
    first_run = rolled[0]["run"]["run_id"]
    # The rolled-back run names the run whose double-text erased it.
    second_run = rolled[0]["run"]["rolled_back_by"]
    restored = frames[-1]
    assert all("sf" not in str(m["content"]) for m in restored["messages"])
    # It stays in the timeline, before the run that erased it, as rolled back.
    gone, *rest = restored["runs"]
    assert (gone["run_id"], gone["status"], gone["rolled_back_by"], gone["was"]) == (
        first_run,
        "rolled_back",
        second_run,
        "running",
    )
    assert gone["kwargs"]["input"]["messages"][0]["content"] == "what's the weather in sf?"
    assert [r["run_id"] for r in rest] == [second_run]
    frames = await frames_until(ws, run_event("success", second_run))
    # Nothing more of the rolled-back run is streamed once it is rolled back.
    assert all(f.get("run_id") != first_run for f in frames if f["type"] == "token")
    assert not await orm(Run.objects.filter(pk=first_run).exists)()


async def test_interrupt_sends_the_kept_partial_answer(connect, thread_id):
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await say(ws, "what's the weather in sf?", config=SLOW)
    await frames_until(ws, lambda f: f["type"] == "token" and "sf" in f["text"])
    await say(ws, "what's the weather in nyc?", strategy="interrupt")
    frames = await frames_until(ws, run_event("interrupted"))
    interrupted = frames[-1]
    assert interrupted["partial_message"]["response_metadata"]["interrupted"] is True
    assert interrupted["partial_message"]["content"].startswith("The weather in sf")
    interrupting = next(f for f in frames if run_event("interrupting")(f))
    done = await frames_until(ws, run_event("success"))
    # The run that interrupted it is named as it happens, and on a new connection.
    assert interrupting["run"]["cancelled_by"] == done[-1]["run"]["run_id"]
    # A new connection's timeline says which run interrupted which.
    again = await connect(thread_id)
    first, second = (await again.receive_json_from())["runs"]
    assert (first["status"], first["cancel_action"]) == ("interrupted", "interrupt")
    assert first["cancelled_by"] == second["run_id"]
    assert second["multitask_strategy"] == "interrupt" and second["cancelled_by"] is None


async def test_an_interrupt_is_shown_and_answered_with_a_resume_command(connect, thread_id):
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await ws.send_json_to(
        {"type": "message", "content": "weather in sf?", "assistant_id": "hitl", "config": FAST}
    )
    asked = (await frames_until(ws, lambda f: f["type"] == "interrupt"))[-1]
    assert asked["interrupts"][0]["value"]["question"] == "Call get_weather?"
    await frames_until(ws, run_event("success"))
    # A page that connects now sees the thread waiting, and what for.
    again = await connect(thread_id)
    waiting = await again.receive_json_from()
    assert (waiting["status"], waiting["graph_id"]) == ("interrupted", "hitl")
    assert waiting["interrupts"] == asked["interrupts"]
    await ws.send_json_to(
        {"type": "message", "command": {"resume": "yes"}, "assistant_id": "hitl", "config": FAST}
    )
    done = await frames_until(ws, run_event("success"))
    answer = [f for f in done if f["type"] == "messages"][-1]["messages"][0]["content"]
    assert answer.startswith("The weather in sf is sunny")


async def test_a_message_forks_from_a_checkpoint(connect, thread_id, user):
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await say(ws, "first question")
    await frames_until(ws, run_event("success"))
    history = await orm(state.history)(thread_id, actor=user, limit=100)
    # The checkpoint the first run started from: before its question.
    before = next(h for h in reversed(history) if h["metadata"]["source"] == "input")
    await ws.send_json_to(
        {
            "type": "message",
            "content": "edited question",
            "checkpoint_id": before["checkpoint"]["checkpoint_id"],
            "config": FAST,
        }
    )
    await frames_until(ws, run_event("success"))
    again = await connect(thread_id)
    messages = (await again.receive_json_from())["messages"]
    assert [m["content"] for m in messages if m["type"] == "human"] == ["edited question"]


async def test_enqueue_and_reject(connect, thread_id):
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await say(ws, "first", config=SLOW)
    await frames_until(ws, lambda f: f["type"] == "token")
    await say(ws, "second", strategy="enqueue")
    created = await frames_until(ws, run_event("created"))
    assert created[-1]["run"]["status"] == "pending"
    await say(ws, "third", strategy="reject")
    rejected = await frames_until(ws, lambda f: f["type"] == "error")
    assert rejected[-1]["rejected"] is True
    assert rejected[-1]["error"] == "thread_busy"
    assert rejected[-1]["content"] == "third"
    second_id = created[-1]["run"]["run_id"]
    await frames_until(ws, run_event("success", second_id), limit=1000)
    assert await orm(Run.objects.count)() == 2


async def test_cancel_frames(connect, thread_id):
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await say(ws, "hello", config=SLOW)
    await frames_until(ws, lambda f: f["type"] == "token")
    await ws.send_json_to({"type": "cancel", "action": "interrupt"})
    await frames_until(ws, run_event("interrupted"))
    await say(ws, "again", config=SLOW)
    started = await frames_until(ws, run_event("started"))
    run_id = started[-1]["run"]["run_id"]
    await frames_until(ws, lambda f: f["type"] == "token")
    await ws.send_json_to({"type": "cancel", "action": "rollback", "run_id": run_id})
    await frames_until(ws, run_event("rolled_back", run_id))
    assert await orm(lambda: list(Run.objects.values_list("status", flat=True)))() == [
        RunStatus.INTERRUPTED
    ]


async def test_second_tab_sees_the_same_stream_and_a_reload_reattaches(connect, thread_id):
    first = await connect(thread_id)
    await first.receive_json_from()
    await say(first, "hello", config=SLOW)
    await frames_until(first, lambda f: f["type"] == "token")
    await frames_until(first, lambda f: f["type"] == "token")
    # A second tab (or a reload) mid-run: the state, then what already streamed.
    second = await connect(thread_id)
    snapshot = await second.receive_json_from()
    assert snapshot["active"]["status"] == "running"
    partial = await frames_until(second, lambda f: f["type"] == "partial")
    assert partial[-1]["text"].startswith("You asked:")
    done_first = await frames_until(first, run_event("success"))
    done_second = await frames_until(second, run_event("success"))
    final = [f for f in done_first if f["type"] == "messages"][-1]["messages"][0]["content"]
    # What the reloaded page shows: the partial snapshot, then the tokens after it.
    later = "".join(f["text"] for f in done_second if f["type"] == "token")
    assert partial[-1]["text"] + later == final


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "dance"}, "type"),
        ({"type": "message", "content": ""}, "content"),
        ({"type": "message", "content": 42}, "content"),
        ({"type": "message", "content": "hi", "strategy": "shout"}, "multitask_strategy"),
        ({"type": "message", "content": "hi", "config": "fast"}, "config"),
        ({"type": "message", "content": "x" * 100_000}, "input.messages[0].content"),
        ({"type": "cancel", "action": "explode"}, "action"),
        ({"type": "message", "command": {"goto": "model"}}, "command"),
        ({"type": "message", "command": "yes"}, "command"),
        ({"type": "message", "content": "hi", "checkpoint_id": 7}, "checkpoint_id"),
        ({"type": "cancel", "action": "interrupt", "run_id": "nope"}, "run_id"),
        ({"type": "message", "content": "a\x00b"}, "content"),
        ({"type": "message", "content": "hi", "config": {"k": "\ud800"}}, "config.k"),
        ({"type": "message", "content": "hi", "config": {"a": {"a": {"a": {}}}}}, "config.a.a"),
        (
            {"type": "message", "content": "hi", "config": {"configurable": {"reply_words": 1e9}}},
            "config.configurable.reply_words",
        ),
    ],
)
async def test_bad_frames_get_an_error_and_the_socket_stays_open(
    connect, thread_id, frame, field, settings
):
    settings.RUNS_MAX_JSON_DEPTH = 3
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await ws.send_json_to(frame)
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["field"] == field
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}
    assert await orm(Run.objects.count)() == 0


async def test_garbage_and_binary_frames(connect, thread_id):
    ws = await connect(thread_id)
    await ws.receive_json_from()
    for send in (
        ws.send_to(text_data="{not json"),
        ws.send_to(text_data="[1, 2]"),
        ws.send_to(bytes_data=b"\x00\x01"),
    ):
        await send
        error = await ws.receive_json_from()
        assert error["type"] == "error" and error["error"] == "invalid_frame"
    await ws.send_to(text_data="[" * 100_000 + "]" * 100_000)
    assert (await ws.receive_json_from())["error"] == "invalid_frame"
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from() == {"type": "pong"}


async def test_a_flood_closes_the_connection_and_the_server_goes_on(connect, thread_id, settings):
    settings.RUNS_WS_BURST, settings.RUNS_WS_FRAMES_PER_SECOND = 20, 2
    ws = await connect(thread_id)
    await ws.receive_json_from()
    for _ in range(100):
        await ws.send_json_to({"type": "ping"})
    frames = [await ws.receive_output() for _ in range(22)]
    assert [f["type"] for f in frames[:20]] == ["websocket.send"] * 20  # the burst: pongs
    assert json.loads(frames[20]["text"])["error"] == "rate_limited"
    assert frames[21] == {"type": "websocket.close", "code": 1008}
    # Another connection works, and runs still stream.
    again = await connect(thread_id)
    await again.receive_json_from()
    await again.send_json_to({"type": "message", "content": "hello", "config": FAST})
    await frames_until(again, run_event("success"))


async def test_an_oversized_frame_closes_the_connection(connect, thread_id, settings):
    settings.RUNS_MAX_FRAME_BYTES = 1000
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await ws.send_json_to({"type": "message", "content": "é" * 600})  # 1200 bytes
    assert (await ws.receive_json_from())["error"] == "frame_too_large"
    assert await ws.receive_output() == {"type": "websocket.close", "code": 1009}
    assert await orm(Run.objects.count)() == 0


async def test_messages_over_the_rate_limit_are_refused_and_kept(connect, thread_id, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"run_create": "2/min"},
    }
    ws = await connect(thread_id)
    await ws.receive_json_from()
    for text in ("one", "two", "three"):
        await ws.send_json_to({"type": "message", "content": text, "config": FAST})
    refused = await frames_until(ws, lambda f: f["type"] == "error")
    assert refused[-1]["error"] == "throttled" and refused[-1]["rejected"] is True
    assert refused[-1]["content"] == "three" and 0 < refused[-1]["retry_after"] <= 60
    assert await orm(Run.objects.count)() == 2


async def test_unknown_thread_is_refused(executor, user):
    ws = communicator("/ws/threads/00000000-0000-0000-0000-000000000000/", user)
    assert await turned_away(ws) == 4404


async def test_a_message_may_name_an_assistant_of_the_user_s(connect, thread_id, user):
    terse = await orm(assistants.create_assistant)(
        actor=user, graph_id="agent", context={"reply_words": 5, "token_delay": 0}
    )
    ws = await connect(thread_id)
    await ws.receive_json_from()
    await ws.send_json_to({"type": "message", "content": "hi", "assistant_id": str(terse.pk)})
    frames = await frames_until(ws, run_event("success"))
    assert frames[-1]["run"]["assistant_id"] == str(terse.pk)
    answer = [f for f in frames if f["type"] == "messages"][-1]["messages"][0]["content"]
    assert len(answer.split()) == 5
    # Another user's assistant, or a malformed id, is not found.
    bob = await orm(make_user)("bob")
    bobs = await orm(assistants.create_assistant)(actor=bob, graph_id="agent")
    for wrong in (str(bobs.pk), {"id": 1}):
        await ws.send_json_to({"type": "message", "content": "hi", "assistant_id": wrong})
        error = await ws.receive_json_from()
        assert error["type"] == "error" and error["error"] == "assistant_not_found"
