"""A run's bus events as LangGraph Platform's SSE stream parts.

The executor publishes each part of the graph's stream (runs/worker/graph_run.py);
a client gets the parts of the modes it asked for, named as the platform
names them: `values`, `updates`, `custom`, `debug`, `tasks`, `checkpoints`
as they are; `messages-tuple` as `messages` events ([message chunk, metadata],
token by token, and whole messages that nodes wrote without streaming);
`messages` (the older form) as `messages/metadata`, `messages/partial` (the
message so far) and `messages/complete`. Parts of subgraphs (with
`stream_subgraphs`) are named `<mode>|<node>:<task id>`. Every stream starts
with `metadata` ({run_id, attempt}) and ends with `end`; a failed run sends
`error` first.
"""

import json

from channels.db import database_sync_to_async

from runs.bus import protocol
from runs.bus.subscribe import ThreadSubscription, is_final, load_run
from runs.models import Run, RunStatus
from runs.services import persistence

STREAM_MODES = {
    "values",
    "updates",
    "messages-tuple",
    "messages",
    "custom",
    "debug",
    "tasks",
    "checkpoints",
    "events",
}
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
    """An AIMessageChunk as JSON (a snapshot of a message being streamed)."""
    return {
        "content": text,
        "additional_kwargs": {},
        "response_metadata": {},
        "type": "AIMessageChunk",
        "name": None,
        "id": message_id,
        "tool_calls": [],
        "invalid_tool_calls": [],
        "usage_metadata": None,
        "tool_call_chunks": [],
        "chunk_position": None,
    }


@database_sync_to_async
def run_error(run_id) -> dict | None:
    return Run.objects.filter(pk=run_id).values_list("error", flat=True).first()


@database_sync_to_async
def current_values(thread_id) -> dict:
    """The thread's latest values, for a stream or wait whose view checked access."""
    return persistence.state_values(persistence.latest(thread_id))


class RunStreamer:
    """Turns bus messages of one run into (event, data) stream parts.

    Attaching to a run in flight (`attach=True`), it holds tokens back until
    the executor's snapshot of what already streamed arrives (or
    SNAPSHOT_WAIT_SECONDS pass), sends the snapshot as one chunk, then only
    the tokens past it: a token's `index` and the snapshot's `count` say which.
    """

    def __init__(self, thread_id, run_id, modes: list[str], attach: bool = False):
        self.thread_id, self.run_id, self.modes = str(thread_id), str(run_id), modes
        self.partials: dict[str, dict] = {}  # message id -> the message so far (legacy mode)
        self.sent: dict[str, int] = {}  # message id -> tokens sent
        self.held: list[dict] | None = [] if attach else None

    def messages(self, message: dict, metadata: dict, suffix: str):
        """Stream parts for one `messages` part: a token or a whole message."""
        if "messages-tuple" in self.modes:
            yield "messages" + suffix, [message, metadata]
        if "messages" not in self.modes:
            return
        message_id = message.get("id")
        if message_id not in self.partials:
            yield "messages/metadata" + suffix, {message_id: {"metadata": metadata}}
        if message.get("type") != "AIMessageChunk":
            self.partials[message_id] = message
            yield "messages/complete" + suffix, [message]
            return
        so_far = self.partials.get(message_id)
        if so_far is None:
            so_far = {**message, "type": "ai"}
            so_far.pop("chunk_position", None)
            so_far.pop("tool_call_chunks", None)
        else:
            so_far = {**so_far, "content": _joined(so_far["content"], message["content"])}
            if message.get("tool_calls"):
                so_far["tool_calls"] = message["tool_calls"]
        self.partials[message_id] = so_far
        yield "messages/partial" + suffix, [so_far]

    def on_part(self, data: dict):
        mode, ns, part = data["mode"], data.get("ns") or [], data.get("data")
        suffix = "".join(f"|{segment}" for segment in ns)
        if mode == "messages":
            message, metadata = part
            index = data.get("index")
            if index is not None:
                if self.held is not None:
                    self.held.append(data)
                    return
                message_id = message.get("id")
                if index < self.sent.get(message_id, 0):
                    return  # already part of the snapshot we sent
                self.sent[message_id] = index + 1
            elif self.held is not None:
                yield from self.release()
            yield from self.messages(message, metadata, suffix)
            return
        if self.held is not None:
            # A finished step or the like: what was held back goes first.
            yield from self.release()
        if mode in self.modes:
            yield mode + suffix, part

    def release(self, partial: dict | None = None):
        """Stop holding tokens back: the snapshot (if any), then the held tokens."""
        held, self.held = self.held or [], None
        if partial and partial.get("text"):
            self.sent[partial["message_id"]] = partial.get("count", 0)
            metadata = {"run_id": self.run_id, "thread_id": self.thread_id}
            yield from self.messages(chunk(partial["message_id"], partial["text"]), metadata, "")
        for data in held:
            yield from self.on_part(data)

    def on_message(self, message: dict):
        """Stream parts for one bus message."""
        if message.get("type") == protocol.MessageType.SNAPSHOT_REPLY:
            if message.get("run_id") == self.run_id and self.held is not None:
                yield from self.release(message.get("partial"))
            return
        if message.get("run_id") != self.run_id:
            return
        if message.get("kind") == protocol.EventKind.PART:
            yield from self.on_part(message.get("data") or {})
        elif self.held is not None:
            yield from self.release()  # the run's end: what was held back goes first


def _joined(before, after):
    if isinstance(before, str) and isinstance(after, str):
        return before + after
    as_list = [before] if isinstance(before, str) else list(before or [])
    return as_list + ([after] if isinstance(after, str) else list(after or []))


async def stream_run(sub: ThreadSubscription, thread_id, run_id, stream_mode, attach=False):
    """Async generator of SSE bytes for a run, through its end. `sub` must
    already be subscribed (before the run was created, or before this call)."""
    streamer = RunStreamer(thread_id, run_id, normalise_modes(stream_mode))
    await sub.open()
    try:
        run = await load_run(thread_id, run_id)
        yield sse(
            "metadata", {"run_id": str(run_id), "attempt": max((run or {}).get("attempt", 1), 1)}
        )
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
