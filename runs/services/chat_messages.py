"""Messages in LangChain's message-dict form, and the state reducer.

A thread's state is a dict whose `messages` key holds messages as LangChain
serialises them (`type`, `content`, `id`, `tool_calls`, `tool_call_id`,
`name`, ...), so `langchain_core.messages.convert_to_messages` reads them.
Input may use the OpenAI-style `role` form; it is normalised on the way in.
"""

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


def human(content: str, *, id: str | None = None) -> dict[str, Any]:
    return {
        "type": "human",
        "content": content,
        "id": id or new_message_id(),
        "name": None,
        "additional_kwargs": {},
        "response_metadata": {},
        "example": False,
    }


def ai(
    content: str,
    *,
    id: str | None = None,
    tool_calls: list[dict] | None = None,
    interrupted: bool = False,
) -> dict[str, Any]:
    response_metadata: dict[str, Any] = {}
    if interrupted:
        # Our interrupt keeps the partly streamed answer; this marks it.
        response_metadata = {"finish_reason": "interrupted", "interrupted": True}
    return {
        "type": "ai",
        "content": content,
        "id": id or new_message_id(),
        "name": None,
        "additional_kwargs": {},
        "response_metadata": response_metadata,
        "example": False,
        "tool_calls": tool_calls or [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
    }


def tool(content: str, *, tool_call_id: str, name: str, id: str | None = None) -> dict[str, Any]:
    return {
        "type": "tool",
        "content": content,
        "id": id or new_message_id(),
        "name": name,
        "tool_call_id": tool_call_id,
        "additional_kwargs": {},
        "response_metadata": {},
        "artifact": None,
        "status": "success",
    }


def is_interrupted(message: dict) -> bool:
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
    if kind == "human":
        message = human(content, id=msg_id)
    elif kind == "ai":
        message = ai(content, id=msg_id, tool_calls=raw.get("tool_calls") or [])
    elif kind == "tool":
        if not raw.get("tool_call_id"):
            raise MessageError(f"{field}.tool_call_id", "A tool message needs a tool_call_id.")
        message = tool(
            content, tool_call_id=raw["tool_call_id"], name=raw.get("name") or "", id=msg_id
        )
    else:
        message = {**human(content, id=msg_id), "type": "system"}
        message.pop("example")
    if raw.get("name") and kind != "tool":
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


def add_messages(existing: list[dict], new: list[dict]) -> list[dict]:
    """LangGraph's add_messages reducer: append, replacing messages with the same id."""
    merged = list(existing)
    index = {m.get("id"): i for i, m in enumerate(merged)}
    for message in new:
        position = index.get(message.get("id"))
        if position is None:
            index[message.get("id")] = len(merged)
            merged.append(message)
        else:
            merged[position] = message
    return merged


def apply_update(values: dict, update: dict | None) -> dict:
    """Apply a state update: messages go through add_messages, other keys replace."""
    result = dict(values)
    for key, value in (update or {}).items():
        if key == "messages":
            result["messages"] = add_messages(result.get("messages", []), value)
        else:
            result[key] = value
    return result
