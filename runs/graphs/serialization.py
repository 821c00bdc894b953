"""What graphs produce, as the JSON LangGraph Platform sends.

Graph states and stream parts hold LangChain messages (pydantic models),
`Interrupt`s, `Send`s, named tuples, datetimes... `jsonable` turns them into
plain JSON values, the shapes the platform's clients read (a message is its
`model_dump()`: content, additional_kwargs, response_metadata, type, name,
id, ...). `snapshot_dict` is a `StateSnapshot` as `GET /threads/{id}/state`
returns it.
"""

import base64
import dataclasses
import datetime
import decimal
import enum
import uuid
from typing import Any

from langgraph.types import Interrupt, PregelTask, StateSnapshot
from pydantic import BaseModel

from checkpoints.decoded import KeptList

# Where LangGraph reports interrupts: the key of an `updates` part, and the
# channel of a checkpoint's pending writes (its constant is private).
INTERRUPT_KEY = "__interrupt__"


# Exactly these types are JSON as they are (not their subclasses: a StrEnum
# takes the long way, to the same result).
_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(obj: Any) -> Any:
    # The common shapes first, without the isinstance chain below: every
    # streamed token goes through here (a message's dump and its metadata).
    cls = type(obj)
    if cls in _PLAIN:
        return obj
    if cls is dict:
        return {
            key if type(key) is str else str(key): value
            if type(value) in _PLAIN
            else jsonable(value)
            for key, value in obj.items()
        }
    if cls is list:
        return [item if type(item) in _PLAIN else jsonable(item) for item in obj]
    if cls is KeptList:  # a state read's messages: each one's JSON made once
        return obj.json(jsonable)
    return _jsonable(obj)


def _jsonable(obj: Any) -> Any:
    if obj is None or isinstance(obj, str | bool | int | float):
        return obj
    if isinstance(obj, dict):
        return {str(key): jsonable(value) for key, value in obj.items()}
    if isinstance(obj, BaseModel):
        return jsonable(obj.model_dump())
    if isinstance(obj, Interrupt):
        return interrupt_dict(obj)
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return jsonable(obj._asdict())
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(item) for item in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable({f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)})
    if isinstance(obj, datetime.datetime | datetime.date | datetime.time):
        return obj.isoformat()
    if isinstance(obj, uuid.UUID | decimal.Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return jsonable(obj.value)
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    if hasattr(obj, "model_dump"):
        return jsonable(obj.model_dump())
    return repr(obj)


def message_text(content) -> str:
    """The text of a message's content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def interrupt_dict(interrupt: Interrupt) -> dict:
    return {"id": interrupt.id, "value": jsonable(interrupt.value)}


def checkpoint_ref(config: dict | None) -> dict | None:
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("checkpoint_id"):
        return None
    return {
        "checkpoint_id": configurable["checkpoint_id"],
        "thread_id": str(configurable.get("thread_id", "")),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
    }


def task_dict(task: PregelTask) -> dict:
    state = task.state
    if isinstance(state, StateSnapshot):
        state = snapshot_dict(state)
    elif state is not None:
        state = {"configurable": jsonable((state or {}).get("configurable"))}
    return {
        "id": task.id,
        "name": task.name,
        "path": jsonable(task.path),
        "error": repr(task.error) if task.error is not None else None,
        "interrupts": [interrupt_dict(i) for i in task.interrupts],
        "checkpoint": None,
        "state": state,
        "result": jsonable(task.result),
    }


EMPTY_STATE = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": None,
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}


def snapshot_dict(snapshot: StateSnapshot | None) -> dict:
    """A thread's state as the platform returns it; EMPTY_STATE before any checkpoint."""
    if snapshot is None or not (snapshot.config or {}).get("configurable", {}).get("checkpoint_id"):
        return dict(EMPTY_STATE)
    checkpoint = checkpoint_ref(snapshot.config)
    parent = checkpoint_ref(snapshot.parent_config)
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": [task_dict(task) for task in snapshot.tasks],
        "metadata": jsonable(snapshot.metadata),
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": [interrupt_dict(i) for i in snapshot.interrupts],
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }
