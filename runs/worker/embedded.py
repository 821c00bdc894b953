"""Embedded mode: the run executor inside the server process.

Daphne has no ASGI lifespan events, so the executor starts on the server's
event loop with the first connection (`EmbeddedExecutorMiddleware`), and
keeps running until the process ends.
"""

import asyncio
import logging

from django.conf import settings

from runs.worker.executor import Executor

logger = logging.getLogger(__name__)

_executor: Executor | None = None
_loop: asyncio.AbstractEventLoop | None = None


async def ensure_started() -> Executor | None:
    """Start the embedded executor on the running loop, once."""
    global _executor, _loop
    if not settings.RUNS_EMBEDDED_WORKER:
        return None
    loop = asyncio.get_running_loop()
    if _executor is None or _loop is not loop or _loop.is_closed():
        _executor, _loop = Executor(), loop
        await _executor.start()
    return _executor


class EmbeddedExecutorMiddleware:
    """ASGI middleware that makes sure the embedded executor runs."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            await ensure_started()
        return await self.app(scope, receive, send)
