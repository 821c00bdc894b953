"""The OpenAI-compatible agent against a fake chat-completions server on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runs.agents.openai import to_openai
from runs.models import RunStatus
from runs.services import chat_messages as msgs
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from tests.conftest import make_thread, messages_of, orm, wait_status


class FakeChatCompletions(BaseHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        last = body["messages"][-1]
        if last["role"] == "user" and "weather" in last["content"]:
            deltas = [
                {"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get_weather"}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": "Oslo"}'}}]},
            ]
        else:
            deltas = [{"content": word} for word in ["It ", "is ", "sunny."]]
        for delta in deltas:
            chunk = {"choices": [{"index": 0, "delta": delta}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def fake_openai(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeChatCompletions)
    FakeChatCompletions.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    yield FakeChatCompletions.requests
    server.shutdown()


@pytest.mark.django_db(transaction=True)
async def test_streams_tool_call_and_answer(fake_openai, executor):
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk,
        assistant_id="openai",
        input={"messages": ["what's the weather in Oslo?"]},
        actor=SYSTEM,
    )
    await wait_status(run.pk, RunStatus.SUCCESS)
    messages = await messages_of(thread.pk)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1]["tool_calls"][0]["args"] == {"city": "Oslo"}
    assert json.loads(messages[2]["content"])["city"] == "Oslo"
    assert messages[3]["content"] == "It is sunny."
    second_request = fake_openai[1]
    assert [m["role"] for m in second_request["messages"]] == ["user", "assistant", "tool"]
    assert second_request["stream"] is True


def test_unknown_assistant_without_backend(settings):
    settings.OPENAI_BASE_URL = ""
    from runs.agents import resolve_graph_id

    assert resolve_graph_id("openai") is None


def test_unanswered_tool_calls_are_dropped():
    call = {"name": "get_weather", "args": {}, "id": "c1"}
    converted = to_openai([msgs.human("q"), msgs.ai("", tool_calls=[call]), msgs.human("q2")])
    assert [m["role"] for m in converted] == ["user", "user"]
