"""Shared fixtures: users, a real executor on the test's event loop, run helpers."""

import asyncio
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from chatapp.platform import db_threads
from checkpoints.saver import DjangoCheckpointSaver
from runs.models import Run
from runs.services import persistence, state, threads
from runs.services.actors import SYSTEM
from runs.worker.executor import Executor

# Call sync (ORM) code from async tests; closes the connection after the call.
orm = database_sync_to_async

# Demo agent speeds for runs created in tests (per-run config).
FAST = {"configurable": {"token_delay": 0.01, "reply_words": 12}}
SLOW = {"configurable": {"token_delay": 0.05, "reply_words": 60}}


def in_thread(func):
    """Run a sync function in a worker thread of its own, with its own DB
    connection (closed after the call, as CONN_MAX_AGE is 0)."""
    return database_sync_to_async(func, thread_sensitive=False)


@pytest.fixture(autouse=True)
def close_read_threads():
    """The API's read threads keep their connections: closed after each test
    that used them, before its database goes."""
    yield
    db_threads.close_reads()


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A fresh cache (rate-limit counters) for each test, in this process."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex,
        }
    }


@pytest.fixture(autouse=True)
def no_verified_api_keys():
    """Each test verifies its API keys afresh (a key changed with a queryset
    update, which sends no signal, would otherwise be trusted for seconds)."""
    from runs.services.accounts import forget_verified_api_keys

    forget_verified_api_keys()


@pytest.fixture(autouse=True)
def own_channel_layer():
    """A fresh channel layer object for each test.

    pytest-asyncio gives every test a new event loop, and a channel-layer
    object keeps asyncio locks bound to the loop that first waited on them.
    channels_redis (4.3) keeps such a lock when a receive is cancelled while
    it waits for it, so a later test's receives on the same object failed
    with "bound to a different event loop" and the executor missed its cancel
    signals. A server process runs one loop for its lifetime, so only tests,
    which run many loops in one process, need this."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def make_user(username: str = "owner"):
    user, _ = get_user_model().objects.get_or_create(username=username)
    return user


def make_thread(owner=None, **kwargs):
    """A thread (sync ORM call) owned by `owner`, by default the user "owner"."""
    return threads.create_thread(actor=owner or make_user(), **kwargs)


@pytest.fixture
async def user(transactional_db):
    return await database_sync_to_async(make_user)()


@pytest.fixture
async def executor(transactional_db):
    ex = Executor(worker_id="test-worker")
    await ex.start()
    yield ex
    await ex.stop()


@pytest.fixture
async def thread(user):
    return await database_sync_to_async(make_thread)(user)


async def wait_for(predicate, timeout=10.0, interval=0.01):
    """Poll an async predicate until it returns a truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


def in_database(thread_id):
    """The thread's latest checkpoint as the database holds it (not the decoded
    copy a worker of this process keeps: runs/worker/heads.py)."""
    return DjangoCheckpointSaver().get_tuple(persistence.thread_config(thread_id))


async def get_run(run_id):
    return await database_sync_to_async(Run.objects.filter(pk=run_id).first)()


async def wait_status(run_id, *statuses, timeout=10.0):
    async def check():
        run = await get_run(run_id)
        return run if run is not None and run.status in statuses else None

    return await wait_for(check, timeout)


async def wait_streaming(executor, run_id, min_chars=1, timeout=10.0):
    """Wait until the executor has streamed some of a run's answer."""

    async def check():
        active = executor.active.get(str(run_id))
        partial = active.partial if active is not None else None
        return partial is not None and len(partial.text) >= min_chars

    await wait_for(check, timeout)


async def messages_of(thread_id):
    return await database_sync_to_async(state.thread_messages)(thread_id, actor=SYSTEM)


@pytest.fixture
def live_server_url(transactional_db):
    """Base URL of a real Daphne server (embedded executor) on the test database."""
    from tests.live_server import LiveServer

    server = LiveServer()
    yield server.url
    server.stop()


@pytest.fixture
def owner(db):
    return make_user()


@pytest.fixture
def api(owner):
    """An in-process API client, authenticated as `owner`."""
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.fixture
def thread_id(owner):
    """A thread of `owner`."""
    return str(make_thread(owner).pk)
