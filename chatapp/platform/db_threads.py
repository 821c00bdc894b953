"""Database calls from async code, on threads that keep their connection.

`channels.db.database_sync_to_async` (what the executor used to call) runs
every call on one thread shared by the whole process (it is thread-sensitive)
and closes the connection before and after each call: with CONN_MAX_AGE = 0,
as Django recommends under ASGI, that is a new database connection per call.
A run is about seven such calls (claim, a checkpoint per step, finish, the
hand-over), so a run paid seven connection set-ups, measured at ~0.7 ms on
SQLite and ~3.5 ms on PostgreSQL each, and every run of the process queued for
that one thread behind websocket consumers and SSE streams.

`DatabaseThreads` is a small set of threads of our own: a call runs on one of
them, and the connection of that thread stays open for the next call. After
each call it is checked like `close_old_connections` would (a connection left
in a broken state, outside autocommit or unusable after an error, is closed and
reopened by the next call), but a healthy one is kept. The service functions
called here are self-contained transactions, so which thread runs them does
not matter.

On SQLite the executor uses one thread: writers serialise on the database
lock anyway, and two writing threads of one process would make each other wait
in SQLite's busy handler, which sleeps 1, 2, 5, 10... ms between tries.
"""

import asyncio
import contextvars
import functools
import itertools
import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, connections

logger = logging.getLogger(__name__)


def default_threads() -> int:
    """RUNS_DB_THREADS, or 1 on SQLite and 4 on a server database."""
    configured = getattr(settings, "RUNS_DB_THREADS", 0)
    if configured:
        return configured
    return 1 if connection.vendor == "sqlite" else 4


def keep_or_close_connections() -> None:
    """After a call: close this thread's connections that are unusable, keep
    the healthy ones open (unlike close_old_connections with CONN_MAX_AGE 0)."""
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        try:
            if conn.in_atomic_block or conn.get_autocommit() != conn.settings_dict["AUTOCOMMIT"]:
                conn.close()  # a transaction left open: never reuse it
            elif conn.errors_occurred:
                if conn.is_usable():
                    conn.errors_occurred = False
                else:
                    conn.close()
        except Exception:
            logger.exception("closing a broken database connection failed")


def _call(func, args, kwargs):
    try:
        return func(*args, **kwargs)
    finally:
        keep_or_close_connections()


def _close_all() -> None:
    for conn in connections.all(initialized_only=True):
        conn.close()


class DatabaseThreads:
    """`await threads.run(func, *args)`: func(*args) on one of `size` threads,
    each keeping its database connection between calls."""

    def __init__(self, size: int | None = None, name: str = "runs-db"):
        self.size = size or default_threads()
        self._pools = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-{i}")
            for i in range(self.size)
        ]
        self._next = itertools.cycle(range(self.size))
        self.closed = False

    async def run(self, func, /, *args, **kwargs):
        if self.closed:
            raise RuntimeError("DatabaseThreads is closed")
        pool = self._pools[next(self._next)]
        call = functools.partial(contextvars.copy_context().run, _call, func, args, kwargs)
        return await asyncio.get_running_loop().run_in_executor(pool, call)

    async def close(self, timeout: float = 2.0) -> None:
        """Close the threads' connections (after the calls in flight, waiting
        at most `timeout` seconds for them) and stop the threads."""
        if self.closed:
            return
        self.closed = True
        loop = asyncio.get_running_loop()
        closing = [loop.run_in_executor(pool, _close_all) for pool in self._pools]
        done, _ = await asyncio.wait(closing, timeout=timeout)
        for future in done:
            if future.exception() is not None:
                logger.warning("closing database connections failed: %r", future.exception())
        for pool in self._pools:
            pool.shutdown(wait=False)

    def close_now(self, timeout: float = 5.0) -> None:
        """`close` from sync code (no loop to wait on): blocks until each
        thread has closed its connection."""
        if self.closed:
            return
        self.closed = True
        for pool in self._pools:
            pool.submit(_close_all).result(timeout=timeout)
            pool.shutdown(wait=False)


# The API's short reads at the end of a wait, a join or a stream (the run, the
# thread's values): `database_sync_to_async` ran each on the request's own
# sync thread, which Django's ASGI handler makes per request
# (ThreadSensitiveContext), so every `runs.wait` started a thread and opened a
# database connection for one query: ~10% of the embedded server's CPU at 50
# concurrent waits (py-spy). These threads keep theirs.
_reads: DatabaseThreads | None = None


def reads() -> DatabaseThreads:
    """The process's thread for the API's short reads (created on first use).
    One: the reads are single index probes."""
    global _reads
    if _reads is None or _reads.closed:
        _reads = DatabaseThreads(size=1, name="api-reads-db")
    return _reads


def _pooled() -> bool:
    return "pool" in (connection.settings_dict.get("OPTIONS") or {})


def _read(func, args, kwargs):
    try:
        return func(*args, **kwargs)
    finally:
        if _pooled():
            # From a pool (PostgreSQL), a connection is borrowed cheaply: give
            # it back rather than hold a slot the request threads size for.
            connection.close()


def on_read_threads(func):
    """`await func(...)` on the process's read thread (`reads()`): for short,
    read-only service calls from async code."""

    @functools.wraps(func)
    async def call(*args, **kwargs):
        return await reads().run(_read, func, args, kwargs)

    return call


def close_reads() -> None:
    """Close the read threads' connections and stop them (tests: before the
    test database is dropped)."""
    global _reads
    if _reads is None:
        return
    threads, _reads = _reads, None
    threads.close_now()
