"""The in-memory channel layer of the embedded mode, made cheap per message.

Channels' `InMemoryChannelLayer` runs `_clean_expired()`, a walk over every
channel and every group membership of the process, on each `receive()` and
each `group_send()`: with 200 chats streaming that is a walk over hundreds of
entries per token, 18% of the event loop's time in py-spy profiles of
bench/streaming.py. It also starts a task per recipient for each group send.

This subclass cleans at most once per `clean_interval` seconds (expiry is
60 s by default; a second late is of no consequence) and delivers a group
message to its recipients directly (`send` never waits: it puts the message
on an in-memory queue, or raises ChannelFull, which a group send ignores, as
Channels' does). Everything else is Channels' layer.

Each recipient gets its own copy of a message, as with Channels' layer (a
receiver may not change what another receives), but made by pickling, once
per send or group send, and unpickling per recipient: Channels'
`deepcopy` per recipient was 9% of the embedded server's GIL time at 50
threads of back-to-back runs (each `values` part carries the conversation),
and a pickle round trip of such a message costs a seventh of it. Messages
are what the Redis layers can carry (msgpack: dicts, lists, strings,
numbers), so pickling never meets what it cannot copy.
"""

import asyncio
import pickle
import time

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    def __init__(self, *args, clean_interval: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.clean_interval = clean_interval
        self._next_clean = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now < self._next_clean:
            return
        self._next_clean = now + self.clean_interval
        super()._clean_expired()

    async def flush(self):
        await super().flush()
        self._next_clean = 0.0

    async def send(self, channel, message):
        # Channels' send, with the copy made by pickle (see above).
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        assert "__asgi_channel__" not in message
        self._put(channel, pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def _put(self, channel: str, pickled: bytes) -> None:
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        try:
            queue.put_nowait((time.time() + self.expiry, pickle.loads(pickled)))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    def has_members(self, group: str) -> bool:
        """Whether anyone is in `group` (a membership that expired but was
        not cleaned yet counts: a message to it is dropped on delivery)."""
        return bool(self.groups.get(group))

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = list(self.groups.get(group, ()))
        if not members:
            return  # a part nobody watches (a run whose caller only waits): no copy
        pickled = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        for channel in members:
            self.require_valid_channel_name(channel)
            try:
                self._put(channel, pickled)
            except ChannelFull:
                pass
