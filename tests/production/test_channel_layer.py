"""The Redis channel layer as configured in settings."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from tests.production.conftest import require_services


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
