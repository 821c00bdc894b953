"""The built-in demo agent: offline, deterministic, streams token by token.

A question about the weather gets what a tool-calling model would do: an AI
message calling `get_weather`, the tool's canned answer, then a streamed
reply. Anything else gets a streamed reply about the question. Per run,
`config.configurable.token_delay` (seconds between tokens) and
`config.configurable.reply_words` (words in a reply) override the settings,
so tests can be fast and demos slow enough to double-text.
"""

import asyncio
import json
import re
import uuid
from typing import Any

from django.conf import settings

from runs.agents.base import InvalidOption, Step, Token
from runs.services import chat_messages as msgs

WEATHER = {"temperature_c": 21, "condition": "sunny", "wind_kph": 12, "humidity": 0.55}
# Bounds of the per-run options: a run must end in reasonable time.
MAX_TOKEN_DELAY = 2.0
MAX_REPLY_WORDS = 2000
FILLER = (
    "Here is a little more detail so the answer takes a moment to stream and you can "
    "send another message while it is still being written"
).split()


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def _city(question: str) -> str:
    match = re.search(r"\bin ([A-Za-z .'-]+)", question)
    city = match.group(1).strip(" ?.!") if match else "your area"
    return city or "your area"


class DemoAgent:
    assistant_id = "agent"
    name = "agent"
    description = "Offline deterministic demo agent with a canned get_weather tool."

    def check_options(self, options: dict[str, Any]) -> None:
        delay = options.get("token_delay", 0)
        if isinstance(delay, bool) or not isinstance(delay, int | float):
            raise InvalidOption("token_delay", "token_delay must be a number of seconds.")
        if not 0 <= delay <= MAX_TOKEN_DELAY:
            raise InvalidOption("token_delay", f"token_delay must be 0 to {MAX_TOKEN_DELAY} s.")
        words = options.get("reply_words", 1)
        if isinstance(words, bool) or not isinstance(words, int):
            raise InvalidOption("reply_words", "reply_words must be an integer.")
        if not 1 <= words <= MAX_REPLY_WORDS:
            raise InvalidOption("reply_words", f"reply_words must be 1 to {MAX_REPLY_WORDS}.")

    def options(self, options: dict[str, Any]) -> tuple[float, int]:
        delay = float(options.get("token_delay", settings.DEMO_TOKEN_DELAY))
        words = int(options.get("reply_words", settings.DEMO_REPLY_WORDS))
        return max(delay, 0.0), max(words, 1)

    def reply_words(self, messages: list[dict], words: int) -> list[str]:
        last = messages[-1] if messages else {}
        if last.get("type") == "tool":
            data = json.loads(_text(last.get("content")) or "{}")
            city = data.get("city", "your area")
            opening = (
                f"The weather in {city} is {data.get('condition')} at "
                f"{data.get('temperature_c')}°C with a light wind."
            ).split()
        else:
            question = _text(last.get("content")).strip() or "that"
            opening = f'You asked: "{question}". Here is my answer.'.split()
        body = opening + [FILLER[i % len(FILLER)] for i in range(max(words - len(opening), 0))]
        return body[: max(words, len(opening))]

    async def stream(self, messages: list[dict], options: dict[str, Any]):
        delay, words = self.options(options)
        last = messages[-1] if messages else {}
        question = _text(last.get("content"))
        if last.get("type") == "human" and "weather" in question.lower():
            city = _city(question)
            call = {
                "name": "get_weather",
                "args": {"city": city},
                "id": "call_" + uuid.uuid4().hex[:12],
                "type": "tool_call",
            }
            call_message = msgs.ai("", tool_calls=[call])
            yield Step("model", [call_message], next=["tools"])
            await asyncio.sleep(delay)
            result = msgs.tool(
                json.dumps({"city": city, **WEATHER}), tool_call_id=call["id"], name="get_weather"
            )
            yield Step("tools", [result], next=["model"])
            messages = [*messages, call_message, result]
        message_id = "run-" + uuid.uuid4().hex
        tokens = self.reply_words(messages, words)
        for i, word in enumerate(tokens):
            await asyncio.sleep(delay)
            yield Token(message_id, word if i == 0 else " " + word)
        yield Step("model", [msgs.ai(" ".join(tokens), id=message_id)], next=[])
