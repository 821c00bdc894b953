"""Fixtures of the checkpointer tests: a saver whose async calls run on a
thread of the test's own, whose database connection is closed at the end (so
that no connection outlives the test database)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from checkpoints.saver import DjangoCheckpointSaver


class OwnThread:
    """A `run_sync` on one thread of its own (as the server's database threads)."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoints-test")

    async def __call__(self, func, /, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: func(*args, **kwargs))

    def close(self):
        self.pool.submit(connections.close_all).result()
        self.pool.shutdown()


@pytest.fixture
def run_sync(transactional_db):
    runner = OwnThread()
    yield runner
    runner.close()


@pytest.fixture
def saver(run_sync):
    """A saver for async tests (its sync methods run on `run_sync`'s thread)."""
    return DjangoCheckpointSaver(run_sync=run_sync)
