"""The built-in graph on a real model: any OpenAI-compatible chat completions
API (OpenAI, Ollama, vLLM, ...), enabled by setting `OPENAI_BASE_URL`.

Same shape and tool as the demo graph (model ⇄ tools, `get_weather` with
canned data), so the chat page and clients treat both alike; only the tokens
come from a real model. `make_graph(config)` builds it per run because a run
may pick the model (`config.configurable.model`, or `context.model`).

Only parameters every compatible server accepts are sent (model, messages,
stream, tools): no usage reports, no Responses API. A history may hold tool
calls that were never answered (a run interrupted between the call and the
tool); chat APIs refuse those, so they are left out of what is sent.
"""

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_openai import ChatOpenAI
from langgraph.graph import MessagesState
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from runs.graphs.options import read_options
from runs.graphs.shape import build
from runs.graphs.tools import get_weather

REQUEST_TIMEOUT = 120  # seconds; a local model may be slow to load


class OpenAIOptions(BaseModel):
    """Run options of the OpenAI-compatible graph (its context schema)."""

    model: str | None = Field(
        default=None,
        min_length=1,
        description="Model name to ask (default: OPENAI_MODEL).",
    )


def chat_model(model: str | None = None) -> ChatOpenAI:
    return ChatOpenAI(
        base_url=settings.OPENAI_BASE_URL,
        api_key=settings.OPENAI_API_KEY or "not-needed",
        model=model or settings.OPENAI_MODEL,
        streaming=True,
        # OpenAI-only: usage in the stream, and the Responses API that
        # langchain-openai picks by itself for some model names.
        stream_usage=False,
        use_responses_api=False,
        timeout=REQUEST_TIMEOUT,
    )


def without_unanswered_calls(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """The history with only the tool calls that have a result, and results
    only for calls still in it: what a chat completions API accepts."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    kept: list[BaseMessage] = []
    called: set[str] = set()
    for message in messages:
        if isinstance(message, AIMessage):
            message = _only_answered(message, answered)
            if not message.content and not message.tool_calls:
                continue
            called.update(call["id"] for call in message.tool_calls)
        elif isinstance(message, ToolMessage) and message.tool_call_id not in called:
            continue
        kept.append(message)
    return kept


def _only_answered(message: AIMessage, answered: set[str]) -> AIMessage:
    calls = [c for c in message.tool_calls if c.get("id") in answered]
    invalid = [c for c in message.invalid_tool_calls if c.get("id") in answered]
    extra = dict(message.additional_kwargs)
    # Older langchain-openai kept the raw calls here too, and sends them if present.
    raw = [c for c in extra.pop("tool_calls", None) or [] if c.get("id") in answered]
    if raw:
        extra["tool_calls"] = raw
    if (calls, invalid, extra) == (
        message.tool_calls,
        message.invalid_tool_calls,
        message.additional_kwargs,
    ):
        return message
    return message.model_copy(
        update={"tool_calls": calls, "invalid_tool_calls": invalid, "additional_kwargs": extra}
    )


def make_graph(config: RunnableConfig | None = None) -> CompiledStateGraph:
    """The graph for one run; `config.configurable.model` picks the model."""
    default = read_options(OpenAIOptions, config, None)
    models: dict[str | None, Any] = {}

    def bound(model: str | None) -> Any:
        if model not in models:
            models[model] = chat_model(model).bind_tools([get_weather])
        return models[model]

    async def call_model(
        state: MessagesState, config: RunnableConfig, runtime: Runtime[OpenAIOptions]
    ) -> dict:
        model = read_options(OpenAIOptions, config, runtime.context).model or default.model
        history = without_unanswered_calls(state["messages"])
        return {"messages": [await bound(model).ainvoke(history, config)]}

    return build(call_model, ToolNode([get_weather]), context_schema=OpenAIOptions)
