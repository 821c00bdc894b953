"""The Redis channel layer as configured in settings."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from tests.acceptance.production.conftest import require_services


@pytest.mark.django_db
async def test_an_idle_receive_waits_quietly_past_the_blocking_pop():
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
async def test_a_receive_cancelled_while_waiting_leaves_the_layer_bound_to_this_loop():
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
async def test_the_next_test_receives_on_a_layer_of_its_own():
    """Run right after the test above: with its layer, this wait raised
    "bound to a different event loop" (the executor then missed cancel
    signals: the interrupt and rollback tests failed in CI)."""
    require_services()
    locks, key, waiter = await contend_for_receive_lock(get_channel_layer())
    locks.release(key)
    await asyncio.wait_for(waiter, 1)
    locks.release(key)
