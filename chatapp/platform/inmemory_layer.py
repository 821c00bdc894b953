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
"""

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

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass
