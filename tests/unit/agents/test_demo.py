"""The offline demo agent."""

import time

from runs.agents.base import Step, Token
from runs.agents.demo import DemoAgent
from runs.services import chat_messages as msgs


async def collect(messages, **options):
    return [event async for event in DemoAgent().stream(messages, options)]


async def test_weather_question_calls_the_tool_then_streams_an_answer():
    events = await collect([msgs.human("what's the weather in sf?")], token_delay=0, reply_words=8)
    steps = [e for e in events if isinstance(e, Step)]
    tokens = [e for e in events if isinstance(e, Token)]
    assert [s.node for s in steps] == ["model", "tools", "model"]
    call = steps[0].messages[0]["tool_calls"][0]
    assert call["name"] == "get_weather" and call["args"] == {"city": "sf"}
    assert steps[1].messages[0]["tool_call_id"] == call["id"]
    answer = steps[2].messages[0]
    assert "".join(t.text for t in tokens) == answer["content"]
    assert answer["content"].startswith("The weather in sf is sunny at 21°C")
    assert all(t.message_id == answer["id"] for t in tokens)


async def test_other_questions_get_a_deterministic_reply_of_the_asked_length():
    first = await collect([msgs.human("hello")], token_delay=0, reply_words=20)
    second = await collect([msgs.human("hello")], token_delay=0, reply_words=20)
    tokens = [e.text for e in first if isinstance(e, Token)]
    assert len(tokens) == 20
    assert [e.text for e in second if isinstance(e, Token)] == tokens
    assert [type(e) for e in first][-1] is Step


async def test_token_delay_paces_the_stream():
    started = time.monotonic()
    await collect([msgs.human("hello")], token_delay=0.02, reply_words=10)
    assert time.monotonic() - started >= 0.2
