"""Fixtures of the store tests: two users, a store for each, and a `run_sync`
on a thread of the test's own whose connection is closed at the end (so that
no connection outlives the test database)."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections

from store.backend import DjangoStore
from tests.conftest import make_user


class OwnThread:
    """A `run_sync` on one thread of its own (as the server's database threads)."""

    def __init__(self):
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-test")
        self.calls = 0

    async def __call__(self, func, /, *args, **kwargs):
        self.calls += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, lambda: func(*args, **kwargs))

    def close(self):
        self.pool.submit(connections.close_all).result()
        self.pool.shutdown()


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def store(alice):
    """Alice's store, for sync tests."""
    return DjangoStore(alice.pk)


@pytest.fixture
def run_sync(transactional_db):
    runner = OwnThread()
    yield runner
    runner.close()
