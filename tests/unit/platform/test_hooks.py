"""The third-party hooks chatapp/platform/ relies on are still there and still
behave as the patches assume. Each test names the patch it protects: when one
fails after an upgrade, that patch needs another look (or can go)."""

import asyncio
import inspect

import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.db import connection, connections


async def test_asgiref_records_the_calling_loop_per_sync_thread():
    """chatapp.platform.asgiref_loop reads SyncToAsync.threadlocal."""
    from chatapp.platform.asgiref_loop import caller_loop

    loop = asyncio.get_running_loop()

    def recorded():
        return SyncToAsync.threadlocal.main_event_loop, caller_loop()

    assert await sync_to_async(recorded)() == (loop, loop)
    assert caller_loop() is None  # on the loop's own thread: not ours to queue to


async def test_asgiref_runs_async_to_sync_on_the_loop_recorded_for_the_thread():
    """chatapp.platform.asgiref_loop.called_from writes SyncToAsync.threadlocal
    for threads asgiref did not start (the one-hop handler's request threads):
    async_to_sync there must still run on that loop, where the channel layer is."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import async_to_sync

    from chatapp.platform.asgiref_loop import called_from, caller_loop

    loop = asyncio.get_running_loop()

    async def running_loop():
        return asyncio.get_running_loop()

    def in_thread():
        return caller_loop(), async_to_sync(running_loop)()

    with ThreadPoolExecutor(1) as threads:
        assert await loop.run_in_executor(threads, called_from, loop, in_thread) == (loop, loop)
        # Without the record, async_to_sync makes a loop of its own.
        _, own = await loop.run_in_executor(threads, lambda: called_from(None, in_thread))
        assert own is not loop


async def test_channels_cleans_connections_before_every_handler(monkeypatch):
    """chatapp.platform.channels_dispatch skips channels.consumer's
    aclose_old_connections() for the message types it lists; the patch is
    worth something only while Channels calls it in dispatch."""
    import channels.consumer
    from channels.consumer import AsyncConsumer

    from chatapp.platform.channels_dispatch import DirectDispatchMixin

    calls = []

    async def counted():
        calls.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    handled = []

    class Consumer(DirectDispatchMixin, AsyncConsumer):
        direct_dispatch = frozenset({"fast.event"})

        async def fast_event(self, message):
            handled.append(message["type"])

        async def slow_event(self, message):
            handled.append(message["type"])

    consumer = Consumer()
    await consumer.dispatch({"type": "slow.event"})
    assert calls == [1], "Channels no longer cleans connections in dispatch"
    await consumer.dispatch({"type": "fast.event"})
    assert calls == [1] and handled == ["slow.event", "fast.event"]


async def test_channels_in_memory_layer_walks_every_channel_per_message(monkeypatch):
    """chatapp.platform.inmemory_layer throttles InMemoryChannelLayer._clean_expired
    and reads its `groups`."""
    from channels.layers import InMemoryChannelLayer

    walks = []
    monkeypatch.setattr(InMemoryChannelLayer, "_clean_expired", lambda self: walks.append(1))
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    assert channel in layer.groups["g"]
    await layer.group_send("g", {"type": "x"})
    assert walks, "InMemoryChannelLayer.group_send no longer calls _clean_expired"
    assert (await layer.receive(channel))["type"] == "x"


async def test_channels_in_memory_layer_queues_what_its_receive_reads():
    """chatapp.platform.inmemory_layer puts (expiry, message) on the layer's
    `channels` queues itself, as Channels' send does: its receive, group
    membership, capacity and expiry must still read them."""
    from channels.exceptions import ChannelFull

    from chatapp.platform.inmemory_layer import InMemoryChannelLayer

    layer = InMemoryChannelLayer(capacity=2)
    one, two = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", one)
    await layer.group_add("g", two)
    sent = {"type": "x", "data": {"messages": [{"content": "hi"}]}}
    await layer.group_send("g", sent)
    await layer.send(one, {"type": "y"})
    with pytest.raises(ChannelFull):
        await layer.send(one, {"type": "z"})
    first, second = await layer.receive(one), await layer.receive(two)
    assert first == second == sent
    # Each recipient has its own copy, as with Channels' deepcopy.
    first["data"]["messages"][0]["content"] = "changed"
    assert second["data"]["messages"][0]["content"] == "hi"
    assert sent["data"]["messages"][0]["content"] == "hi"
    assert (await layer.receive(one))["type"] == "y"
    layer.expiry = -1
    await layer.send(two, {"type": "expired"})
    layer._next_clean = 0.0
    layer._clean_expired()
    assert layer.channels.get(two) is None or layer.channels[two].empty()


def test_sqlite_cursors_convert_placeholders_as_djangos():
    """chatapp.platform.sqlite3 keeps each statement's "%s" -> "?" conversion:
    its cursor is the one create_cursor makes, and converts as Django's."""
    import inspect

    from django.db.backends.sqlite3 import base

    from chatapp.platform.sqlite3.base import CursorWrapper

    assert "factory=SQLiteCursorWrapper" in inspect.getsource(base.DatabaseWrapper.create_cursor)
    django_cursor = base.SQLiteCursorWrapper.convert_query
    for query in ["SELECT %s, '%%s' FROM t WHERE a = %s", "SELECT 1", "x = %s AND y LIKE '%%'"]:
        assert CursorWrapper.convert_query(None, query) == django_cursor(None, query)
    named = "SELECT %(a)s"
    assert CursorWrapper.convert_query(None, named, param_names=["a"]) == django_cursor(
        None, named, param_names=["a"]
    )


@pytest.mark.django_db
def test_the_sqlite_backend_uses_its_cursor():
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backend only")
    from chatapp.platform.sqlite3.base import CursorWrapper

    with connection.cursor() as cursor:
        assert isinstance(cursor.cursor, CursorWrapper)
        cursor.execute("SELECT %s || '%%'", ["a"])
        assert cursor.fetchone() == ("a%",)


def test_django_sqlite_backend_has_the_transaction_hooks():
    """chatapp.platform.sqlite3 overrides these to take and release its write lock."""
    from django.db.backends.sqlite3 import base

    from chatapp.platform.sqlite3.base import DatabaseWrapper

    for name in ("_start_transaction_under_autocommit", "_commit", "_rollback", "_close"):
        assert callable(getattr(base.DatabaseWrapper, name, None)), name
        assert name in vars(DatabaseWrapper) or name.startswith("_start"), name


@pytest.mark.django_db(transaction=True)
def test_the_sqlite_write_lock_is_held_exactly_for_a_transaction():
    """Django calls _start_transaction_under_autocommit at BEGIN and _commit /
    _rollback at the end; the lock must follow."""
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite backend only")
    from django.db import transaction

    from chatapp.platform.sqlite3 import base

    assert not base._write_lock.locked()
    with transaction.atomic():
        assert base._write_lock.locked()
    assert not base._write_lock.locked()
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        assert base._write_lock.locked()
        raise ZeroDivisionError
    assert not base._write_lock.locked()


@pytest.mark.django_db
def test_django_connections_expose_what_db_threads_checks():
    """chatapp.platform.db_threads.keep_or_close_connections reads these."""
    connection.ensure_connection()
    assert connection in list(connections.all(initialized_only=True))
    assert isinstance(connection.in_atomic_block, bool)
    assert isinstance(connection.errors_occurred, bool)
    assert connection.get_autocommit() in (True, False)
    assert "AUTOCOMMIT" in connection.settings_dict
    assert connection.is_usable()


def test_django_asgi_handler_has_the_parts_the_one_hop_handler_reuses():
    """chatapp.platform.asgi_handler replaces ASGIHandler.handle and calls these."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.base import BaseHandler

    for name in ("read_body", "listen_for_disconnect", "send_response"):
        assert inspect.iscoroutinefunction(getattr(ASGIHandler, name)), name
    assert "create_request" in ASGIHandler.__dict__
    assert not inspect.iscoroutinefunction(BaseHandler.get_response)
    assert isinstance(ASGIHandler.chunk_size, int)
    handle = inspect.getsource(ASGIHandler.handle)
    assert "listen_for_disconnect" in handle and "request_started" in handle


async def test_channels_redis_pubsub_layer_has_what_the_batching_layer_uses():
    """chatapp.platform.pubsub_layer builds upstream's loop layer in its own
    `_get_layer` and publishes through its shards' redis-py clients."""
    from channels_redis import pubsub

    from chatapp.platform.pubsub_layer import RedisPubSubChannelLayer, RedisPubSubLoopLayer

    get_layer = inspect.getsource(pubsub.RedisPubSubChannelLayer._get_layer)
    assert "RedisPubSubLoopLayer(" in get_layer and "channel_layer=self" in get_layer
    assert "_wrap_close(self, loop)" in get_layer
    layer = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0"])
    loop_layer = layer._get_layer()
    assert isinstance(loop_layer, RedisPubSubLoopLayer)
    assert loop_layer.channel_layer is layer
    assert isinstance(loop_layer.channels, dict)
    assert loop_layer._get_group_channel_name("g").endswith("g")
    shard = loop_layer._get_shard("g")
    assert shard._redis is None
    shard._ensure_redis()  # connects lazily: no Redis needed here
    assert callable(shard._redis.pipeline)
    assert inspect.iscoroutinefunction(shard.unsubscribe)
    # Upstream still publishes one message per round trip (else this patch can go).
    assert "await self._redis.publish(" in inspect.getsource(pubsub.RedisSingleShardConnection)
    # Its receive task runs `_do_receiving`, started by `subscribe(channel)`,
    # which sets our wake-up; upstream still sleeps when nothing is subscribed.
    upstream = pubsub.RedisSingleShardConnection
    assert "self._do_receiving()" in inspect.getsource(upstream._ensure_receiver)
    assert "self._ensure_receiver()" in inspect.getsource(upstream.subscribe)
    assert list(inspect.signature(upstream.subscribe).parameters) == ["self", "channel"]
    assert "await asyncio.sleep(0.1)" in inspect.getsource(upstream._do_receiving)
    await shard.flush()


def test_psycopg_begins_a_pipelined_transaction_as_psycopg_begin_assumes():
    """chatapp.platform.psycopg_begin replaces a connection's `_start_query`
    for a pipeline block (cursors start each statement through it), and
    queues the BEGIN psycopg would send with `_exec_command` (queued, not
    sent, in pipeline mode) and `_get_tx_start_command`. It is worth something
    only while psycopg syncs right after that BEGIN in pipeline mode."""
    from psycopg import BaseConnection
    from psycopg._cursor_base import BaseCursor

    assert "self._conn._start_query()" in inspect.getsource(BaseCursor._start_query)
    starts = inspect.getsource(BaseConnection._start_query)
    assert "self._get_tx_start_command()" in starts and "_sync_gen()" in starts
    assert inspect.isgeneratorfunction(BaseConnection._exec_command)
    assert "command_queue.append" in inspect.getsource(BaseConnection._exec_command)
    assert "__slots__" not in vars(BaseConnection)  # an instance attribute can replace it
