"""A run's events as LangGraph stream parts, and their SSE encoding.

Stream modes: `values` (the full state after each step), `updates`
({node: update} per step), `messages-tuple` (`messages` events:
[message chunk, metadata], token by token, plus whole messages that nodes
wrote without streaming) and `messages` (`messages/partial` with the message
so far, `messages/complete` when it is done). Every stream starts with
`metadata` ({run_id, attempt}) and ends with `end`; a failed run sends
`error` first.
"""

import json

from channels.db import database_sync_to_async

from runs.bus import protocol
from runs.bus.subscribe import ThreadSubscription, is_final, load_run
from runs.models import Run, RunStatus
from runs.services import state
from runs.services.actors import SYSTEM

STREAM_MODES = {"values", "updates", "messages-tuple", "messages", "events", "debug", "custom"}
RECHECK_SECONDS = 5.0
SNAPSHOT_WAIT_SECONDS = 1.0


def normalise_modes(stream_mode) -> list[str]:
    if stream_mode is None:
        return ["values"]
    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
    return modes or ["values"]


def sse(event: str, data) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def chunk(message_id: str, text: str) -> dict:
    return {
        "content": text,
        "additional_kwargs": {},
        "response_metadata": {},
        "type": "AIMessageChunk",
        "name": None,
        "id": message_id,
        "example": False,
        "tool_calls": [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
        "tool_call_chunks": [],
    }


@database_sync_to_async
def run_error(run_id) -> dict | None:
    return Run.objects.filter(pk=run_id).values_list("error", flat=True).first()


@database_sync_to_async
def current_values(thread_id) -> dict:
    """The thread's values, for a stream or wait whose view checked access."""
    checkpoint = state.current_state(thread_id, actor=SYSTEM)
    return checkpoint.values if checkpoint else {}


class RunStreamer:
    """Turns channel-layer messages of one run into (event, data) stream parts.

    Attaching to a run in flight (`attach=True`), it holds tokens back until
    the executor's snapshot of what already streamed arrives (or
    SNAPSHOT_WAIT_SECONDS pass), sends the snapshot as one chunk, then only
    the tokens past it: token `index` and snapshot `count` say which.
    """

    def __init__(self, thread_id, run_id, modes: list[str], attach: bool = False):
        self.thread_id, self.run_id, self.modes = str(thread_id), str(run_id), modes
        self.partials: dict[str, str] = {}  # message id -> text so far
        self.sent: dict[str, int] = {}  # message id -> tokens sent
        self.step = 0
        self.held: list[dict] | None = [] if attach else None

    def meta(self, node: str) -> dict:
        return {
            "langgraph_node": node,
            "langgraph_step": self.step,
            "run_id": self.run_id,
            "thread_id": self.thread_id,
        }

    def emit_text(self, message_id: str, text: str, node: str, tokens: int):
        self.partials[message_id] = self.partials.get(message_id, "") + text
        self.sent[message_id] = self.sent.get(message_id, 0) + tokens
        if "messages-tuple" in self.modes:
            yield "messages", [chunk(message_id, text), self.meta(node)]
        if "messages" in self.modes:
            whole = chunk(message_id, self.partials[message_id])
            yield "messages/partial", [{**whole, "type": "ai"}]

    def on_token(self, data: dict):
        if self.held is not None:
            self.held.append(data)
            return
        message_id = data["message_id"]
        if data.get("index", self.sent.get(message_id, 0)) < self.sent.get(message_id, 0):
            return  # already part of the snapshot we sent
        yield from self.emit_text(message_id, data["text"], data.get("node", "model"), 1)

    def release(self, partial: dict | None = None):
        """Stop holding tokens back: the snapshot (if any), then the held tokens."""
        held, self.held = self.held or [], None
        if partial and partial.get("text"):
            count = partial.get("count", 0)
            yield from self.emit_text(partial["message_id"], partial["text"], "model", count)
        for data in held:
            yield from self.on_token(data)

    def on_step(self, data: dict):
        self.step = data.get("step") or self.step
        node, update = data["node"], data.get("update") or {}
        if "values" in self.modes and data.get("values") is not None:
            yield "values", data["values"]
        if node == "__input__":
            return
        if "updates" in self.modes:
            yield "updates", {node: update}
        for message in update.get("messages", []):
            streamed = message.get("id") in self.partials
            if "messages-tuple" in self.modes and not streamed:
                yield "messages", [message, self.meta(node)]
            if "messages" in self.modes:
                yield "messages/complete", [message]

    def on_message(self, message: dict):
        """Stream parts for one channel-layer message."""
        if message.get("type") == protocol.MessageType.SNAPSHOT_REPLY:
            if message.get("run_id") == self.run_id and self.held is not None:
                yield from self.release(message.get("partial"))
            return
        if message.get("run_id") != self.run_id:
            return
        kind, data = message.get("kind"), message.get("data") or {}
        if kind == protocol.EventKind.TOKEN:
            yield from self.on_token(data)
            return
        if self.held is not None:
            # A finished step or the run's end: what was held back goes first.
            yield from self.release()
        if kind == protocol.EventKind.STEP:
            yield from self.on_step(data)


async def stream_run(sub: ThreadSubscription, thread_id, run_id, stream_mode, attach=False):
    """Async generator of SSE bytes for a run, through its end. `sub` must
    already be subscribed (before the run was created, or before this call)."""
    streamer = RunStreamer(thread_id, run_id, normalise_modes(stream_mode))
    await sub.open()
    try:
        yield sse("metadata", {"run_id": str(run_id), "attempt": 1})
        run = await load_run(thread_id, run_id)
        if attach and run is not None and not is_final(run):
            streamer.held = []
            await sub.request_snapshot(run_id)
        # Subscribed before the run existed, we have every event it sent even if
        # it has already ended (a short run can end before this body starts):
        # stream them up to its last lifecycle event. Attached to a run that
        # had already ended, there is nothing of it to wait for.
        ended = attach and is_final(run)
        while not ended:
            # Once it has ended, its events are queued and the last one follows
            # its commit: no need to wait long for that.
            short = is_final(run) or streamer.held is not None
            timeout = SNAPSHOT_WAIT_SECONDS if short else RECHECK_SECONDS
            message = await sub.receive(timeout=timeout)
            if message is None:
                for event, data in streamer.release():  # no snapshot came: go on without
                    yield sse(event, data)
                ended = is_final(run)  # events lost: the database has the last word
                run = await load_run(thread_id, run_id)
                continue
            for event, data in streamer.on_message(message):
                yield sse(event, data)
            if protocol.lifecycle_status(message, run_id) in protocol.FINAL_LIFECYCLE:
                run = await load_run(thread_id, run_id)
                ended = True
        for event, data in streamer.release():
            yield sse(event, data)
        if run is not None and run["status"] == RunStatus.ERROR:
            error = await run_error(run_id) or {}
            yield sse(
                "error", {"error": error.get("error", "Error"), "message": error.get("message")}
            )
        elif (
            run is not None
            and run["status"] == RunStatus.INTERRUPTED
            and "values" in streamer.modes
        ):
            yield sse("values", await current_values(thread_id))
        status = run["status"] if run else protocol.Lifecycle.ROLLED_BACK
        yield sse("end", {"run_id": str(run_id), "status": status})
    finally:
        await sub.close()
