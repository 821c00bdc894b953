"""Embedded mode: the run executor inside the server process.

Daphne has no ASGI lifespan events, so there the executor starts on the
server's event loop with the first connection (`EmbeddedExecutorMiddleware`)
and keeps running until the process ends. Servers that send lifespan events
(uvicorn) start it at startup and stop it gracefully at shutdown, as
`runworker_runs` does on SIGTERM.
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


async def shutdown() -> None:
    """Stop the embedded executor: the runs in flight get
    RUNS_SHUTDOWN_GRACE_SECONDS to finish, the rest are released at once."""
    global _executor
    executor, _executor = _executor, None
    if executor is not None:
        await executor.shutdown()


class EmbeddedExecutorMiddleware:
    """ASGI middleware that makes sure the embedded executor runs, and answers
    the lifespan protocol (which nothing behind it speaks)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] in ("http", "websocket"):
            await ensure_started()
        return await self.app(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await ensure_started()
                except Exception as error:
                    logger.exception("the embedded executor did not start")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await shutdown()
                except Exception:
                    logger.exception("stopping the embedded executor failed")
                await send({"type": "lifespan.shutdown.complete"})
                return
