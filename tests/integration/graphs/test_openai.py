"""The OpenAI-compatible graph against a fake chat-completions server on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import ValidationError

from runs.graphs.openai import make_graph, without_unanswered_calls
from runs.graphs.tools import get_weather

ANSWER = ["It", " is", " sunny", " in", " Oslo."]
# What any OpenAI-compatible server accepts; nothing OpenAI-only.
PORTABLE_PARAMETERS = {"model", "messages", "stream", "tools"}
RAW_CALL = {"id": "c3", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}


class FakeChatCompletions(BaseHTTPRequestHandler):
    """Streams a get_weather call for a weather question, else a word-by-word answer."""

    requests: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        last = body["messages"][-1]
        if last["role"] == "user" and "weather" in last["content"]:
            call = {"index": 0, "id": "call_1", "type": "function"}
            deltas = [
                {"role": "assistant", "tool_calls": [call | {"function": {"name": "get_weather"}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]},
            ]
            finish = "tool_calls"
        else:
            deltas = [{"role": "assistant", "content": ""}] + [{"content": w} for w in ANSWER]
            finish = "stop"
        for delta, reason in [*((d, None) for d in deltas), ({}, finish)]:
            chunk = {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            }
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def fake_openai(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeChatCompletions)
    FakeChatCompletions.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    settings.OPENAI_API_KEY = ""
    settings.OPENAI_MODEL = "default-model"
    yield FakeChatCompletions.requests
    server.shutdown()
    server.server_close()


async def run(messages, configurable=None, context=None):
    """Runs make_graph(config) to the end; the messages-mode chunks and the final messages."""
    config = {"configurable": {"thread_id": "t1", **(configurable or {})}}
    graph = make_graph(config).copy(update={"checkpointer": InMemorySaver()})
    chunks = []
    kwargs = {"context": context} if context is not None else {}
    async for message, metadata in graph.astream(
        {"messages": messages}, config, stream_mode="messages", **kwargs
    ):
        chunks.append((metadata["langgraph_node"], message))
    return chunks, (await graph.aget_state(config)).values["messages"]


async def test_tokens_stream_one_by_one(fake_openai):
    chunks, messages = await run([HumanMessage("hello")])

    answer = messages[-1]
    assert [m.type for m in messages] == ["human", "ai"]
    assert answer.content == "".join(ANSWER)
    tokens = [m for node, m in chunks if node == "model" and m.content]
    assert [m.content for m in tokens] == ANSWER
    assert all(isinstance(m, AIMessageChunk) and m.id == answer.id for m in tokens)
    (request,) = fake_openai
    assert request["path"] == "/v1/chat/completions"
    assert request["stream"] is True


async def test_a_tool_call_round_trips(fake_openai):
    _, messages = await run([HumanMessage("what's the weather in Oslo?")])

    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[1].tool_calls == [
        {"name": "get_weather", "args": {"city": "Oslo"}, "id": "call_1", "type": "tool_call"}
    ]
    assert messages[2].tool_call_id == "call_1"
    assert messages[2].content == get_weather.invoke({"city": "Oslo"})
    assert messages[3].content == "".join(ANSWER)

    first, second = fake_openai
    for request in (first, second):
        assert set(request) - {"path"} <= PORTABLE_PARAMETERS
        (tool,) = request["tools"]
        assert (tool["type"], tool["function"]["name"]) == ("function", "get_weather")
        assert tool["function"]["parameters"] == {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        }
    assert [m["role"] for m in second["messages"]] == ["user", "assistant", "tool"]
    sent_call = second["messages"][1]["tool_calls"][0]
    assert sent_call["id"] == "call_1"
    assert json.loads(sent_call["function"]["arguments"]) == {"city": "Oslo"}
    assert second["messages"][2]["tool_call_id"] == "call_1"


async def test_the_model_comes_from_the_settings_or_the_run(fake_openai):
    await run([HumanMessage("hello")])
    await run([HumanMessage("hello")], configurable={"model": "llama3.2"})
    await run([HumanMessage("hello")], configurable={"model": "llama3.2"}, context={"model": "q"})
    assert [r["model"] for r in fake_openai] == ["default-model", "llama3.2", "q"]


async def test_the_factory_bakes_the_model_in(fake_openai):
    graph = make_graph({"configurable": {"model": "llama3.2"}})
    graph = graph.copy(update={"checkpointer": InMemorySaver()})
    await graph.ainvoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "t"}})
    assert [r["model"] for r in fake_openai] == ["llama3.2"]


@pytest.mark.parametrize("model", [3, "", ["gpt"]])
def test_the_model_option_must_be_a_name(settings, model):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"
    with pytest.raises(ValidationError) as refused:
        make_graph({"configurable": {"model": model}})
    assert [error["loc"][0] for error in refused.value.errors()] == ["model"]


async def test_unanswered_tool_calls_are_not_sent(fake_openai):
    answered = {"name": "get_weather", "args": {"city": "Rome"}, "id": "c0"}
    unanswered = {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"}
    history = [
        HumanMessage("what's it like in Rome?"),
        AIMessage("", tool_calls=[answered]),
        ToolMessage(get_weather.invoke({"city": "Rome"}), tool_call_id="c0"),
        AIMessage("Sunny."),
        HumanMessage("and in Oslo?"),
        AIMessage("", tool_calls=[unanswered]),  # interrupted before the tool ran
        HumanMessage("and in Bergen, then?"),
        AIMessage("Let me check", tool_calls=[unanswered | {"id": "c2"}]),
        HumanMessage("and in Paris?"),
        # As older langchain-openai versions stored the calls, which it still sends.
        AIMessage("Looking", additional_kwargs={"tool_calls": [RAW_CALL]}),
        HumanMessage("never mind, hello"),
    ]
    _, messages = await run(history)

    assert messages[-1].content == "".join(ANSWER)
    (request,) = fake_openai
    sent = request["messages"]
    assert [m["role"] for m in sent] == [
        "user",
        "assistant",
        "tool",
        "assistant",
        "user",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    assert [c["id"] for m in sent for c in m.get("tool_calls") or []] == ["c0"]
    assert sent[6] == {"role": "assistant", "content": "Let me check"}
    assert sent[8] == {"role": "assistant", "content": "Looking"}


def test_raw_tool_calls_and_orphan_results_are_dropped_too():
    history = [
        HumanMessage("q"),
        AIMessage("", additional_kwargs={"tool_calls": [RAW_CALL]}),
        ToolMessage("stray", tool_call_id="c9"),
        HumanMessage("q2"),
    ]
    assert [m.type for m in without_unanswered_calls(history)] == ["human", "human"]


@pytest.fixture
def openai_graph(fake_openai, settings):
    """The server's `openai` assistant, as settings.py adds it when
    OPENAI_BASE_URL is set."""
    settings.RUNS_GRAPHS = {"openai": "runs.graphs.openai:make_graph"}
    return fake_openai


@pytest.mark.django_db(transaction=True)
async def test_the_server_runs_it_as_an_assistant(openai_graph, executor):
    from runs.models import RunStatus
    from runs.services import runs as run_service
    from runs.services.actors import SYSTEM
    from tests.conftest import make_thread, messages_of, orm, wait_status

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
    assert messages[3]["content"] == "".join(ANSWER)
    assert [m["role"] for m in openai_graph[1]["messages"]] == ["user", "assistant", "tool"]


def test_without_a_backend_there_is_no_openai_assistant(settings):
    from runs.graphs import registry

    settings.RUNS_GRAPHS = {}
    assert registry.resolve("openai") is None
