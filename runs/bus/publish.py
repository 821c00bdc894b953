"""Sending bus messages, from async code and from sync code.

A broken channel layer must not break a run or a request: sends log and go
on. The database stays the source of truth; watchers re-read it when events
are lost (runs.bus.subscribe).
"""

import asyncio
import collections
import logging
import weakref

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chatapp.platform.asgiref_loop import caller_loop
from runs.bus import protocol

logger = logging.getLogger(__name__)


async def retry_once(operation):
    """Run a channel-layer operation, retrying once: after a Redis restart the
    first call on a pooled connection fails, the next one reconnects."""
    try:
        return await operation()
    except Exception as error:
        logger.warning("channel layer call failed (%r); retrying once", error)
        return await operation()


async def send(group: str, message: dict) -> None:
    """Send `message` to everyone in `group`; never raises (but CancelledError)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await retry_once(lambda: layer.group_send(group, message))
    except Exception as error:
        # One line, not a traceback: while Redis is down this happens per token.
        logger.warning("channel layer send to %s failed: %r", group, error)


def send_sync(group: str, message: dict) -> None:
    """Send from synchronous code (a view, a service after its commit).

    Called from a thread that async code handed work to (a sync view, a
    database_sync_to_async call), the message is queued to that event loop and
    sent from there, in order, without waiting: the caller does not hold its
    thread (and the request it serves) for a round trip to the loop and the
    channel layer per message, four of them for a double-text. Elsewhere it
    is sent before returning, as async_to_sync does.
    """
    loop = caller_loop()
    if loop is not None:
        try:
            loop.call_soon_threadsafe(_post, group, message)
            return
        except RuntimeError:  # the loop closed meanwhile
            pass
    async_to_sync(send)(group, message)


class _Outbox:
    """Messages queued from sync code, sent one after the other on the loop."""

    def __init__(self):
        self.queue: collections.deque = collections.deque()
        self.task: asyncio.Task | None = None

    async def drain(self) -> None:
        while self.queue:
            group, message = self.queue.popleft()
            await send(group, message)


_outboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Outbox]" = (
    weakref.WeakKeyDictionary()
)


def _post(group: str, message: dict) -> None:
    loop = asyncio.get_running_loop()
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = _Outbox()
    outbox.queue.append((group, message))
    if outbox.task is None or outbox.task.done():
        outbox.task = loop.create_task(outbox.drain(), name="runs-bus-outbox")


def heard(group: str) -> bool:
    """Whether a message to `group` may reach anyone: False only when the
    channel layer knows its groups and this one has no member (the embedded
    mode's in-memory layer). A run's parts are converted to JSON for its
    thread's group; a run nobody streams (a `wait`, a background run) has
    its parts published to no one, and converting them was ~6% of the
    embedded server's CPU at 50 threads of back-to-back `wait`s."""
    layer = get_channel_layer()
    if layer is None:
        return False
    has_members = getattr(layer, "has_members", None)
    return True if has_members is None else has_members(group)


async def wake_workers(thread_id=None) -> None:
    await send(protocol.WORKERS_GROUP, protocol.wakeup(thread_id))


def wake_workers_sync(thread_id=None) -> None:
    send_sync(protocol.WORKERS_GROUP, protocol.wakeup(thread_id))


def _groups(message: protocol.RunEvent) -> tuple[str, ...]:
    """A run event's groups: its thread's, and for a lifecycle event its
    thread's lifecycle group (what waits for a run's end hears of no part)."""
    thread_id = message["thread_id"]
    if message.get("kind") == protocol.EventKind.LIFECYCLE:
        return protocol.thread_group(thread_id), protocol.thread_lifecycle_group(thread_id)
    return (protocol.thread_group(thread_id),)


def publish_sync(message: protocol.RunEvent) -> None:
    """Send a run event to its thread's groups, from sync code."""
    for group in _groups(message):
        send_sync(group, message)


async def publish(message: protocol.RunEvent) -> None:
    """Send a run event to its thread's groups."""
    for group in _groups(message):
        await send(group, message)
