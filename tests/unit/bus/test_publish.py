"""Sending bus messages through a layer that queues them without waiting (our
Redis Pub/Sub layer): several messages in a row go out together, in order, and
a run's parts do not wait for their round trip. A layer that cannot queue is
sent to one message after the other, as before."""

import asyncio

import pytest

from runs.bus import protocol
from runs.bus import publish as bus


class QueueingLayer:
    """A layer with `group_send_nowait`: records what was queued, in order;
    each message is published when the test says (`release`)."""

    def __init__(self):
        self.queued: list[tuple[str, dict, asyncio.Future]] = []
        self.sent: list[tuple[str, dict]] = []  # through the awaited group_send
        self.fail_next = 0

    def group_send_nowait(self, group, message):
        future = asyncio.get_running_loop().create_future()
        self.queued.append((group, message, future))
        return future

    async def group_send(self, group, message):
        self.sent.append((group, message))

    def backlog(self) -> int:
        return sum(not future.done() for *_, future in self.queued)

    def release(self, error: Exception | None = None) -> None:
        for *_, future in self.queued:
            if not future.done():
                future.set_exception(error) if error else future.set_result(None)


class AwaitedLayer:
    """A layer without it (channels_redis's list-based one): each send awaited."""

    def __init__(self):
        self.events: list[str] = []

    async def group_send(self, group, message):
        self.events.append(f"start {message['n']}")
        await asyncio.sleep(0)
        self.events.append(f"end {message['n']}")


@pytest.fixture
def layer(monkeypatch):
    def use(layer):
        monkeypatch.setattr(bus, "get_channel_layer", lambda: layer)
        return layer

    return use


def part(n: int) -> dict:
    return protocol.part_event("t1", "r1", mode="messages", ns=(), data=[n], seq=n)


async def test_several_messages_are_queued_together_in_order_before_any_is_awaited(layer):
    fake = layer(QueueingLayer())
    messages = [(f"g{n}", {"type": "m", "n": n}) for n in range(4)]
    sending = asyncio.ensure_future(bus.send_all(messages))
    await asyncio.sleep(0)
    assert [(group, message) for group, message, _ in fake.queued] == messages
    assert not sending.done()  # waits for them to be published
    fake.release()
    await sending
    assert fake.sent == []


async def test_a_message_whose_pipeline_failed_is_sent_again_on_its_own(layer):
    fake = layer(QueueingLayer())
    sending = asyncio.ensure_future(bus.send_all([("g1", {"n": 1}), ("g2", {"n": 2})]))
    await asyncio.sleep(0)
    fake.release(ConnectionError("Redis restarted"))
    await sending
    assert fake.sent == [("g1", {"n": 1}), ("g2", {"n": 2})]


async def test_a_lifecycle_event_goes_to_its_two_groups_in_one_queueing(layer):
    fake = layer(QueueingLayer())
    event = protocol.lifecycle_event("t1", {"run_id": "r1"}, protocol.Lifecycle.STARTED)
    publishing = asyncio.ensure_future(bus.publish(event))
    await asyncio.sleep(0)
    assert [group for group, *_ in fake.queued] == [
        protocol.thread_group("t1"),
        protocol.thread_lifecycle_group("t1"),
    ]
    fake.release()
    await publishing


async def test_a_runs_parts_do_not_wait_for_their_round_trip(layer):
    fake = layer(QueueingLayer())
    for n in range(3):
        await bus.publish_soon(part(n))  # returns with nothing published yet
    assert [message["data"]["seq"] for _, message, _ in fake.queued] == [0, 1, 2]
    assert fake.backlog() == 3
    fake.release()
    await asyncio.sleep(0)
    assert fake.sent == []


async def test_a_part_whose_pipeline_failed_is_sent_again(layer):
    fake = layer(QueueingLayer())
    await bus.publish_soon(part(1))
    fake.release(ConnectionError("Redis restarted"))
    for _ in range(3):
        await asyncio.sleep(0)
    assert [message["data"]["seq"] for _, message in fake.sent] == [1]


async def test_parts_wait_for_the_layer_when_its_backlog_is_full(layer, monkeypatch):
    """Only while Redis does not answer: the run slows down to what gets through."""
    fake = layer(QueueingLayer())
    monkeypatch.setattr(bus, "MAX_BACKLOG", 2)
    for n in range(2):
        await bus.publish_soon(part(n))
    publishing = asyncio.ensure_future(bus.publish_soon(part(2)))
    await asyncio.sleep(0)
    assert not publishing.done()
    fake.release()
    await publishing


async def test_a_layer_that_cannot_queue_is_sent_to_one_message_after_the_other(layer):
    fake = layer(AwaitedLayer())
    await bus.send_all([("g", {"n": 1}), ("g", {"n": 2})])
    assert fake.events == ["start 1", "end 1", "start 2", "end 2"]


async def test_messages_queued_from_sync_code_go_out_together(layer):
    """A double-text's announcements and stop signal, queued by send_sync
    from the request's thread to the loop (`_post`): one queueing, in order,
    each no longer waiting for the one before it to be published."""
    fake = layer(QueueingLayer())
    for n in range(3):
        bus._post("g", {"n": n})
    await asyncio.sleep(0)
    assert [message["n"] for _, message, _ in fake.queued] == [0, 1, 2]
    fake.release()
    await asyncio.sleep(0)
