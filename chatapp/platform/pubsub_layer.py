"""channels_redis's Pub/Sub channel layer, publishing a loop tick's messages
in one Redis round trip.

`RedisPubSubChannelLayer` publishes each message with its own PUBLISH, one
after the other behind a per-connection lock: a worker streaming 100 chats
publishes 2000 tokens a second, each waiting for the round trip of the one
before it (the queue behind that lock was most of the token latency in
bench/streaming.py), and each paying redis-py's per-command overhead.

This subclass queues what `send` and `group_send` publish and sends
everything queued during a loop tick as one pipeline (PUBLISH commands,
no MULTI), in the order it was queued; each caller still returns once its
message is published, or raises what the pipeline raised. `send_nowait` and
`group_send_nowait` queue a message the same way and return its future
instead of waiting: a caller with several messages in a row (a run's parts,
a double-text's announcements) sends them in one round trip, in order,
rather than one round trip each.

Its shards' receive loop reads without a timeout and, with nothing
subscribed, waits for the next subscription instead of looking every 0.1 s
(`Shard`). Everything else (subscribing, dispatching what is received) is
channels_redis's. It relies on the loop layer's `_get_shard`,
`_get_group_channel_name` and `channel_layer`, and on the shard's
`_ensure_redis` / `_redis`, `subscribe(channel)` and its receive task
running `_do_receiving` (tests/unit/platform/test_hooks.py).
"""

import asyncio
import collections
import contextlib
import logging

from channels_redis.pubsub import RedisPubSubChannelLayer as UpstreamLayer
from channels_redis.pubsub import RedisPubSubLoopLayer as UpstreamLoopLayer
from channels_redis.pubsub import RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts

logger = logging.getLogger(__name__)


# How long the receive loop sleeps, with nothing subscribed, before it looks
# again if no subscription wakes it (a safety net: each subscribe does).
IDLE_SECONDS = 0.1


class Shard(RedisSingleShardConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._subscribed = asyncio.Event()

    async def subscribe(self, channel):
        await super().subscribe(channel)
        self._subscribed.set()

    async def _do_receiving(self):
        """Upstream's loop, reading without a timeout (upstream reads with a
        0.1 s one, an asyncio timeout set up and torn down per message), and
        woken by a subscription when it has nothing subscribed: upstream then
        sleeps 0.1 s between looks, so a process whose only subscription is a
        `wait` (subscribed, then unsubscribed at the run's end) heard each
        run's end up to 0.1 s late (production `runs.wait` of a one-step run,
        one at a time: 101 ms each, against 19 ms embedded)."""
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=None
                    )
                    self._receive_message(message)
                else:
                    # No await since the look: a subscribe that ends after it
                    # sets the event again.
                    self._subscribed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._subscribed.wait(), IDLE_SECONDS)
            except (TimeoutError, asyncio.CancelledError, GeneratorExit):
                raise
            except BaseException:
                logger.exception("Unexpected exception in receive task")
                await asyncio.sleep(1)


class RedisPubSubLoopLayer(UpstreamLoopLayer):
    def __init__(self, hosts=None, *args, **kwargs):
        super().__init__(hosts, *args, **kwargs)
        self._shards = [Shard(host, self) for host in decode_hosts(hosts)]
        self._outbox: collections.deque = collections.deque()
        self._flusher: asyncio.Task | None = None

    async def send(self, channel, message):
        await self.send_nowait(channel, message)

    async def group_send(self, group, message):
        await self.group_send_nowait(group, message)

    def send_nowait(self, channel, message) -> asyncio.Future:
        """Queue `message` for `channel` behind what is queued; its future is
        done once it is published (or holds the pipeline's error)."""
        return self._queue(channel, self.channel_layer.serialize(message))

    def group_send_nowait(self, group, message) -> asyncio.Future:
        return self._queue(
            self._get_group_channel_name(group), self.channel_layer.serialize(message)
        )

    def backlog(self) -> int:
        """Messages queued and not yet taken by a pipeline: it grows while
        Redis does not answer, and a caller that does not wait should then."""
        return len(self._outbox)

    async def discard_channel(self, channel: str) -> None:
        """Forget a channel of new_channel(): upstream does only when a receive
        on it is cancelled, so a subscription that never received (a request
        that subscribed, then did not wait) stayed subscribed for good."""
        if self.channels.pop(channel, None) is not None:
            await self._get_shard(channel).unsubscribe(channel)

    def _queue(self, name: str, data: bytes) -> asyncio.Future:
        published = asyncio.get_running_loop().create_future()
        self._outbox.append((name, data, published))
        if self._flusher is None or self._flusher.done():
            # Runs after the callbacks ready now: everything they publish joins.
            self._flusher = asyncio.create_task(self._flush(), name="pubsub-layer-flush")
        # A caller cancelled while awaiting it cancels `published`, not its
        # message: it is on its way (the flush skips futures already done).
        return published

    async def _flush(self) -> None:
        while self._outbox:
            batch = list(self._outbox)
            self._outbox.clear()
            by_shard: dict = {}
            for item in batch:
                by_shard.setdefault(self._get_shard(item[0]), []).append(item)
            for shard, items in by_shard.items():
                try:
                    shard._ensure_redis()
                    pipeline = shard._redis.pipeline(transaction=False)
                    for name, data, _ in items:
                        pipeline.publish(name, data)
                    await pipeline.execute()
                except asyncio.CancelledError:
                    for *_, published in items:
                        published.cancel()
                    raise
                except Exception as error:  # each caller decides (runs.bus retries once)
                    for *_, published in items:
                        if not published.done():
                            published.set_exception(error)
                else:
                    for *_, published in items:
                        if not published.done():
                            published.set_result(None)


class RedisPubSubChannelLayer(UpstreamLayer):
    def _get_layer(self):
        # Upstream's, with our loop layer.
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]
        except KeyError:
            layer = RedisPubSubLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
