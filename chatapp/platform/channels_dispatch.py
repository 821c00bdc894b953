"""A consumer dispatch without Channels' connection clean-up for some events.

Channels' `AsyncConsumer.dispatch` awaits `aclose_old_connections()` (a hop
to the process's one shared sync thread) before every handler: for a chat
that is a hop per streamed token, per connection, all queued on that one
thread (py-spy: the largest item of the event loop after the layer's
clean-up, and the tail of the token latency). Handlers that reach the
database only through `database_sync_to_async` (which cleans up itself) do
not need it: list their message types in `direct_dispatch`.
"""

from channels.consumer import get_handler_name


class DirectDispatchMixin:
    """Calls the handlers of the message types in `direct_dispatch` directly."""

    direct_dispatch: frozenset[str] = frozenset()

    async def dispatch(self, message):
        if message.get("type") in self.direct_dispatch:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)
