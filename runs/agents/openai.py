"""An agent backed by any OpenAI-compatible chat completions API (OpenAI,
Ollama, vLLM, ...), enabled by setting `OPENAI_BASE_URL`.

It streams the model's answer token by token and offers the same
`get_weather` tool as the demo agent (answered with canned data), looping
model → tool → model like a ReAct agent.
"""

import json
import uuid
from typing import Any

import httpx
from django.conf import settings

from runs.agents.base import InvalidOption, Step, Token
from runs.agents.demo import WEATHER
from runs.services import chat_messages as msgs

MAX_TOOL_ROUNDS = 4
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def to_openai(messages: list[dict]) -> list[dict]:
    """Our LangChain-form messages as OpenAI chat messages.

    Tool calls left without a result (a run interrupted between the call and
    the tool) are dropped: the API refuses an unanswered tool call.
    """
    answered = {m.get("tool_call_id") for m in messages if m.get("type") == "tool"}
    result = []
    for m in messages:
        kind, content = m.get("type"), m.get("content") or ""
        if kind == "human":
            result.append({"role": "user", "content": content})
        elif kind == "system":
            result.append({"role": "system", "content": content})
        elif kind == "tool":
            result.append({"role": "tool", "content": content, "tool_call_id": m["tool_call_id"]})
        elif kind == "ai":
            calls = [c for c in m.get("tool_calls") or [] if c.get("id") in answered]
            entry: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                entry["tool_calls"] = [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": json.dumps(c["args"])},
                    }
                    for c in calls
                ]
            if content or calls:
                result.append(entry)
    return result


class OpenAIAgent:
    assistant_id = "openai"
    name = "openai"
    description = "Chat model behind an OpenAI-compatible API (OPENAI_BASE_URL)."

    def __init__(self, base_url: str, api_key: str = "", model: str = "gpt-4o-mini"):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.model = model

    def check_options(self, options: dict[str, Any]) -> None:
        if not isinstance(options.get("model", self.model), str):
            raise InvalidOption("model", "model must be a string.")

    async def stream(self, messages: list[dict], options: dict[str, Any]):
        history = list(messages)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=120) as http:
            for _ in range(MAX_TOOL_ROUNDS):
                message_id = "run-" + uuid.uuid4().hex
                text, calls = "", {}
                async for delta in self._completion(http, history, options):
                    if delta.get("content"):
                        text += delta["content"]
                        yield Token(message_id, delta["content"])
                    for call in delta.get("tool_calls") or []:
                        slot = calls.setdefault(
                            call.get("index", 0), {"id": "", "name": "", "args": ""}
                        )
                        slot["id"] = call.get("id") or slot["id"]
                        function = call.get("function") or {}
                        slot["name"] += function.get("name") or ""
                        slot["args"] += function.get("arguments") or ""
                tool_calls = [
                    {
                        "name": c["name"],
                        "args": json.loads(c["args"] or "{}"),
                        "id": c["id"] or "call_" + uuid.uuid4().hex[:12],
                        "type": "tool_call",
                    }
                    for c in calls.values()
                ]
                answer = msgs.ai(text, id=message_id, tool_calls=tool_calls)
                yield Step("model", [answer], next=["tools"] if tool_calls else [])
                history.append(answer)
                if not tool_calls:
                    return
                results = [self._run_tool(call) for call in tool_calls]
                yield Step("tools", results, next=["model"])
                history.extend(results)

    async def _completion(self, http: httpx.AsyncClient, history: list[dict], options: dict):
        body = {
            "model": options.get("model", self.model),
            "messages": to_openai(history),
            "stream": True,
            "tools": [WEATHER_TOOL],
        }
        async with http.stream("POST", "/chat/completions", json=body) as response:
            if response.status_code >= 400:
                detail = (await response.aread()).decode(errors="replace")[:500]
                raise RuntimeError(f"model API answered {response.status_code}: {detail}")
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    return
                for choice in json.loads(data).get("choices") or []:
                    yield choice.get("delta") or {}

    def _run_tool(self, call: dict) -> dict:
        if call["name"] != "get_weather":
            content = json.dumps({"error": f"unknown tool {call['name']}"})
        else:
            content = json.dumps({"city": call["args"].get("city", "?"), **WEATHER})
        return msgs.tool(content, tool_call_id=call["id"], name=call["name"])


def _accumulate_call(calls: dict, delta: dict) -> None:
    """Tool calls arrive in pieces: id and name first, arguments in chunks."""
    slot = calls.setdefault(delta.get("index", 0), {"id": "", "name": "", "args": ""})
    slot["id"] = delta.get("id") or slot["id"]
    function = delta.get("function") or {}
    slot["name"] += function.get("name") or ""
    slot["args"] += function.get("arguments") or ""


def from_settings() -> OpenAIAgent | None:
    if not settings.OPENAI_BASE_URL:
        return None
    return OpenAIAgent(settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.OPENAI_MODEL)
