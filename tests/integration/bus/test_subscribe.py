"""runs/bus/subscribe.py: waiting for a run and subscribing to its thread survive a
channel layer that fails under them (Redis restarting)."""

import asyncio

import pytest
from channels.layers import get_channel_layer

from runs.bus import protocol
from runs.bus.subscribe import ThreadSubscription, wait_for_run
from runs.models import Run, RunStatus
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from runs.worker import graph_run
from tests.conftest import FAST, orm

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def failing_receive(monkeypatch):
    """The layer's next receive() runs `before` (if given), forgets every
    group as a restarted Redis does, then fails as redis-py does."""
    layer = get_channel_layer()
    original = layer.receive
    state = {"before": None, "failures": 1}

    async def receive(channel):
        if state["failures"]:
            state["failures"] -= 1
            if state["before"]:
                await state["before"]()
            await layer.flush()
            raise ConnectionError("Connection closed by server.")
        return await original(channel)

    monkeypatch.setattr(layer, "receive", receive)
    return state


async def test_a_failed_receive_is_no_message_and_subscribes_again(thread, failing_receive):
    async with ThreadSubscription(thread.pk) as sub:
        assert await sub.receive(timeout=5) is None
        run = {"run_id": "r1", "thread_id": str(thread.pk)}
        message = protocol.lifecycle_event(thread.pk, run, protocol.Lifecycle.SUCCESS)
        await get_channel_layer().group_send(protocol.thread_group(thread.pk), message)
        assert (await sub.receive(timeout=5))["run_id"] == "r1"


async def test_waiting_for_a_run_reads_the_database_when_the_layer_fails(thread, failing_receive):
    run = await orm(run_service.create_run)(thread.pk, input={"messages": ["hi"]}, actor=SYSTEM)

    async def run_ends_meanwhile():
        await orm(Run.objects.filter(pk=run.pk).update)(status=RunStatus.SUCCESS)

    failing_receive["before"] = run_ends_meanwhile
    ended = await wait_for_run(thread.pk, run.pk)
    assert ended["status"] == RunStatus.SUCCESS


async def test_a_message_sent_right_after_a_receive_timed_out_arrives(thread):
    """The Pub/Sub layer unsubscribes a channel whose receive is cancelled:
    a timed-out receive must not cancel it, or what is published before the
    next receive is lost (an SSE stream's tokens after a quiet moment)."""
    run = {"run_id": "r1", "thread_id": str(thread.pk)}
    message = protocol.lifecycle_event(thread.pk, run, protocol.Lifecycle.SUCCESS)
    async with ThreadSubscription(thread.pk) as sub:
        assert await sub.receive(timeout=0.05) is None
        await get_channel_layer().group_send(protocol.thread_group(thread.pk), message)
        await asyncio.sleep(0.2)  # delivered to this process before we receive again
        assert (await sub.receive(timeout=5))["run_id"] == "r1"


async def test_a_wait_told_its_run_ended_reads_nothing_back(thread, monkeypatch):
    """`runs.wait`: the run it just created (subscribed before) is not read
    back, and the lifecycle message of its end carries it: no read at all."""
    from runs.bus import subscribe
    from runs.services.representation import run_dict

    reads = []
    original = subscribe.load_run

    async def load_run(thread_id, run_id):
        reads.append(run_id)
        return await original(thread_id, run_id)

    monkeypatch.setattr(subscribe, "load_run", load_run)
    async with ThreadSubscription(thread.pk) as sub:
        run = await orm(run_service.create_run)(thread.pk, input={"messages": ["hi"]}, actor=SYSTEM)
        await orm(Run.objects.filter(pk=run.pk).update)(status=RunStatus.SUCCESS)
        ended = run_dict(await orm(Run.objects.get)(pk=run.pk))
        message = protocol.lifecycle_event(thread.pk, ended, protocol.Lifecycle.SUCCESS)
        await get_channel_layer().group_send(protocol.thread_group(thread.pk), message)
        result = await wait_for_run(thread.pk, run.pk, sub, created={"status": run.status})
    assert result["status"] == RunStatus.SUCCESS and result["run_id"] == str(run.pk)
    assert reads == []


async def test_a_rolled_back_run_is_read_back_not_taken_from_the_message(thread):
    """A rollback's message carries the run as it was (not ended): the wait
    reads the database and finds it gone."""
    async with ThreadSubscription(thread.pk) as sub:
        run = await orm(run_service.create_run)(thread.pk, input={"messages": ["hi"]}, actor=SYSTEM)
        await orm(Run.objects.filter(pk=run.pk).delete)()
        gone = {"run_id": str(run.pk), "thread_id": str(thread.pk), "status": "pending"}
        message = protocol.lifecycle_event(thread.pk, gone, protocol.Lifecycle.ROLLED_BACK)
        await get_channel_layer().group_send(protocol.thread_group(thread.pk), message)
        assert await wait_for_run(thread.pk, run.pk, sub, created={"status": run.status}) is None


async def test_a_lifecycle_subscription_hears_no_part(executor, thread):
    """What waits for a run's end (wait, join) is told its lifecycle, not
    each part it streams (every one a message to receive and drop); a
    stream's subscription hears both."""
    async with (
        ThreadSubscription(thread.pk, lifecycle_only=True) as wait,
        ThreadSubscription(thread.pk) as stream,
    ):
        run = await orm(run_service.create_run)(
            thread.pk, input={"messages": ["hi"]}, config=FAST, actor=SYSTEM
        )

        async def heard(sub):
            kinds = []
            while RunStatus.SUCCESS not in [status for _, status in kinds]:
                message = await sub.receive(timeout=5)
                assert message is not None, kinds
                kinds.append((message.get("kind"), protocol.lifecycle_status(message, run.pk)))
            return kinds

        streamed, waited = await heard(stream), await heard(wait)
        assert any(kind == protocol.EventKind.PART for kind, _ in streamed)
        assert {kind for kind, _ in waited} == {protocol.EventKind.LIFECYCLE}
        lifecycle = [status for kind, status in streamed if kind == protocol.EventKind.LIFECYCLE]
        assert [status for _, status in waited] == lifecycle


async def test_the_parts_of_a_run_no_one_streams_are_not_made(executor, thread, monkeypatch):
    """Its parts go to its thread's group: with no member there (a `wait`
    listens to the lifecycle group) the in-memory layer knows no one would
    hear them, and they are neither converted nor sent; a Redis layer cannot
    tell, and they are sent. Someone streaming the thread gets every one."""
    knows_its_groups = hasattr(get_channel_layer(), "has_members")
    made = []
    part_data = graph_run._part_data

    def counted(active, mode, chunk):
        made.append(mode)
        return part_data(active, mode, chunk)

    monkeypatch.setattr(graph_run, "_part_data", counted)

    async def run_once(sub):
        made.clear()
        run = await orm(run_service.create_run)(
            thread.pk, input={"messages": ["hi"]}, config=FAST, actor=SYSTEM
        )
        assert await wait_for_run(thread.pk, run.pk, sub) is not None
        return list(made)

    async with ThreadSubscription(thread.pk, lifecycle_only=True) as wait:
        unheard = await run_once(wait)
    if knows_its_groups:
        assert unheard == []
    else:
        assert "messages" in unheard and "values" in unheard
    async with ThreadSubscription(thread.pk) as stream:
        streamed = await run_once(stream)
    assert "messages" in streamed and "values" in streamed
