"""The built-in demo graphs: offline, deterministic, streamed token by token.

`graph` is a small ReAct agent (model ⇄ tools) whose model is `DemoChatModel`,
a LangChain chat model with a script instead of weights: a weather question
gets a `get_weather` tool call, a tool result gets an answer about that
weather, anything else gets an answer quoting the question. Because it is a
real chat model streaming real chunks, LangGraph's `messages` stream mode
carries each token as it would with a hosted LLM, with no network and the same
answer every time. `hitl` is the same graph, but the tools node asks a human
for approval with `interrupt()` before calling the tool.

The demo is meant to be double-texted while it streams, so its pace and length
are run options (`DemoOptions`, the graphs' context schema): `token_delay`
seconds before each token and `reply_words` words in a reply. A run sets them
in `config.configurable` (what clients send today) or in `context` (LangGraph
1.x), `context` winning; unset options come from the Django settings
`DEMO_TOKEN_DELAY` / `DEMO_REPLY_WORDS`, read when the run starts.

Replies are whole sentences at any length: a reply of `reply_words` words ends
on a full stop, and is never shorter than its first sentence.
"""

import asyncio
import functools
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.utils.function_calling import convert_to_openai_tool
from langgraph.graph import MessagesState
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field

from runs.graphs.options import read_options
from runs.graphs.shape import build
from runs.graphs.tools import get_weather

# Bounds of the run options: a run must end in reasonable time.
MAX_TOKEN_DELAY = 2.0
MAX_REPLY_WORDS = 2000
# Used only where no Django settings are configured (a tool loading this file
# without DJANGO_SETTINGS_MODULE); the server always reads its settings.
FALLBACK_TOKEN_DELAY = 0.08
FALLBACK_REPLY_WORDS = 40
# What resumes an approval interrupt with a yes (case-insensitive).
APPROVALS = frozenset({"yes", "y", "approve", "true"})

# Sentences a reply continues with after its opening, in this order, cycling.
ABOUT_THE_DEMO = (
    "This reply comes from the offline demo model, so it is the same every time.",
    "It streams one word at a time, just like a real language model would.",
    "While it is still writing, you can send another message.",
    "The strategy you picked decides what happens to this answer then.",
    "Reject keeps it and refuses the new message.",
    "Enqueue lets it finish and answers the new message after it.",
    "Interrupt stops it here and keeps what was already written.",
    "Rollback removes it together with your question.",
)
ABOUT_THE_WEATHER = (
    "It is a fine day to spend some time outside.",
    "The wind is gentle, so a light jacket should be enough.",
    "There is no rain in sight for the next few hours.",
    "The air feels mild and comfortable at this humidity.",
    "These figures come from a canned tool, so they never change.",
)
# A last sentence of every length shorter than the longest one above, so that a
# reply can stop at exactly the asked number of words on a full stop.
CLOSINGS = {
    len(sentence.split()): sentence
    for sentence in (
        "Enjoy.",
        "Thank you.",
        "Hope this helps.",
        "That is my answer.",
        "I hope this helps you.",
        "Let me know what comes next.",
        "Ask me anything else you would like.",
        "Send another message whenever you feel like it.",
        "Send me another message while this one is streaming.",
        "That is everything I have to say about this today.",
        "Thank you for reading this far, and have a good day.",
        "If you have another question, just type it and press send again.",
        "That is the end of this answer, so feel free to ask again.",
        "That is the end of this answer, so please feel free to ask again.",
    )
}


def _setting(name: str, fallback: Any) -> Any:
    try:
        return getattr(settings, name)
    except ImproperlyConfigured:
        return fallback


class DemoOptions(BaseModel):
    """How fast a demo run streams and how long its replies are."""

    # Strict types, as the JSON schema reads them: `true` is not a number here.
    token_delay: float = Field(
        default_factory=lambda: _setting("DEMO_TOKEN_DELAY", FALLBACK_TOKEN_DELAY),
        ge=0,
        le=MAX_TOKEN_DELAY,
        strict=True,
        description="Seconds before each streamed token (default: DEMO_TOKEN_DELAY).",
    )
    reply_words: int = Field(
        default_factory=lambda: _setting("DEMO_REPLY_WORDS", FALLBACK_REPLY_WORDS),
        ge=1,
        le=MAX_REPLY_WORDS,
        strict=True,
        description="Words in a reply, in whole sentences (default: DEMO_REPLY_WORDS).",
    )


def _text(content: Any) -> str:
    if isinstance(content, list):
        parts = (p if isinstance(p, str) else p.get("text", "") for p in content)
        return " ".join(part for part in parts if part)
    return str(content or "")


def _city(question: str) -> str:
    match = re.search(r"\bin ([^?!,;:]+)", question)
    city = match.group(1).strip(" .'\"") if match else ""
    return city or "your area"


def _compose(opening: str, more: Sequence[str], words: int) -> str:
    """`opening` followed by sentences of `more` (cycling), `words` words in all.

    Never shorter than `opening`, always whole sentences: the last one is a
    closing of exactly the words left when the next sentence would not fit.
    """
    sentences, count = [opening], len(opening.split())
    index = 0
    while count < words:
        left = words - count
        sentence = more[index % len(more)]
        if len(sentence.split()) > left:
            sentence = CLOSINGS[left]
        sentences.append(sentence)
        count += len(sentence.split())
        index += 1
    return " ".join(sentences)


def _weather_opening(result: ToolMessage, messages: Sequence[BaseMessage]) -> str:
    try:
        data = json.loads(_text(result.content))
    except ValueError:
        data = None
    if isinstance(data, dict) and "condition" in data:
        return (
            f"The weather in {data.get('city', 'your area')} is {data['condition']} at "
            f"{data.get('temperature_c')}°C with a wind of {data.get('wind_kph')} kph "
            f"and {round(100 * float(data.get('humidity', 0)))}% humidity."
        )
    city = "your area"
    for message in messages:
        for call in getattr(message, "tool_calls", None) or []:
            if call.get("id") == result.tool_call_id:
                city = call["args"].get("city", city)
    return f"I did not check the weather in {city}, because the call to get_weather was declined."


class DemoChatModel(BaseChatModel):
    """A chat model with a script instead of weights, streamed word by word.

    Given the conversation, it calls `get_weather` for a human weather question
    (only when the tool is bound), answers about the weather after a tool
    result, and otherwise answers quoting the last question. Every chunk,
    the tool call included, waits `token_delay` seconds first, whether or not
    anybody streams, so that a run takes the time a real model would.
    """

    token_delay: float | None = Field(default=None, ge=0, le=MAX_TOKEN_DELAY)
    reply_words: int | None = Field(default=None, ge=1, le=MAX_REPLY_WORDS)

    @property
    def _llm_type(self) -> str:
        return "doubletext-demo"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"token_delay": self.token_delay, "reply_words": self.reply_words}

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _options(self) -> DemoOptions:
        set_here = {"token_delay": self.token_delay, "reply_words": self.reply_words}
        return DemoOptions.model_validate({k: v for k, v in set_here.items() if v is not None})

    def _chunks(self, messages: list[BaseMessage], tools: Sequence[dict] | None) -> list:
        """The reply as the chunks to stream: one tool call, or one per word."""
        words = self._options().reply_words
        last = messages[-1] if messages else None
        tool_names = {t.get("function", {}).get("name") for t in tools or []}
        if isinstance(last, HumanMessage) and "weather" in _text(last.content).lower():
            if "get_weather" in tool_names:
                return [self._tool_call(messages, _city(_text(last.content)))]
        if isinstance(last, ToolMessage):
            text = _compose(_weather_opening(last, messages), ABOUT_THE_WEATHER, words)
        else:
            humans = [m for m in messages if isinstance(m, HumanMessage)]
            question = " ".join(_text(humans[-1].content).split()) if humans else ""
            text = _compose(f'You asked: "{question or "nothing"}".', ABOUT_THE_DEMO, words)
        tokens = text.split(" ")
        return [
            AIMessageChunk(
                content=token if i == 0 else " " + token,
                # Marks the end, so that LangChain adds no empty chunk of its own.
                chunk_position="last" if i == len(tokens) - 1 else None,
            )
            for i, token in enumerate(tokens)
        ]

    @staticmethod
    def _tool_call(messages: list[BaseMessage], city: str) -> AIMessageChunk:
        # Deterministic, and distinct per position in the conversation.
        seed = f"{len(messages)}:{_text(messages[-1].content)}".encode()
        call_id = "call_" + hashlib.sha256(seed).hexdigest()[:16]
        chunk = tool_call_chunk(
            name="get_weather", args=json.dumps({"city": city}), id=call_id, index=0
        )
        return AIMessageChunk(content="", tool_call_chunks=[chunk], chunk_position="last")

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        delay = self._options().token_delay
        for chunk in self._chunks(messages, kwargs.get("tools")):
            await asyncio.sleep(delay)
            yield ChatGenerationChunk(message=chunk)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        delay = self._options().token_delay
        for chunk in self._chunks(messages, kwargs.get("tools")):
            time.sleep(delay)
            yield ChatGenerationChunk(message=chunk)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = [c.message async for c in self._astream(messages, stop, **kwargs)]
        return _result(chunks)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return _result([c.message for c in self._stream(messages, stop, **kwargs)])


def _result(chunks: list) -> ChatResult:
    whole = chunks[0]
    for chunk in chunks[1:]:
        whole = whole + chunk
    message = AIMessage(content=whole.content, tool_calls=whole.tool_calls)
    return ChatResult(generations=[ChatGeneration(message=message)])


@functools.lru_cache(maxsize=64)
def _bound_model(token_delay: float, reply_words: int) -> Runnable:
    # Kept: a model and its tool schema built per call were ~2% of a run's CPU
    # (convert_to_openai_tool, pydantic); a bound model holds no run's state.
    model = DemoChatModel(token_delay=token_delay, reply_words=reply_words)
    return model.bind_tools([get_weather])


async def call_model(
    state: MessagesState, config: RunnableConfig, runtime: Runtime[DemoOptions]
) -> dict:
    options = read_options(DemoOptions, config, runtime.context)
    model = _bound_model(options.token_delay, options.reply_words)
    message = await model.ainvoke(state["messages"], config)
    return {"messages": [message]}


call_tools = ToolNode([get_weather])


async def call_tools_if_approved(state: MessagesState, config: RunnableConfig) -> dict:
    """Asks a human before calling the tools; anything but a yes declines them."""
    calls = state["messages"][-1].tool_calls
    answer = interrupt({"question": "Call get_weather?", "tool_calls": calls})
    if str(answer).strip().lower() in APPROVALS:
        return await call_tools.ainvoke(state, config)
    return {
        "messages": [
            ToolMessage(content="declined", tool_call_id=call["id"], name=call["name"])
            for call in calls
        ]
    }


graph = build(call_model, call_tools, context_schema=DemoOptions)
hitl = build(call_model, call_tools_if_approved, context_schema=DemoOptions)
