"""Receiving a thread's events: subscriptions, and waiting for a run to end.
Used by the REST API (join, wait, SSE streams).

A watcher joins the thread's channel-layer group *before* it reads the run
from the database, so nothing that happens between the read and the
subscription is missed. Lifecycle events wake it. An end (success, error,
timeout, interrupted) carries the run as committed with that final status,
which never changes again: taken as is. Any other end of the wait (a
rollback, a message without the run) and every few seconds without news (an
event lost), it re-reads the database, the source of truth. The moments a
run goes on after (created, started, interrupting, requeued) read nothing.
"""

import asyncio
import contextlib
import logging

from channels.layers import get_channel_layer

from chatapp.platform.db_threads import on_read_threads
from chatapp.platform.prepared import select_one
from runs.bus import protocol
from runs.bus.publish import retry_once, send
from runs.models import Run, RunStatus
from runs.services.ids import parse_id
from runs.services.representation import run_dict

logger = logging.getLogger(__name__)

FINAL_STATUSES = {RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.TIMEOUT, RunStatus.INTERRUPTED}
# Lifecycle moments after which a run goes on: a watcher waiting for its end
# has nothing to read then.
STILL_GOING = {
    protocol.Lifecycle.CREATED,
    protocol.Lifecycle.STARTED,
    protocol.Lifecycle.INTERRUPTING,
    protocol.Lifecycle.REQUEUED,
}
RECHECK_SECONDS = 5.0
LAYER_RETRY_SECONDS = 0.5


class ThreadSubscription:
    """`async with ThreadSubscription(thread_id) as sub: message = await sub.receive()`,
    or `open()` it in one place and `close()` it in another (a view subscribes
    before it creates a run; the response body closes it when it ends).
    `lifecycle_only`: the thread's lifecycle events, without the parts its
    runs stream (each a message to receive and drop for a wait)."""

    def __init__(self, thread_id, *, lifecycle_only: bool = False):
        # A malformed id is not found (404) rather than an invalid group name.
        self.thread_id = str(parse_id(thread_id, field="thread_id"))
        group = protocol.thread_lifecycle_group if lifecycle_only else protocol.thread_group
        self.group = group(self.thread_id)
        self.layer = get_channel_layer()
        self.channel: str | None = None
        # The layer's receive, kept across timeouts (see receive()).
        self._pending: asyncio.Future | None = None

    async def open(self) -> "ThreadSubscription":
        if self.channel is None:
            channel = await retry_once(self.layer.new_channel)
            await retry_once(lambda: self.layer.group_add(self.group, channel))
            self.channel = channel
        return self

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.channel is not None:
            with contextlib.suppress(Exception):
                await self.layer.group_discard(self.group, self.channel)
            # The Pub/Sub layer keeps a channel subscribed until told
            # (chatapp/platform/pubsub_layer.py).
            discard = getattr(self.layer, "discard_channel", None)
            if discard is not None:
                with contextlib.suppress(Exception):
                    await discard(self.channel)
            self.channel = None

    async def __aenter__(self):
        return await self.open()

    async def __aexit__(self, *exc):
        await self.close()

    async def receive(self, timeout: float | None = None) -> dict | None:
        """The next message, or None after `timeout` seconds.

        Also None, after a short pause, when the channel layer fails (Redis
        restarting: a pooled connection is closed under us): callers then
        re-read the database. The subscription is renewed, as a restarted
        Redis has forgotten its groups.

        A timeout (or the caller's cancellation) does not cancel the layer's
        receive: the next call goes on waiting on it; close() cancels it. The
        Pub/Sub layer unsubscribes a channel whose receive is cancelled and
        drops what reaches it until the next receive; the list-based one may
        lose a message popped as the receive is cancelled.
        """
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        pending, self._pending = self._pending, None
        try:
            return pending.result()
        except Exception as error:  # whatever the layer raises: not ours to handle
            logger.warning("channel layer receive failed (%r); subscribing again", error)
            await asyncio.sleep(LAYER_RETRY_SECONDS)
            with contextlib.suppress(Exception):
                await self._join_again()
            return None

    async def _join_again(self) -> None:
        try:
            await self.layer.group_add(self.group, self.channel)
        except Exception:
            # The Pub/Sub layer, flushed, has forgotten the channel too.
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(self.group, self.channel)

    async def request_snapshot(self, run_id) -> None:
        """Ask the executor of a run for what it has streamed so far; the reply
        (a SnapshotReply) arrives on this subscription."""
        await send(
            protocol.run_control_group(run_id), protocol.snapshot_request(run_id, self.channel)
        )


@on_read_threads
def load_run(thread_id, run_id) -> dict | None:
    # A prepared read (no ORM building, no ORDER BY): every join and stream
    # asks for its run at least once, often twice.
    run = select_one(Run, {"pk": run_id, "thread": thread_id})
    return run_dict(run) if run else None


def is_final(run: dict | None) -> bool:
    return run is None or run["status"] in FINAL_STATUSES


def ended_run(message: dict, run_id) -> dict | None:
    """The run a lifecycle message says has ended (its run_dict as committed
    with that final status), or None for anything else. A run's final status
    never changes again, so a watcher told it need not read it back."""
    status = protocol.lifecycle_status(message, run_id)
    run = (message.get("data") or {}).get("run")
    if status in FINAL_STATUSES and isinstance(run, dict) and run.get("status") == status:
        return run
    return None


async def wait_for_run(
    thread_id, run_id, sub: ThreadSubscription | None = None, *, created: dict | None = None
) -> dict | None:
    """Wait until a run has ended. Returns its run_dict, or None if it is gone
    (rolled back or deleted). `created`: the run as its creator just made it,
    with `sub` opened before that (nothing can have been missed): not read
    again."""
    if sub is None:
        async with ThreadSubscription(thread_id, lifecycle_only=True) as own:
            return await wait_for_run(thread_id, run_id, own)
    run = created if created is not None and sub.channel is not None else None
    if run is None:
        run = await load_run(thread_id, run_id)
    while not is_final(run):
        message = await sub.receive(timeout=RECHECK_SECONDS)
        if message is None:
            run = await load_run(thread_id, run_id)
            continue
        status = protocol.lifecycle_status(message, run_id)
        if status is None or status in STILL_GOING:
            continue  # created, started, interrupting, requeued: not over
        run = ended_run(message, run_id) or await load_run(thread_id, run_id)
    return run
