"""Channel-layer groups and the messages that travel through them.

- `thread_group(thread_id)`: everything that happens on a thread (run
  lifecycle, streamed tokens, finished steps). Websocket consumers and SSE
  streams join it, in whichever server process holds the connection.
- `run_control_group(run_id)`: signals to the executor running that run
  (cancel, snapshot request); the worker that claimed the run joins it.
- `WORKERS_GROUP`: every executor; a wake-up means "a run may be claimable".

Every message has `type: "run.event"` (or a control type) so a Channels
consumer dispatches it to `run_event`.
"""

import asyncio
import collections
import logging
import os
import weakref
from typing import Any

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

WORKERS_GROUP = "runs.workers"

# Event kinds published to a thread group.
LIFECYCLE = "lifecycle"  # data: {"status": ..., "run": {...}}
TOKEN = "token"  # data: {"message_id", "text", "node"}
STEP = "step"  # data: {"node", "messages", "values", "next", "checkpoint_id"}


def thread_group(thread_id) -> str:
    return f"thread.{thread_id}"


def run_control_group(run_id) -> str:
    return f"runctl.{run_id}"


def event(thread_id, run_id, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "run.event",
        "thread_id": str(thread_id),
        "run_id": str(run_id) if run_id else None,
        "kind": kind,
        "data": data,
    }


async def retry_once(operation):
    """Run a channel-layer operation, retrying once: after a Redis restart the
    first call on a pooled connection fails, the next one reconnects."""
    try:
        return await operation()
    except Exception as error:
        logger.warning("channel layer call failed (%r); retrying once", error)
        return await operation()


async def send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await retry_once(lambda: layer.group_send(group, message))
    except Exception as error:  # a broken layer must not break a run or a request
        # One line, not a traceback: while Redis is down this happens per token.
        logger.warning("channel layer send to %s failed: %r", group, error)


def send_sync(group: str, message: dict[str, Any]) -> None:
    """Send from synchronous code (a view, the service after commit).

    Called from a thread that async code handed work to (a sync view, a
    database_sync_to_async call), the message is queued to that event loop and
    sent from there, in order, without waiting: the caller does not hold its
    thread (and the request it serves) for a round trip to the loop and the
    channel layer per message, four of them for a double-text. Elsewhere it
    is sent before returning, as async_to_sync does.
    """
    loop = _caller_loop()
    if loop is not None:
        try:
            loop.call_soon_threadsafe(_post, group, message)
            return
        except RuntimeError:  # the loop closed meanwhile
            pass
    async_to_sync(send)(group, message)


def _caller_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop that called this sync thread through asgiref
    (which records it per thread), if any."""
    local = SyncToAsync.threadlocal
    loop = getattr(local, "main_event_loop", None)
    if loop is None or getattr(local, "main_event_loop_pid", None) != os.getpid():
        return None
    if loop.is_closed() or not loop.is_running():
        return None
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return loop
    return None  # called on an event loop's thread: not ours to queue from


class _Outbox:
    """Messages queued from sync code, sent one after the other on the loop."""

    def __init__(self):
        self.queue: collections.deque = collections.deque()
        self.task: asyncio.Task | None = None

    async def drain(self) -> None:
        while self.queue:
            group, message = self.queue.popleft()
            await send(group, message)  # never raises but CancelledError


_outboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox]" = (
    weakref.WeakKeyDictionary()
)


def _post(group: str, message: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = _Outbox()
    outbox.queue.append((group, message))
    if outbox.task is None or outbox.task.done():
        outbox.task = loop.create_task(outbox.drain(), name="runs-events-outbox")


def wake_workers_sync(thread_id=None) -> None:
    send_sync(WORKERS_GROUP, {"type": "runs.wakeup", "thread_id": str(thread_id or "")})
