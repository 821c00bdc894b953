"""The frames of the chat websocket, `/ws/threads/<id>/`, in one place.

Client → server:
  {"type": "message", "content": "...", "strategy": "reject|enqueue|interrupt|rollback",
   "config": {...optional run config...}, "assistant_id": "...optional...",
   "checkpoint_id": "...optional..."}
      (or "input": {...}|null instead of "content": a graph's own input, for graphs
      whose state has no messages; null with a checkpoint_id regenerates from it;
      or "command": {"resume": value} instead of either: answer the interrupt the
      thread waits at, as LangGraph's Command(resume=value))
      `checkpoint_id`: fork from that checkpoint of the thread's history (edit a
      past message, regenerate an answer); the run's strategy applies as usual
  {"type": "cancel", "action": "interrupt|rollback", "run_id": "...optional..."}
  {"type": "ping"}

Server → client:
  {"type": "state", "thread_id", "status", "graph_id", "assistant_id", "messages": [...],
   "runs": [...], "active": {...}|null, "interrupts": [{"id", "value"}]}
      on connect, and after a rollback (the client reconciles its page with it).
      `runs`: the timeline, oldest first (runs.services.runs.timeline): each run
      with `seq`, `cancel_action` and `cancelled_by` (the run whose double-text
      interrupted it), and the runs rolled back, `status` "rolled_back" with
      `rolled_back_by` (the run that erased them; null: stopped by hand) and `was`
      (pending or running). `interrupts`: what the thread waits for an answer to.
  {"type": "run", "event": "created|started|interrupting|interrupted|rolled_back|
      success|error", "run": {...}, "partial_message"?: {...}, "error"?: {...}}
      (rolled_back: `run.rolled_back_by` names the run that erased it, interrupting:
      `run.cancelled_by` the run that interrupted it; null: stopped by hand)
  {"type": "token", "run_id", "message_id", "text", "index", "ts"}
      (index: position in the message)
  {"type": "messages", "run_id", "node", "messages": [...]}   (a finished step; node
      "__input__": the run started and its input messages are in the thread)
  {"type": "update", "run_id", "node", "update": {...}}   (a finished step that wrote no
      messages: a graph whose state has none)
  {"type": "interrupt", "run_id", "interrupts": [{"id", "value"}]}
      (the graph stopped at interrupt(): the thread waits for an answer)
  {"type": "partial", "run_id", "message_id", "text", "count"} (what streamed before we
      attached: `count` tokens; later token frames with a lower index are already in it)
  {"type": "error", "error", "detail", "field"?, "rejected"?: true, "content"?: "...",
   "retry_after"?: seconds}
      `rejected`: the message was not sent (strategy reject, or the rate limit);
      `content` gives its text back
  {"type": "pong"}

Close codes: 4401 not signed in, 4404 no such thread of this user (another
user's thread included), 1008 too many frames, 1009 a frame over
settings.RUNS_MAX_FRAME_BYTES.
"""

import json
from enum import StrEnum

from runs.services.errors import InvalidRequest, RunsError
from runs.services.payloads import PayloadError, check_json

# The node name of the messages a run was started with.
INPUT_NODE = "__input__"
CLOSE_NOT_SIGNED_IN = 4401
CLOSE_THREAD_NOT_FOUND = 4404
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009


class ClientFrame(StrEnum):
    MESSAGE = "message"
    CANCEL = "cancel"
    PING = "ping"


_CLIENT_FRAMES = frozenset(frame.value for frame in ClientFrame)


class FrameType(StrEnum):
    STATE = "state"
    RUN = "run"
    TOKEN = "token"
    MESSAGES = "messages"
    PARTIAL = "partial"
    UPDATE = "update"
    INTERRUPT = "interrupt"
    ERROR = "error"
    PONG = "pong"


class FrameError(Exception):
    """A frame we cannot take; the connection stays open."""

    def __init__(self, detail: str, field: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field


def parse(text_data: str | None, bytes_data: bytes | None) -> dict:
    """A client frame as a dict with a known `type`, or FrameError."""
    if bytes_data is not None:
        raise FrameError("Binary frames are not supported; send JSON text.")
    try:
        content = json.loads(text_data or "")
    except (TypeError, ValueError, RecursionError):
        raise FrameError("Frames must be JSON objects.") from None
    if not isinstance(content, dict):
        raise FrameError("Frames must be JSON objects.")
    try:
        check_json(content)
    except PayloadError as error:
        raise FrameError(error.message, field=error.field) from None
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in _CLIENT_FRAMES:
        raise FrameError(
            f"Unknown frame type {content.get('type')!r}; use message, cancel or ping.",
            field="type",
        )
    return content


def resume_command(command) -> dict:
    """The Command of a `message` frame: only `resume` (what the page sends to
    answer an interrupt); LangGraph's goto and update are the REST API's."""
    if not isinstance(command, dict) or set(command) != {"resume"}:
        raise InvalidRequest(
            'command must be {"resume": value}; goto and update are not taken here.',
            field="command",
        )
    return {"resume": command["resume"]}


def state(
    thread_id,
    messages: list,
    runs: list,
    active: dict | None,
    *,
    status: str = "idle",
    interrupts: list | None = None,
    graph_id: str | None = None,
    assistant_id: str | None = None,
) -> dict:
    return {
        "type": FrameType.STATE,
        "thread_id": str(thread_id),
        "status": status,
        "graph_id": graph_id,
        "assistant_id": assistant_id,
        "messages": messages,
        "runs": runs,
        "active": active,
        "interrupts": interrupts or [],
    }


def run(event: str, run_payload: dict, **extra) -> dict:
    """A run lifecycle frame; `extra`: partial_message, error (when set)."""
    frame = {"type": FrameType.RUN, "event": event, "run": run_payload}
    frame.update({key: value for key, value in extra.items() if value})
    return frame


def token(run_id, message_id: str, text: str, index: int, ts: float | None) -> dict:
    return {
        "type": FrameType.TOKEN,
        "run_id": run_id,
        "message_id": message_id,
        "text": text,
        "index": index,
        "ts": ts,
    }


def step_messages(run_id, node: str, messages: list) -> dict:
    return {"type": FrameType.MESSAGES, "run_id": run_id, "node": node, "messages": messages}


def update(run_id, node: str, written) -> dict:
    return {"type": FrameType.UPDATE, "run_id": run_id, "node": node, "update": written}


def interrupt(run_id, interrupts: list) -> dict:
    return {"type": FrameType.INTERRUPT, "run_id": run_id, "interrupts": interrupts}


def partial(run_id, data: dict) -> dict:
    return {"type": FrameType.PARTIAL, "run_id": run_id, **data}


def error(code: str, detail: str, field: str | None = None) -> dict:
    body = {"type": FrameType.ERROR, "error": code, "detail": detail}
    if field:
        body["field"] = field
    return body


def service_error(exc: RunsError, **extra) -> dict:
    return {"type": FrameType.ERROR, **exc.as_dict(), **extra}


def pong() -> dict:
    return {"type": FrameType.PONG}
