"""Checking the messages clients send (a run's input, a state update).

Graphs read messages in any form LangChain converts (`role` or `type`, a bare
string); here each is checked (type, content, size, id) so that bad input is
a 422 naming the field before anything runs, and written in LangChain's
message-dict form (`type`, `content`, `id`, `name`, `tool_calls`,
`tool_call_id`) with an id, so the server knows the id of every message it
was sent. `langchain_core.messages.convert_to_messages` reads them, as the
graphs' `add_messages` reducer does.
"""

import json
import uuid
from typing import Any

from django.conf import settings

from runs.services.errors import InvalidRequest

ROLE_TO_TYPE = {
    "user": "human",
    "human": "human",
    "assistant": "ai",
    "ai": "ai",
    "system": "system",
    "tool": "tool",
}


class MessageError(ValueError):
    """Input that cannot be turned into messages; `field` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def new_message_id() -> str:
    return str(uuid.uuid4())


def is_interrupted(message: dict) -> bool:
    """A message an interrupt cut short (runs.worker.graph_run marks them)."""
    return bool((message.get("response_metadata") or {}).get("interrupted"))


def normalise_message(raw: Any, field: str) -> dict[str, Any]:
    """Turn one input message (role or type form, or a bare string) into a dict."""
    if isinstance(raw, str):
        raw = {"type": "human", "content": raw}
    if not isinstance(raw, dict):
        raise MessageError(field, "A message must be an object or a string.")
    kind = raw.get("type") or raw.get("role")
    if kind not in ROLE_TO_TYPE:
        raise MessageError(
            f"{field}.type", f"Unknown message type {kind!r}; use one of {sorted(ROLE_TO_TYPE)}."
        )
    kind = ROLE_TO_TYPE[kind]
    content = raw.get("content", "")
    if not isinstance(content, str | list):
        raise MessageError(f"{field}.content", "Message content must be a string or a list.")
    limit = settings.RUNS_MAX_MESSAGE_CHARS
    if len(str(content)) > limit:
        raise MessageError(f"{field}.content", f"Message content is longer than {limit} chars.")
    msg_id = raw.get("id") or new_message_id()
    if not isinstance(msg_id, str):
        raise MessageError(f"{field}.id", "Message id must be a string.")
    message: dict[str, Any] = {"type": kind, "content": content, "id": msg_id}
    if kind == "ai" and raw.get("tool_calls"):
        if not isinstance(raw["tool_calls"], list):
            raise MessageError(f"{field}.tool_calls", "tool_calls must be a list.")
        message["tool_calls"] = raw["tool_calls"]
    if kind == "tool":
        if not raw.get("tool_call_id"):
            raise MessageError(f"{field}.tool_call_id", "A tool message needs a tool_call_id.")
        message["tool_call_id"] = raw["tool_call_id"]
    if raw.get("name"):
        if not isinstance(raw["name"], str):
            raise MessageError(f"{field}.name", "A message's name must be a string.")
        message["name"] = raw["name"]
    for key in ("additional_kwargs", "response_metadata"):
        if isinstance(raw.get(key), dict):
            message[key] = raw[key]
    return message


def user_input(text: Any, *, field: str = "content") -> dict[str, Any]:
    """A run's input for one message a user typed (the chat page)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(f"{field} must be a non-empty string.", field=field)
    return {"messages": [{"role": "user", "content": text}]}


def normalise_input(raw: Any) -> dict[str, Any] | None:
    """Validate a run's `input` and normalise its messages. None means no input."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise MessageError("input", "Input must be an object such as {'messages': [...]}.")
    values = dict(raw)
    if "messages" in values:
        messages = values["messages"]
        if isinstance(messages, dict | str):
            messages = [messages]
        if not isinstance(messages, list):
            raise MessageError("input.messages", "input.messages must be a list of messages.")
        values["messages"] = [
            normalise_message(m, f"input.messages[{i}]") for i, m in enumerate(messages)
        ]
    return values


def input_excerpt(run_input: Any, limit: int = 80) -> str:
    """The text of a run's input as a person recognises it: its last message's
    text (what was typed), else the input as JSON; at most `limit` characters."""
    if not run_input:
        return ""
    messages = run_input.get("messages") if isinstance(run_input, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content", "")
        if isinstance(content, list):
            content = " ".join(
                part if isinstance(part, str) else str(part.get("text", ""))
                for part in content
                if isinstance(part, str | dict)
            )
        text = " ".join(str(content).split())
    else:
        text = json.dumps(run_input, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
