"""Every message the processes exchange over the channel layer.

Server processes (REST views, websocket consumers) and workers (executors)
talk only through the channel layer (in memory in the embedded mode, Redis
in production), with the messages defined here. No other module spells a
message type, an event kind or a lifecycle status as a string
(tests/unit/bus/test_protocol.py checks).

Groups:
- `thread_group(thread_id)`: everything that happens on a thread (`RunEvent`:
  a run's lifecycle, and each part its graph streams: tokens, updates,
  values...). Websocket consumers and SSE streams join it, in whichever
  process holds the connection.
- `thread_lifecycle_group(thread_id)`: a thread's lifecycle events only (the
  same `RunEvent`s, sent to both groups): what waits for a run's end (wait,
  join) joins, and no streamed part reaches it.
- `run_control_group(run_id)`: signals to the executor of that run
  (`RunCancel`, `SnapshotRequest`); the worker that claimed the run joins it.
- `WORKERS_GROUP`: every executor; `Wakeup` means "a run may be claimable".

A message's `type` is what Channels dispatches on: `run.event` reaches a
consumer's `run_event` handler, `run.snapshot_reply` its
`run_snapshot_reply`.
"""

import time
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypedDict

from runs.models import RunStatus

WORKERS_GROUP = "runs.workers"


def thread_group(thread_id) -> str:
    return f"thread.{thread_id}"


def thread_lifecycle_group(thread_id) -> str:
    return f"threadlife.{thread_id}"


def run_control_group(run_id) -> str:
    return f"runctl.{run_id}"


class MessageType(StrEnum):
    RUN_EVENT = "run.event"  # to a thread group: something happened on one of its runs
    RUN_CANCEL = "run.cancel"  # to a run's control group: stop the run
    SNAPSHOT_REQUEST = "run.snapshot"  # to a run's control group: what has streamed so far?
    SNAPSHOT_REPLY = "run.snapshot_reply"  # to the channel that asked
    WAKEUP = "runs.wakeup"  # to the workers: a run may be claimable


class EventKind(StrEnum):
    """What a `RunEvent` reports."""

    LIFECYCLE = "run.lifecycle"  # the run changed status: LifecycleData
    PART = "run.part"  # a part of the graph's stream: PartData


class Lifecycle(StrEnum):
    """A run's lifecycle as its watchers see it: its statuses, plus the
    moments that are not a stored status."""

    CREATED = "created"  # committed, pending
    STARTED = "started"  # claimed by an executor, running
    INTERRUPTING = "interrupting"  # asked to stop; `interrupted` follows
    ROLLED_BACK = "rolled_back"  # deleted with everything it wrote
    REQUEUED = "requeued"  # its worker was lost: pending again, for another attempt
    SUCCESS = RunStatus.SUCCESS.value
    ERROR = RunStatus.ERROR.value
    TIMEOUT = RunStatus.TIMEOUT.value
    INTERRUPTED = RunStatus.INTERRUPTED.value


# After one of these a run sends nothing more.
FINAL_LIFECYCLE = frozenset(
    {
        Lifecycle.SUCCESS,
        Lifecycle.ERROR,
        Lifecycle.TIMEOUT,
        Lifecycle.INTERRUPTED,
        Lifecycle.ROLLED_BACK,
    }
)


class LifecycleData(TypedDict):
    status: Lifecycle
    run: dict[str, Any]  # the run as the API shows it (services.representation.run_dict)
    error: NotRequired[dict]
    # The kept, cut-short answer (interrupt), as it now is in the state.
    partial_message: NotRequired[dict]


class PartData(TypedDict):
    """One part of what `graph.astream(...)` yields, as JSON."""

    mode: str  # LangGraph's stream mode: values, updates, messages, custom, debug, tasks...
    ns: list[str]  # the subgraph it comes from ("node:task_id" each); [] at the top
    data: Any
    seq: int  # its position in the run's stream, from 1
    ts: float  # when it left the executor (latency measurements)
    # For a token of the message being streamed ("messages" at the top): its
    # position in the message; a snapshot's `count` says which are in it.
    index: NotRequired[int]


class RunEvent(TypedDict):
    type: Literal[MessageType.RUN_EVENT]
    thread_id: str
    run_id: str | None
    kind: EventKind
    data: LifecycleData | PartData


class RunCancel(TypedDict):
    type: Literal[MessageType.RUN_CANCEL]
    run_id: str
    action: str  # runs.models.CancelAction


class SnapshotRequest(TypedDict):
    type: Literal[MessageType.SNAPSHOT_REQUEST]
    run_id: str
    reply_channel: str


class Partial(TypedDict):
    """The message a run is streaming, as far as it got."""

    message_id: str
    text: str
    count: int  # tokens in `text`: later tokens with a lower index are already in it


class SnapshotReply(TypedDict):
    type: Literal[MessageType.SNAPSHOT_REPLY]
    run_id: str
    partial: Partial | None


class Wakeup(TypedDict):
    type: Literal[MessageType.WAKEUP]
    thread_id: str  # "" when it may concern any thread


def _run_event(thread_id, run_id, kind: EventKind, data) -> RunEvent:
    return {
        "type": MessageType.RUN_EVENT,
        "thread_id": str(thread_id),
        "run_id": str(run_id) if run_id else None,
        "kind": kind,
        "data": data,
    }


def lifecycle_event(
    thread_id,
    run: dict,
    status: Lifecycle | str,
    *,
    error: dict | None = None,
    partial_message: dict | None = None,
) -> RunEvent:
    data: LifecycleData = {"status": Lifecycle(status), "run": run}
    if error:
        data["error"] = error
    if partial_message:
        data["partial_message"] = partial_message
    return _run_event(thread_id, run["run_id"], EventKind.LIFECYCLE, data)


def part_event(
    thread_id, run_id, *, mode: str, ns, data, seq: int, index: int | None = None
) -> RunEvent:
    part: PartData = {"mode": mode, "ns": list(ns), "data": data, "seq": seq, "ts": time.time()}
    if index is not None:
        part["index"] = index
    return _run_event(thread_id, run_id, EventKind.PART, part)


def run_cancel(run_id, action: str) -> RunCancel:
    return {"type": MessageType.RUN_CANCEL, "run_id": str(run_id), "action": action}


def snapshot_request(run_id, reply_channel: str) -> SnapshotRequest:
    return {
        "type": MessageType.SNAPSHOT_REQUEST,
        "run_id": str(run_id),
        "reply_channel": reply_channel,
    }


def snapshot_reply(run_id, partial: Partial | None) -> SnapshotReply:
    return {"type": MessageType.SNAPSHOT_REPLY, "run_id": str(run_id), "partial": partial}


def wakeup(thread_id=None) -> Wakeup:
    return {"type": MessageType.WAKEUP, "thread_id": str(thread_id or "")}


def lifecycle_status(message: dict, run_id) -> Lifecycle | None:
    """The lifecycle status a message reports for `run_id`, or None if it is
    anything else (another run, a stream part, a control message)."""
    if message.get("kind") != EventKind.LIFECYCLE or message.get("run_id") != str(run_id):
        return None
    return Lifecycle((message.get("data") or {}).get("status"))
