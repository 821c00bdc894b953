"""The parts a resumable run streamed, kept for a while so a client can replay them.

A run created with `stream_resumable` has each part its graph streams
appended here by its executor, as well as published; a client that lost its
stream reconnects with `Last-Event-ID` and gets what it missed
(runs/api/sse.py). Parts are kept for settings.RUNS_STREAM_RETENTION_SECONDS
after the run's last one.

- With Redis (REDIS_URL), in a Redis list per run, so that a client can
  reconnect through any server process to a run executed by any worker.
- Without it (the embedded mode: one process serves and executes), in this
  process's memory.

Only resumable runs pay for this: one more Redis command per part.
"""

import asyncio
import json
import time
import weakref
from collections import OrderedDict

from django.conf import settings

KEY_PREFIX = "doubletext:stream:"
# At most this many parts of one run are kept (a run streaming more is
# cut to its latest ones: a replay from the start is then incomplete).
MAX_PARTS = 50_000


class MemoryLog:
    def __init__(self):
        self.runs: OrderedDict[str, tuple[float, list[dict]]] = OrderedDict()

    def _expire(self, now: float) -> None:
        retention = settings.RUNS_STREAM_RETENTION_SECONDS
        while self.runs:
            run_id, (touched, _) = next(iter(self.runs.items()))
            if now - touched < retention:
                break
            del self.runs[run_id]

    async def append(self, run_id: str, part: dict) -> None:
        now = time.monotonic()
        _, parts = self.runs.pop(run_id, (now, []))
        parts.append(part)
        del parts[:-MAX_PARTS]
        self.runs[run_id] = (now, parts)  # most recently touched last
        self._expire(now)

    async def read(self, run_id: str) -> list[dict]:
        self._expire(time.monotonic())
        return list(self.runs.get(run_id, (0, []))[1])


class RedisLog:
    """A list per run; each part JSON-encoded. Clients per event loop: redis-py's
    asyncio connections belong to the loop that made them."""

    def __init__(self, url: str):
        self.url = url
        self.clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _client(self):
        import redis.asyncio as redis

        loop = asyncio.get_running_loop()
        client = self.clients.get(loop)
        if client is None:
            client = self.clients[loop] = redis.Redis.from_url(self.url)
        return client

    async def append(self, run_id: str, part: dict) -> None:
        key = KEY_PREFIX + run_id
        async with self._client().pipeline(transaction=False) as pipe:
            pipe.rpush(key, json.dumps(part))
            pipe.ltrim(key, -MAX_PARTS, -1)
            pipe.expire(key, int(settings.RUNS_STREAM_RETENTION_SECONDS))
            await pipe.execute()

    async def read(self, run_id: str) -> list[dict]:
        raw = await self._client().lrange(KEY_PREFIX + run_id, 0, -1)
        return [json.loads(item) for item in raw]


_memory = MemoryLog()
_redis: RedisLog | None = None


def log() -> MemoryLog | RedisLog:
    global _redis
    if not settings.REDIS_URL:
        return _memory
    if _redis is None or _redis.url != settings.REDIS_URL:
        _redis = RedisLog(settings.REDIS_URL)
    return _redis
