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

from chatapp.platform.db_threads import on_read_threads
from chatapp.platform.prepared import select_one
from runs.api.responses import JSONText
from runs.bus import event_log, protocol
from runs.bus.subscribe import ThreadSubscription, is_final, load_run
from runs.models import Run, RunStatus, Thread
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


def sse(event: str, data, id: str | None = None) -> bytes:
    line = f"event: {event}\ndata: {json.dumps(data, default=str)}\n"
    if id is not None:
        line += f"id: {id}\n"
    return (line + "\n").encode()


# An SSE comment: keeps proxies and the JS SDK's idle watchdog from giving up.
HEARTBEAT = b": heartbeat\n\n"


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


@on_read_threads
def run_error(run_id) -> dict | None:
    return Run.objects.filter(pk=run_id).values_list("error", flat=True).first()


@database_sync_to_async
def current_values(thread_id) -> dict:
    """The thread's latest values, for a stream or wait whose view checked access."""
    return persistence.latest_values(thread_id)


@on_read_threads
def final_state(thread_id) -> dict | JSONText:
    """What `wait` and `join` return: the thread's values as the run left them,
    with the interrupts it stopped at (`__interrupt__`), as the platform does.
    Without interrupts, the values' stored JSON as it is: decoding the whole
    conversation to encode it again was ~1 ms at 400 messages."""
    # After every wait: no ORM building.
    thread = select_one(Thread, {"pk": thread_id}, raw=("values",))
    if thread is None:
        return {}
    pending = [i for group in (thread.interrupts or {}).values() for i in group]
    if not pending:
        return JSONText(thread.values or "{}")
    values = json.loads(thread.values) if thread.values else {}
    values["__interrupt__"] = [{**i, "response_schema": None} for i in pending]
    return values


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
        self.seq: int | None = None  # the part the events yielded last come from

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
        self.seq = data.get("seq")  # of the events yielded now (EventIds)
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
        self.seq = None  # a snapshot is no part of the run's own
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


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """A client's Last-Event-ID: "-1" (everything) or "<seq>-<k>"; None if
    there is none or it is not one of ours."""
    if value is None:
        return None
    if value.strip() == "-1":
        return (-1, -1)
    seq, _, k = value.strip().partition("-")
    if not (seq.isdigit() and k.isdigit()):
        return None
    return int(seq), int(k)


class EventIds:
    """SSE ids of a resumable run's events: "<part seq>-<k>", k counting the
    events one part becomes (a legacy `messages` token is two)."""

    def __init__(self):
        self.seq, self.k = -1, 0

    def of(self, seq: int | None) -> str | None:
        if seq is None:
            return None
        if seq == self.seq:
            self.k += 1
        else:
            self.seq, self.k = seq, 0
        return f"{self.seq}-{self.k}"


async def stream_run(
    sub: ThreadSubscription,
    thread_id,
    run_id,
    stream_mode,
    *,
    attach: bool = False,
    last_event_id: str | None = None,
):
    """Async generator of SSE bytes for a run, through its end. `sub` must
    already be subscribed (before the run was created, or before this call).

    A resumable run's events carry ids; with `last_event_id` ("-1" or an id)
    its kept parts after that id are replayed first (runs/bus/event_log.py),
    then the live ones, each exactly once. Attaching without one sends what the
    run has streamed so far as one chunk (the executor's snapshot), then the
    rest. A `: heartbeat` comment goes out after every RECHECK_SECONDS of quiet.
    """
    await sub.open()
    try:
        run = await load_run(thread_id, run_id)
        if stream_mode is None and run is not None:
            stream_mode = run["kwargs"].get("stream_mode")  # joined: the run's own modes
        streamer = RunStreamer(thread_id, run_id, normalise_modes(stream_mode))
        ids = EventIds() if run is not None and run["kwargs"].get("stream_resumable") else None
        after = parse_event_id(last_event_id) if ids else None
        attempt = max((run or {}).get("attempt", 1), 1)
        yield sse(
            "metadata",
            {"run_id": str(run_id), "attempt": attempt},
            # (A replay from a given id has already had it.)
            id=ids.of(0) if ids and after in (None, (-1, -1)) else None,
        )
        replayed = 0  # the last part seq sent from the log
        if after is not None:
            for message in await event_log.log().read(str(run_id)):
                for event, data in streamer.on_message(message):
                    event_id = ids.of(streamer.seq)
                    if (ids.seq, ids.k) > after:
                        yield sse(event, data, id=event_id)
                replayed = max(replayed, (message.get("data") or {}).get("seq", 0))
        elif attach and run is not None and not is_final(run):
            streamer.held = []
            await sub.request_snapshot(run_id)
        # Subscribed before the run existed, we have every event it sent even if
        # it has already ended (a short run can end before this body starts):
        # stream them up to its last lifecycle event. Attached to a run that
        # had already ended, there is nothing of it to wait for.
        ended = (attach or after is not None) and is_final(run)
        while not ended:
            # Once it has ended, its events are queued and the last one follows
            # its commit: no need to wait long for that.
            short = is_final(run) or streamer.held is not None
            timeout = SNAPSHOT_WAIT_SECONDS if short else RECHECK_SECONDS
            message = await sub.receive(timeout=timeout)
            if message is None:
                for event, data in streamer.release():  # no snapshot came: go on without
                    yield sse(event, data, id=ids.of(streamer.seq) if ids else None)
                ended = is_final(run)  # events lost: the database has the last word
                run = await load_run(thread_id, run_id)
                if not ended and not short:
                    yield HEARTBEAT
                continue
            if (message.get("data") or {}).get("seq", replayed + 1) <= replayed:
                continue  # already sent from the log
            for event, data in streamer.on_message(message):
                yield sse(event, data, id=ids.of(streamer.seq) if ids else None)
            if protocol.lifecycle_status(message, run_id) in protocol.FINAL_LIFECYCLE:
                run = await load_run(thread_id, run_id)
                ended = True
        for event, data in streamer.release():
            yield sse(event, data, id=ids.of(streamer.seq) if ids else None)
        last = (ids.seq + 1) if ids else None
        if run is not None and run["status"] == RunStatus.ERROR:
            error = await run_error(run_id) or {}
            yield sse(
                "error",
                {"error": error.get("error", "Error"), "message": error.get("message")},
                id=ids.of(last) if ids else None,
            )
        elif (
            run is not None
            and run["status"] == RunStatus.INTERRUPTED
            and "values" in streamer.modes
        ):
            yield sse("values", await current_values(thread_id), id=ids.of(last) if ids else None)
        status = run["status"] if run else protocol.Lifecycle.ROLLED_BACK
        yield sse(
            "end", {"run_id": str(run_id), "status": status}, id=ids.of(last) if ids else None
        )
    finally:
        await sub.close()


# What a thread's stream carries of its runs, by its stream modes.
THREAD_STREAM_MODES = {
    "run_modes": sorted(STREAM_MODES - {"messages"}),  # every part, tokens as messages-tuple
    "state_update": ["values"],
    "lifecycle": [],
}


async def stream_thread(sub: ThreadSubscription, thread_id, stream_modes: list[str]):
    """Async generator of SSE bytes for every run of a thread, as they come
    (GET /threads/{id}/stream): each run's events framed by a `metadata`
    {run_id, attempt} and a `metadata` {status: "run_done", run_id}; it goes on
    until the client leaves, with a heartbeat after every quiet RECHECK_SECONDS."""
    modes = sorted({m for mode in stream_modes for m in THREAD_STREAM_MODES[mode]})
    streamers: dict[str, RunStreamer] = {}
    await sub.open()
    try:
        while True:
            message = await sub.receive(timeout=RECHECK_SECONDS)
            if message is None:
                yield HEARTBEAT
                continue
            run_id = message.get("run_id")
            if not run_id or message.get("type") != protocol.MessageType.RUN_EVENT:
                continue
            status = protocol.lifecycle_status(message, run_id)
            if run_id not in streamers:
                if status in protocol.FINAL_LIFECYCLE:
                    continue  # a run we saw nothing of
                streamers[run_id] = RunStreamer(thread_id, run_id, modes)
                attempt = max(((message.get("data") or {}).get("run") or {}).get("attempt", 1), 1)
                yield sse("metadata", {"run_id": run_id, "attempt": attempt})
            for event, data in streamers[run_id].on_message(message):
                yield sse(event, data)
            if status in protocol.FINAL_LIFECYCLE:
                del streamers[run_id]
                yield sse("metadata", {"status": "run_done", "run_id": run_id})
    finally:
        await sub.close()
