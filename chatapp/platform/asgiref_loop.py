"""The event loop that handed the calling sync thread its work, if any.

asgiref's `SyncToAsync` records, per thread it runs sync code in, the event
loop that called it (`SyncToAsync.threadlocal.main_event_loop`, with the
pid). That is private to asgiref; we read it so that sync code (a view, a
service after its commit) can queue a channel-layer message to that loop
and return at once, instead of `async_to_sync`, which blocks the thread (and
the request it serves) for a round trip to the loop per message.

`called_from` writes the same record for a thread we hand work to without
asgiref (chatapp.platform.asgi_handler), so that `caller_loop` and asgiref's
own `async_to_sync` (which sends its coroutine to that loop, where the
channel layer lives) find the loop as if `SyncToAsync` had made the call.
"""

import asyncio
import os

from asgiref.sync import SyncToAsync


def caller_loop() -> asyncio.AbstractEventLoop | None:
    """The running event loop that called this sync thread through asgiref,
    or None (not called through asgiref, the loop is gone, or this is an
    event loop's own thread)."""
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


def called_from(loop: asyncio.AbstractEventLoop, func, *args):
    """func(*args) in this thread, recorded as called from `loop` the way
    `SyncToAsync.thread_handler` records its calls."""
    local = SyncToAsync.threadlocal
    local.main_event_loop = loop
    local.main_event_loop_pid = os.getpid()
    return func(*args)
