"""The Redis channel layers as configured in settings: the Pub/Sub one (the
default) and the list-based one (REDIS_CHANNEL_LAYER=core)."""

import asyncio

import pytest
from channels.layers import channel_layers, get_channel_layer

from chatapp.platform.pubsub_layer import RedisPubSubChannelLayer
from runs.bus.subscribe import ThreadSubscription
from tests.acceptance.production.conftest import require_services


@pytest.fixture
def core_layer(settings):
    """The list-based layer, as REDIS_CHANNEL_LAYER=core configures it."""
    require_services()
    settings.CHANNEL_LAYERS = {"default": settings.REDIS_CHANNEL_LAYERS["core"]}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


def test_the_pubsub_layer_is_the_default():
    require_services()
    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)


def count_pipelines(monkeypatch, layer, group: str) -> list:
    """The pipelines the layer publishes to `group` through, one item each."""
    loop_layer = layer._get_layer()
    shard = loop_layer._get_shard(loop_layer._get_group_channel_name(group))
    shard._ensure_redis()
    pipelines = []
    make_pipeline = shard._redis.pipeline

    def pipeline(**kwargs):
        pipelines.append(1)
        return make_pipeline(**kwargs)

    monkeypatch.setattr(shard._redis, "pipeline", pipeline)
    return pipelines


@pytest.mark.django_db
async def test_a_ticks_group_sends_go_in_one_round_trip_in_order(monkeypatch):
    require_services()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("tick", channel)
    pipelines = count_pipelines(monkeypatch, layer, "tick")
    await asyncio.gather(*(layer.group_send("tick", {"type": "t", "n": n}) for n in range(20)))
    assert len(pipelines) == 1
    received = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(20)]
    assert received == list(range(20))
    await layer.group_discard("tick", channel)


@pytest.mark.django_db
async def test_a_closed_subscription_leaves_no_channel_subscribed(thread):
    require_services()
    layer = get_channel_layer()
    async with ThreadSubscription(thread.pk) as sub:
        channel = sub.channel
        assert channel in layer._get_layer().channels
    assert channel not in layer._get_layer().channels
    assert channel not in layer._get_layer()._get_shard(channel)._subscribed_to


@pytest.mark.django_db
async def test_an_idle_receive_waits_quietly_past_the_blocking_pop(core_layer):
    """channels_redis blocks 5 s per pop; with redis-py 8's default 5 s socket
    timeout every idle receive() failed instead of waiting on."""
    require_services()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    try:
        await asyncio.wait_for(layer.receive(channel), 7)
    except Exception as error:  # noqa: BLE001
        assert type(error) is TimeoutError, repr(error)  # asyncio's, not redis-py's
    else:
        pytest.fail("received a message on a new channel")


async def contend_for_receive_lock(layer):
    """Take the lock channels_redis holds while it cleans up after a receive,
    and make a second receiver wait on it, as a receive right after another
    does."""
    key = layer.prefix + layer.non_local_name(await layer.new_channel())
    locks = layer.receive_clean_locks
    await locks.acquire(key)
    waiter = asyncio.create_task(locks.acquire(key))
    await asyncio.sleep(0)
    return locks, key, waiter


@pytest.mark.django_db
async def test_a_receive_cancelled_while_waiting_leaves_the_layer_bound_to_this_loop(
    core_layer,
):
    """channels_redis 4.3 keeps the lock of a receive cancelled while waiting
    on it, bound to this test's event loop. The next test must not get this
    layer object (tests/conftest.py `own_channel_layer`)."""
    require_services()
    locks, key, waiter = await contend_for_receive_lock(get_channel_layer())
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    locks.release(key)
    assert key in locks.locks  # kept, though nobody holds or waits for it


@pytest.mark.django_db
async def test_the_next_test_receives_on_a_layer_of_its_own(core_layer):
    """Run right after the test above: with its layer, this wait raised
    "bound to a different event loop" (the executor then missed cancel
    signals: the interrupt and rollback tests failed in CI)."""
    require_services()
    locks, key, waiter = await contend_for_receive_lock(get_channel_layer())
    locks.release(key)
    await asyncio.wait_for(waiter, 1)
    locks.release(key)


@pytest.mark.django_db
async def test_a_runs_parts_go_out_without_waiting_in_order_with_its_end(monkeypatch):
    """runs.bus.publish.publish_soon: each part returns before its round trip,
    the parts and the awaited lifecycle event after them share pipelines, and
    a watcher receives them in order."""
    from runs.bus import protocol
    from runs.bus.publish import publish, publish_soon

    require_services()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    group = protocol.thread_group("t-soon")
    await layer.group_add(group, channel)
    pipelines = count_pipelines(monkeypatch, layer, group)
    for seq in range(10):
        part = protocol.part_event("t-soon", "r1", mode="messages", ns=(), data=[seq], seq=seq)
        await publish_soon(part)
    assert layer.backlog() == 10 and pipelines == []  # nothing waited for Redis
    await publish(protocol.lifecycle_event("t-soon", {"run_id": "r1"}, protocol.Lifecycle.STARTED))
    assert len(pipelines) == 1
    received = [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(11)]
    assert [m["data"].get("seq") for m in received[:10]] == list(range(10))
    assert received[10]["kind"] == protocol.EventKind.LIFECYCLE
    await layer.group_discard(group, channel)


@pytest.mark.django_db
async def test_a_subscription_wakes_a_receive_loop_that_had_nothing_subscribed(monkeypatch):
    """A process whose only subscription is a `wait` subscribes, hears the
    run's end and unsubscribes, run after run: its receive loop, idle in
    between, used to look again only every 0.1 s (here: a minute), so each
    run's end was heard that late. With the loop's idle wait a minute long,
    the message comes at once only if the subscription woke it."""
    from chatapp.platform import pubsub_layer

    require_services()
    monkeypatch.setattr(pubsub_layer, "IDLE_SECONDS", 60)
    layer = get_channel_layer()
    first = await layer.new_channel()  # starts the shard's receive loop
    shard = layer._get_layer()._get_shard(first)
    await layer.discard_channel(first)
    for _ in range(500):
        if not shard._pubsub.subscribed:
            break
        await asyncio.sleep(0.01)
    assert not shard._pubsub.subscribed
    await asyncio.sleep(0.05)  # the loop waits, idle
    channel = await layer.new_channel()
    await layer.group_add("woken", channel)
    await layer.group_send("woken", {"type": "run.end"})
    assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "run.end"
    await layer.group_discard("woken", channel)
