"""The built-in demo graphs (`agent`, `hitl`) and their chat model, run by LangGraph itself."""

import re
import time

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from pydantic import ValidationError

from runs.graphs import demo
from runs.graphs.demo import DemoChatModel, DemoOptions, graph, hitl
from runs.graphs.tools import get_weather

FAST = {"token_delay": 0}
KNOWN_SENTENCES = {*demo.ABOUT_THE_DEMO, *demo.ABOUT_THE_WEATHER, *demo.CLOSINGS.values()}


def with_memory(compiled):
    return compiled.copy(update={"checkpointer": InMemorySaver()})


def ask(text: str) -> dict:
    return {"messages": [{"role": "user", "content": text}]}


class Run:
    """One run of a graph, streamed in `messages` and `updates` modes."""

    def __init__(self, compiled, thread: str = "t1"):
        self.graph = with_memory(compiled) if compiled.checkpointer is None else compiled
        self.thread = thread
        self.chunks: list[tuple[str, object]] = []  # (node, message or chunk)
        self.updates: list[str] = []  # nodes, in the order they finished

    def config(self, **options) -> dict:
        return {"configurable": {"thread_id": self.thread, **options}}

    async def __call__(self, input, context=None, **options) -> list:
        kwargs = {"context": context} if context is not None else {}
        async for mode, part in self.graph.astream(
            input, self.config(**options), stream_mode=["messages", "updates"], **kwargs
        ):
            if mode == "messages":
                message, metadata = part
                self.chunks.append((metadata["langgraph_node"], message))
            else:
                self.updates.extend(node for node in part if node != "__interrupt__")
        return await self.messages()

    async def messages(self) -> list:
        return (await self.graph.aget_state(self.config())).values["messages"]

    async def state(self):
        return await self.graph.aget_state(self.config())


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=\.) ", text)


async def answer(question: str, **options) -> str:
    messages = await Run(graph)(ask(question), **{**FAST, **options})
    return messages[-1].content


async def test_weather_question_calls_the_tool_then_streams_the_answer():
    run = Run(graph)
    messages = await run(ask("what's the weather in sf?"), **FAST, reply_words=30)

    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert run.updates == ["model", "tools", "model"]
    call_message, result, final = messages[1:]
    (call,) = call_message.tool_calls
    assert (call["name"], call["args"]) == ("get_weather", {"city": "sf"})
    assert isinstance(result, ToolMessage)
    assert result.tool_call_id == call["id"]
    assert result.content == get_weather.invoke({"city": "sf"})
    assert final.content.startswith("The weather in sf is sunny at 21°C")

    # The answer streamed one chunk per word, under the id of the message it became.
    streamed = [m for node, m in run.chunks if node == "model" and m.id == final.id]
    assert all(isinstance(m, AIMessageChunk) for m in streamed)
    assert len(streamed) == len(final.content.split()) == 30
    assert "".join(m.content for m in streamed) == final.content
    assert {m.id for _, m in run.chunks if isinstance(m, AIMessageChunk)} == {
        call_message.id,
        final.id,
    }


async def test_a_plain_question_streams_a_deterministic_quoted_answer():
    first = await answer("  hello\n there  ", reply_words=20)
    assert first.startswith('You asked: "hello there". ')
    assert len(first.split()) == 20
    assert await answer("  hello\n there  ", reply_words=20) == first
    assert await answer("what is the weather like?", reply_words=3) != first


@pytest.mark.parametrize("words", [1, 5, 12, 40, 61, 200])
@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("hello", 'You asked: "hello".'),
        (
            "weather in Oslo?",
            "The weather in Oslo is sunny at 21°C with a wind of 12 kph and 55% humidity.",
        ),
    ],
)
async def test_replies_are_whole_sentences_of_the_asked_length(words, question, opening):
    reply = await answer(question, reply_words=words)

    assert reply.endswith(".")
    assert len(reply.split()) == max(words, len(opening.split()))
    first, *rest = sentences(reply)
    assert first == opening
    assert set(rest) <= KNOWN_SENTENCES  # each one whole: none cut short


def test_every_length_ends_on_a_whole_sentence():
    for words in range(1, demo.MAX_REPLY_WORDS + 1):
        for more in (demo.ABOUT_THE_DEMO, demo.ABOUT_THE_WEATHER):
            reply = demo._compose("Opening sentence here.", more, words)
            assert len(reply.split()) == max(words, 3), words
            assert reply.endswith("."), words


async def test_options_come_from_configurable_and_context_and_context_wins():
    # 'You asked: "hi".' is three words; the rest follow the options.
    async def words(context=None, **options) -> int:
        messages = await Run(graph)(ask("hi"), context=context, **options)
        return len(messages[-1].content.split())

    assert await words(token_delay=0, reply_words=5) == 5
    assert await words(context={"token_delay": 0, "reply_words": 9}) == 9
    assert await words(context={"reply_words": 9}, token_delay=0, reply_words=5) == 9
    # A context that does not set reply_words leaves configurable's in place.
    assert await words(context={"token_delay": 0}, reply_words=7) == 7


async def test_unset_options_come_from_the_settings_at_run_time(settings):
    settings.DEMO_TOKEN_DELAY = 0
    settings.DEMO_REPLY_WORDS = 11
    messages = await Run(graph)(ask("hi"))
    assert len(messages[-1].content.split()) == 11
    assert DemoOptions() == DemoOptions(token_delay=0, reply_words=11)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("token_delay", -0.01),
        ("token_delay", 2.01),
        ("token_delay", True),
        ("token_delay", "0.5"),
        ("reply_words", 0),
        ("reply_words", 2001),
        ("reply_words", 1.5),
        ("reply_words", True),
    ],
)
def test_out_of_range_options_are_refused(field, value):
    with pytest.raises(ValidationError) as refused:
        DemoOptions(**{field: value})
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


@pytest.mark.parametrize("where", ["configurable", "context"])
async def test_a_run_with_a_bad_option_fails_before_answering(where):
    options = {"token_delay": 0, "reply_words": 0}
    run = Run(graph)
    with pytest.raises(ValidationError, match="reply_words"):
        if where == "context":
            await run(ask("hi"), context=options)
        else:
            await run(ask("hi"), **options)
    assert run.chunks == []


def test_the_context_schema_shows_the_bounds():
    schema = graph.get_context_jsonschema()
    assert schema == hitl.get_context_jsonschema()
    delay, words = schema["properties"]["token_delay"], schema["properties"]["reply_words"]
    assert (delay["type"], delay["minimum"], delay["maximum"]) == ("number", 0, 2)
    assert (words["type"], words["minimum"], words["maximum"]) == ("integer", 1, 2000)


async def test_token_delay_paces_every_token():
    run = Run(graph)
    arrivals = []
    started = time.monotonic()
    async for _chunk in run.graph.astream(
        ask("hello"), run.config(token_delay=0.03, reply_words=8), stream_mode="messages"
    ):
        arrivals.append(time.monotonic())
    assert len(arrivals) == 8
    assert arrivals[0] - started >= 0.03
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert min(gaps) >= 0.025


async def test_hitl_stops_for_approval_before_the_tool():
    run = Run(hitl)
    messages = await run(ask("what's the weather in Oslo?"), **FAST)

    state = await run.state()
    assert state.next == ("tools",)
    assert [m.type for m in messages] == ["human", "ai"]
    (pending,) = state.interrupts
    assert pending.value == {"question": "Call get_weather?", "tool_calls": messages[1].tool_calls}
    assert pending.value["tool_calls"][0]["args"] == {"city": "Oslo"}


@pytest.mark.parametrize("yes", ["yes", "Y", "approve", "TRUE"])
async def test_hitl_resumed_with_yes_calls_the_tool(yes):
    run = Run(hitl)
    await run(ask("what's the weather in Oslo?"), **FAST)
    messages = await run(Command(resume=yes), **FAST)

    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[2].content == get_weather.invoke({"city": "Oslo"})
    assert messages[3].content.startswith("The weather in Oslo is sunny at 21°C")
    assert (await run.state()).next == ()


@pytest.mark.parametrize("no", ["no", "maybe later", ""])
async def test_hitl_resumed_with_anything_else_declines(no):
    run = Run(hitl)
    await run(ask("what's the weather in Oslo?"), **FAST)
    messages = await run(Command(resume=no), **FAST, reply_words=1)

    assert [m.type for m in messages] == ["human", "ai", "tool", "ai"]
    assert messages[2].content == "declined"
    assert messages[2].tool_call_id == messages[1].tool_calls[0]["id"]
    assert messages[3].content == (
        "I did not check the weather in Oslo, because the call to get_weather was declined."
    )


@pytest.mark.parametrize("compiled", [graph, hitl], ids=["agent", "hitl"])
def test_the_graph_is_model_and_tools_without_a_checkpointer(compiled):
    shape = compiled.get_graph().to_json()
    assert {node["id"] for node in shape["nodes"]} == {"__start__", "model", "tools", "__end__"}
    edges = {(e["source"], e["target"], e.get("conditional", False)) for e in shape["edges"]}
    assert edges == {
        ("__start__", "model", False),
        ("model", "tools", True),
        ("model", "__end__", True),
        ("tools", "model", False),
    }
    assert compiled.checkpointer is None


def test_the_model_calls_the_tool_only_when_it_is_bound():
    model = DemoChatModel(token_delay=0, reply_words=4)
    bound = model.bind_tools([get_weather]).invoke("what's the weather in Rome?")
    assert bound.tool_calls[0]["name"] == "get_weather"
    assert bound.tool_calls[0]["args"] == {"city": "Rome"}
    unbound = model.invoke("what's the weather in Rome?")
    assert isinstance(unbound, AIMessage) and unbound.tool_calls == []
    assert unbound.content == 'You asked: "what\'s the weather in Rome?".'


def test_the_model_streams_word_by_word_without_langgraph_too():
    model = DemoChatModel(token_delay=0, reply_words=12)
    chunks = list(model.stream("hello"))
    assert len(chunks) == 12
    assert "".join(c.content for c in chunks) == model.invoke("hello").content
