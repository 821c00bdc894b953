"""Sending bus messages, from async code and from sync code.

A broken channel layer must not break a run or a request: sends log and go
on. The database stays the source of truth; watchers re-read it when events
are lost (runs.bus.subscribe).
"""

import asyncio
import collections
import contextlib
import functools
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


async def send_all(messages: list[tuple[str, dict]]) -> None:
    """Send each (group, message), in order; never raises (but CancelledError).

    Where the layer queues messages without waiting (our Redis Pub/Sub layer,
    chatapp/platform/pubsub_layer.py), they go out together in one round
    trip, still in order, instead of a round trip each: a double-text's
    announcements and stop signal, a lifecycle event's two groups. Redis
    publishes a pipeline's messages in its order, as it did one round trip
    after the other. A message whose pipeline failed is sent again on its
    own (send: a reconnect), after the others."""
    layer = get_channel_layer()
    queue = getattr(layer, "group_send_nowait", None) if layer is not None else None
    if queue is None:
        for group, message in messages:
            await send(group, message)
        return
    queued = [(group, message, _queued(queue, group, message)) for group, message in messages]
    for group, message, future in queued:
        if future is None:  # could not be queued (logged): on its own
            await send(group, message)
            continue
        try:
            await future
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("channel layer send to %s failed (%r); retrying", group, error)
            await send(group, message)


def _queued(queue, group: str, message: dict) -> asyncio.Future | None:
    try:
        return queue(group, message)
    except Exception:
        logger.exception("could not queue a message to %s", group)
        return None


# How many messages the layer may hold unsent before publish_soon waits for
# its own: only while Redis does not answer, a run then slows down to what
# gets through instead of queueing its parts in memory.
MAX_BACKLOG = 1000
_retries: set[asyncio.Task] = set()


async def publish_soon(message: protocol.RunEvent) -> None:
    """Publish a run event without waiting for it to go out, where the layer
    can queue it (in order with everything sent after it): a run's parts,
    one after the other as its graph streams them, each used to wait for its
    own Redis round trip, ~15 per one-step run, and the pipeline's overhead
    each time. Elsewhere as `publish`. A part whose pipeline failed is sent
    again on its own, out of order: a watcher re-reads the state at the
    run's end (runs.bus.subscribe)."""
    layer = get_channel_layer()
    queue = getattr(layer, "group_send_nowait", None) if layer is not None else None
    if queue is None:
        await publish(message)
        return
    for group in _groups(message):
        future = _queued(queue, group, message)
        if future is None:
            await send(group, message)
            continue
        future.add_done_callback(functools.partial(_resend_if_failed, group, message))
        if layer.backlog() > MAX_BACKLOG:
            with contextlib.suppress(Exception):  # _resend_if_failed has it
                await future


def _resend_if_failed(group: str, message: dict, future: asyncio.Future) -> None:
    if future.cancelled() or future.exception() is None:
        return
    logger.warning("channel layer send to %s failed (%r); retrying", group, future.exception())
    task = asyncio.ensure_future(send(group, message))
    _retries.add(task)
    task.add_done_callback(_retries.discard)


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
    """Messages queued from sync code, sent in order on the loop (what
    queued up meanwhile together: send_all)."""

    def __init__(self):
        self.queue: collections.deque = collections.deque()
        self.task: asyncio.Task | None = None

    async def drain(self) -> None:
        while self.queue:
            batch = list(self.queue)
            self.queue.clear()
            await send_all(batch)


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
    await send_all([(group, message) for group in _groups(message)])
