"""The four double-texting strategies, end to end through the service and the
executor running the demo graph at a small delay."""

import asyncio
import time

import pytest

from checkpoints.models import Checkpoint, CheckpointWrite
from runs.bus import protocol
from runs.bus import publish as bus
from runs.models import RolledBackRun, Run, RunStatus, Thread, ThreadStatus
from runs.services import cancellation, persistence
from runs.services import runs as run_service
from runs.services import threads as thread_service
from runs.services.actors import SYSTEM
from runs.services.chat_messages import is_interrupted
from runs.services.errors import (
    AssistantNotFound,
    InvalidRequest,
    RunNotFound,
    ThreadBusy,
    ThreadNotFound,
)
from runs.worker import transactions as queue
from tests.conftest import (
    FAST,
    SLOW,
    get_run,
    make_user,
    messages_of,
    orm,
    wait_for,
    wait_status,
    wait_streaming,
)

pytestmark = pytest.mark.django_db(transaction=True)

SF = {"messages": [{"role": "user", "content": "what's the weather in sf?"}]}
NYC = {"messages": [{"role": "user", "content": "what's the weather in nyc?"}]}


async def create_run(thread_id, **kwargs):
    kwargs.setdefault("actor", SYSTEM)
    return await orm(run_service.create_run)(thread_id, **kwargs)


async def stopped(executor, run_id):
    return str(run_id) not in executor.active


def texts(messages):
    return [(m["type"], m["content"]) for m in messages]


async def test_enqueue_runs_both_in_order(executor, thread):
    first = await create_run(thread.pk, input=SF, config=FAST)
    second = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="enqueue")
    await wait_status(second.pk, RunStatus.SUCCESS)
    first = await get_run(first.pk)
    second = await get_run(second.pk)
    assert first.status == RunStatus.SUCCESS
    assert first.ended_at <= second.started_at
    messages = await messages_of(thread.pk)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"] * 2
    assert messages[0]["content"] == "what's the weather in sf?"
    assert messages[4]["content"] == "what's the weather in nyc?"
    assert "weather in sf is sunny" in messages[3]["content"]
    assert "weather in nyc is sunny" in messages[7]["content"]
    refreshed = await orm(Thread.objects.get)(pk=thread.pk)
    assert refreshed.status == ThreadStatus.IDLE


async def test_reject_refuses_second_and_first_completes(executor, thread):
    first = await create_run(thread.pk, input=SF, config=FAST)
    with pytest.raises(ThreadBusy) as error:
        await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="reject")
    assert error.value.status_code == 409
    assert await orm(Run.objects.count)() == 1
    await wait_status(first.pk, RunStatus.SUCCESS)
    messages = await messages_of(thread.pk)
    assert [m["content"] for m in messages if m["type"] == "human"] == ["what's the weather in sf?"]
    # Once idle, reject accepts.
    again = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="reject")
    await wait_status(again.pk, RunStatus.SUCCESS)


async def test_interrupt_keeps_partial_answer_marked(executor, thread):
    first = await create_run(thread.pk, input=SF, config=SLOW)
    await wait_streaming(executor, first.pk, min_chars=20)
    streaming_run = executor.active[str(first.pk)]
    partial = streaming_run.partial
    words_before = len(partial.text.split())
    second = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="interrupt")
    await wait_for(lambda: stopped(executor, first.pk))
    assert len(partial.text.split()) <= words_before + 1
    await wait_status(second.pk, RunStatus.SUCCESS)
    first = await get_run(first.pk)
    assert first.status == RunStatus.INTERRUPTED
    messages = await messages_of(thread.pk)
    assert [m["type"] for m in messages] == [
        "human",
        "ai",
        "tool",
        "ai",
        "human",
        "ai",
        "tool",
        "ai",
    ]
    partial = messages[3]
    assert is_interrupted(partial)
    assert partial["content"].startswith("The weather in sf")
    # Cut short: far fewer than the 60 words it would have had.
    assert len(partial["content"].split()) < 60
    assert not is_interrupted(messages[7])
    assert messages[4]["content"] == "what's the weather in nyc?"


def checkpoint_rows(thread_id, exclude_run=None):
    """What the checkpoint tables hold for a thread: checkpoints, and writes."""
    checkpoints = Checkpoint.objects.filter(thread_id=str(thread_id))
    writes = CheckpointWrite.objects.filter(thread_id=str(thread_id))
    if exclude_run is not None:
        checkpoints = checkpoints.exclude(run_id=str(exclude_run))
        writes = writes.exclude(run_id=str(exclude_run))
    return (
        set(checkpoints.values_list("checkpoint_id", "parent_checkpoint_id")),
        set(writes.values_list("checkpoint_id", "task_id", "idx")),
    )


async def test_rollback_deletes_first_run_and_restores_state(executor, thread):
    hello = await create_run(thread.pk, input={"messages": ["hello"]}, config=FAST)
    await wait_status(hello.pk, RunStatus.SUCCESS)
    before = await orm(checkpoint_rows)(thread.pk)
    head = (await orm(persistence.latest)(thread.pk)).config["configurable"]["checkpoint_id"]
    first = await create_run(thread.pk, input=SF, config=SLOW)
    await wait_streaming(executor, first.pk, min_chars=20)
    assert await orm(Checkpoint.objects.filter(run_id=str(first.pk)).count)() >= 3
    partial = executor.active[str(first.pk)].partial
    words_before = len(partial.text.split())
    second = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="rollback")
    # The executor stops within one token of the rollback.
    await wait_for(lambda: stopped(executor, first.pk))
    assert len(partial.text.split()) <= words_before + 1
    # The first run is gone at once, with every checkpoint and write it made.
    assert await get_run(first.pk) is None
    assert not await orm(Checkpoint.objects.filter(run_id=str(first.pk)).exists)()
    assert not await orm(CheckpointWrite.objects.filter(run_id=str(first.pk)).exists)()
    with pytest.raises(RunNotFound):
        await orm(run_service.get_run)(thread.pk, first.pk, actor=SYSTEM)
    await wait_status(second.pk, RunStatus.SUCCESS)
    messages = await messages_of(thread.pk)
    assert [text for kind, text in texts(messages) if kind == "human"] == [
        "hello",
        "what's the weather in nyc?",
    ]
    assert all("sf" not in str(m["content"]) for m in messages)
    # The checkpoint tables hold what they held before the first run, plus
    # the second run's own rows, which start from the pre-run head.
    assert await orm(checkpoint_rows)(thread.pk, exclude_run=second.pk) == before
    second_rows = await orm(
        lambda: list(Checkpoint.objects.filter(run_id=str(second.pk)).order_by("checkpoint_id"))
    )()
    assert second_rows[0].parent_checkpoint_id == head


async def test_rollback_remembers_the_rolled_back_runs_and_who_erased_them(executor, thread):
    first = await create_run(thread.pk, input=SF, config=SLOW)
    queued = await create_run(thread.pk, input={"messages": ["hello"]}, config=SLOW)
    await wait_streaming(executor, first.pk)
    third = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="rollback")
    await wait_status(third.pk, RunStatus.SUCCESS)
    gone = await orm(lambda: list(RolledBackRun.objects.filter(thread=thread).order_by("seq")))()
    assert [(g.run_id, g.status, g.rolled_back_by) for g in gone] == [
        (first.pk, RunStatus.RUNNING, third.pk),
        (queued.pk, RunStatus.PENDING, third.pk),
    ]
    assert gone[0].input["messages"][0]["content"] == "what's the weather in sf?"
    timeline = await orm(run_service.timeline)(thread.pk, actor=SYSTEM)
    assert [e["status"] for e in timeline] == ["rolled_back", "rolled_back", "success"]
    # Deleting the thread deletes what it remembers.
    await orm(Thread.objects.filter(pk=thread.pk).delete)()
    assert not await orm(RolledBackRun.objects.exists)()


def record_bus(monkeypatch) -> list:
    """Every message but streamed parts put on the channel layer, in the order
    it is sent: (message type, lifecycle status or None, run id or None)."""
    sent, send, queued = [], bus.send, bus._queued

    def record(group, message):
        # A lifecycle event also goes to the thread's lifecycle group: once here.
        copy = group == protocol.thread_lifecycle_group(message.get("thread_id"))
        if message.get("kind") != protocol.EventKind.PART and not copy:
            status = (message.get("data") or {}).get("status")
            sent.append((message["type"], status, message.get("run_id")))

    async def recording(group, message):
        record(group, message)
        await send(group, message)

    def recording_queued(queue, group, message):
        # Queued without waiting (the Redis Pub/Sub layer), in the order sent.
        record(group, message)
        return queued(queue, group, message)

    monkeypatch.setattr(bus, "send", recording)
    monkeypatch.setattr(bus, "_queued", recording_queued)
    return sent


async def outbox_sent() -> bool:
    """What sync code queued on this loop was sent (runs.bus.publish.send_sync
    sends from the loop, after the call that queued it returned): under load,
    a message of the run created before `record_bus` could be recorded."""
    outbox = bus._outboxes.get(asyncio.get_running_loop())
    return outbox is None or (not outbox.queue and (outbox.task is None or outbox.task.done()))


@pytest.mark.parametrize(
    ("strategy", "told"),
    [("interrupt", protocol.Lifecycle.INTERRUPTING), ("rollback", protocol.Lifecycle.ROLLED_BACK)],
)
async def test_watchers_hear_of_a_double_text_before_the_executors(
    thread, monkeypatch, strategy, told
):
    """An executor told to stop its run hands the thread to the new run at
    once: the new run's start must not reach a page before the stop and the
    creation it follows (the page would show the new exchange above the old)."""
    first = await create_run(thread.pk, input=SF)
    await orm(queue.claim_next_run)("test-worker", thread.pk)
    await wait_for(outbox_sent)  # the first run's wake-up is not the double-text's
    sent = record_bus(monkeypatch)
    second = await create_run(thread.pk, input=NYC, multitask_strategy=strategy)

    async def announced():
        return len(sent) >= 3

    await wait_for(announced)
    await asyncio.sleep(0.05)  # nothing more comes
    event, cancel, wake = (
        protocol.MessageType.RUN_EVENT,
        protocol.MessageType.RUN_CANCEL,
        protocol.MessageType.WAKEUP,
    )
    expected = [
        (event, told, str(first.pk)),
        (event, protocol.Lifecycle.CREATED, str(second.pk)),
        (cancel, None, str(first.pk)),
    ]
    if strategy == "rollback":  # interrupt: its executor hands the thread over
        expected.append((wake, None, None))
    assert sent == expected


async def test_deleting_a_thread_stops_its_run_and_wakes_no_worker(thread, monkeypatch):
    """A rollback by hand wakes the workers for the thread's next run; a
    thread deleted with its runs has none: its executor is told to stop and
    no worker is woken to claim nothing."""
    first = await create_run(thread.pk, input=SF)
    await orm(queue.claim_next_run)("test-worker", thread.pk)
    await wait_for(outbox_sent)
    sent = record_bus(monkeypatch)
    await orm(thread_service.delete_thread)(thread.pk, actor=SYSTEM)

    async def announced():
        return len(sent) >= 2

    await wait_for(announced)
    await asyncio.sleep(0.05)  # nothing more comes
    assert sent == [
        (protocol.MessageType.RUN_EVENT, protocol.Lifecycle.ROLLED_BACK, str(first.pk)),
        (protocol.MessageType.RUN_CANCEL, None, str(first.pk)),
    ]


async def test_a_new_run_starts_after_the_rollback_it_made_is_announced(
    executor, thread, monkeypatch
):
    """The executor that finds its run rolled back (told so, or refused a
    write) does not claim the thread's next run itself: that run waits for
    the wake-up sent after the rollback's announcement, however late the
    request's thread gets to announce it."""
    publish_sync = cancellation.publish_sync

    def late(message):
        time.sleep(0.3)  # the request's thread descheduled after its commit
        publish_sync(message)

    monkeypatch.setattr(cancellation, "publish_sync", late)
    first = await create_run(thread.pk, input=SF, config=SLOW)
    await wait_streaming(executor, first.pk)
    sent = record_bus(monkeypatch)
    second = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="rollback")
    await wait_status(second.pk, RunStatus.SUCCESS)
    told = [(status, run) for kind, status, run in sent if kind == protocol.MessageType.RUN_EVENT]
    first_said = [status for status, run in told if run == str(first.pk)]
    second_said = [status for status, run in told if run == str(second.pk)]
    assert first_said == [protocol.Lifecycle.ROLLED_BACK]
    assert second_said[:2] == [protocol.Lifecycle.CREATED, protocol.Lifecycle.STARTED]
    assert told.index((protocol.Lifecycle.ROLLED_BACK, str(first.pk))) < told.index(
        (protocol.Lifecycle.STARTED, str(second.pk))
    )


@pytest.fixture
def slow_poll(settings):
    """Executors that look for work only when woken (polling once a minute)."""
    settings.RUNS_POLL_SECONDS = 60
    settings.RUNS_CRON_POLL_SECONDS = 60


async def test_a_rollback_by_hand_hands_the_thread_to_its_queued_run(slow_poll, executor, thread):
    first = await create_run(thread.pk, input=SF, config=SLOW)
    queued = await create_run(thread.pk, input=NYC, config=FAST)
    await wait_streaming(executor, first.pk)
    await orm(run_service.cancel_run)(thread.pk, first.pk, action="rollback", actor=SYSTEM)
    await wait_status(queued.pk, RunStatus.SUCCESS, timeout=5)
    humans = [m["content"] for m in await messages_of(thread.pk) if m["type"] == "human"]
    assert humans == ["what's the weather in nyc?"]


async def test_rollback_with_nothing_streamed_yet_restores_state(executor, thread):
    """Rollback of a run still pending (enqueued behind another) deletes it too."""
    first = await create_run(thread.pk, input=SF, config=SLOW)
    queued = await create_run(thread.pk, input={"messages": ["hello"]}, config=SLOW)
    await wait_streaming(executor, first.pk)
    third = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="rollback")
    assert await get_run(queued.pk) is None
    assert await get_run(first.pk) is None
    await wait_status(third.pk, RunStatus.SUCCESS)
    assert [m["content"] for m in await messages_of(thread.pk) if m["type"] == "human"] == [
        "what's the weather in nyc?"
    ]


async def test_interrupt_also_interrupts_queued_runs(executor, thread):
    first = await create_run(thread.pk, input=SF, config=SLOW)
    queued = await create_run(thread.pk, input={"messages": ["hello"]}, config=SLOW)
    await wait_streaming(executor, first.pk)
    third = await create_run(thread.pk, input=NYC, config=FAST, multitask_strategy="interrupt")
    await wait_status(third.pk, RunStatus.SUCCESS)
    assert (await get_run(queued.pk)).status == RunStatus.INTERRUPTED
    assert (await get_run(first.pk)).status == RunStatus.INTERRUPTED
    # Each records the run whose double-text stopped it.
    assert (await get_run(queued.pk)).cancelled_by == third.pk
    assert (await get_run(first.pk)).cancelled_by == third.pk
    humans = [m["content"] for m in await messages_of(thread.pk) if m["type"] == "human"]
    assert humans == ["what's the weather in sf?", "what's the weather in nyc?"]


async def test_cancel_run_interrupt_and_rollback(executor, thread):
    first = await create_run(thread.pk, input=SF, config=SLOW)
    await wait_streaming(executor, first.pk, min_chars=5)
    await orm(run_service.cancel_run)(thread.pk, first.pk, action="interrupt", actor=SYSTEM)
    await wait_status(first.pk, RunStatus.INTERRUPTED)
    second = await create_run(thread.pk, input=NYC, config=SLOW)
    await wait_streaming(executor, second.pk, min_chars=5)
    assert (
        await orm(run_service.cancel_run)(thread.pk, second.pk, action="rollback", actor=SYSTEM)
        is None
    )
    assert await get_run(second.pk) is None
    assert (await get_run(first.pk)).cancelled_by is None  # stopped by hand
    # The rolled-back run is gone from the API but remembered for the timeline.
    timeline = await orm(run_service.timeline)(thread.pk, actor=SYSTEM)
    assert [(e["run_id"], e["status"]) for e in timeline] == [
        (str(first.pk), "interrupted"),
        (str(second.pk), "rolled_back"),
    ]
    assert timeline[1]["rolled_back_by"] is None  # by hand, not by a double-text
    messages = await messages_of(thread.pk)
    assert [m["content"] for m in messages if m["type"] == "human"] == ["what's the weather in sf?"]

    async def idle():
        t = await orm(Thread.objects.get)(pk=thread.pk)
        return t.status == ThreadStatus.IDLE

    await wait_for(idle)


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"multitask_strategy": "shout"}, InvalidRequest, "multitask_strategy"),
        ({"assistant_id": "nope"}, AssistantNotFound, "assistant_id"),
        (
            {"input": {"messages": [{"role": "robot", "content": "x"}]}},
            InvalidRequest,
            "input.messages[0].type",
        ),
        ({"input": "hello"}, InvalidRequest, "input"),
        ({"config": "fast"}, InvalidRequest, "config"),
        ({"config": {"configurable": [1]}}, InvalidRequest, "config.configurable"),
        *(
            ({"config": {"configurable": options}}, InvalidRequest, f"config.configurable.{key}")
            for key, options in [
                ("token_delay", {"token_delay": -1}),
                ("token_delay", {"token_delay": 1e9}),
                ("token_delay", {"token_delay": "slow"}),
                ("reply_words", {"reply_words": 10**9}),
                ("reply_words", {"reply_words": 2.5}),
            ]
        ),
    ],
)
async def test_bad_input_is_refused_and_nothing_written(thread, kwargs, error, field):
    with pytest.raises(error) as raised:
        await create_run(thread.pk, **kwargs)
    assert raised.value.field == field
    assert await orm(Run.objects.count)() == 0


async def test_missing_thread_is_not_found(transactional_db):
    with pytest.raises(ThreadNotFound):
        await create_run("00000000-0000-0000-0000-000000000000", input=SF)
    with pytest.raises(ThreadNotFound):
        await create_run("not-a-uuid", input=SF)


async def test_if_not_exists_create_makes_the_thread(executor, user):
    thread_id = "11111111-2222-3333-4444-555555555555"
    run = await create_run(thread_id, input=SF, config=FAST, if_not_exists="create", actor=user)
    await wait_status(run.pk, RunStatus.SUCCESS)
    assert len(await messages_of(thread_id)) == 4
    assert (await orm(Thread.objects.get)(pk=thread_id)).metadata["graph_id"] == "agent"
    assert (await orm(Thread.objects.get)(pk=thread_id)).owner_id == user.pk


async def test_another_users_thread_is_not_found(thread):
    stranger = await orm(make_user)("stranger")
    for kwargs in ({}, {"if_not_exists": "create"}):
        with pytest.raises(ThreadNotFound):
            await create_run(thread.pk, input=SF, actor=stranger, **kwargs)
    with pytest.raises(ThreadNotFound):
        await orm(run_service.cancel_thread_runs)(thread.pk, actor=stranger)
    assert await orm(Run.objects.count)() == 0


async def test_unknown_cancel_action(thread):
    with pytest.raises(InvalidRequest) as raised:
        await orm(run_service.cancel_thread_runs)(thread.pk, action="explode", actor=SYSTEM)
    assert raised.value.field == "action"


def test_a_forking_double_text_guards_the_runs_it_stopped_by_their_ids():
    """A rolled-back run's instance loses its pk when its row is deleted; the
    fork guard still names it."""
    from runs.services import state
    from runs.services.threads import create_thread
    from runs.worker import transactions

    owner = make_user("forker")
    thread = create_thread(actor=owner, metadata={"graph_id": "agent"})
    state.update_state(thread.pk, values=SF, actor=owner)
    head = persistence.latest(thread.pk).config["configurable"]["checkpoint_id"]
    for strategy in ("interrupt", "rollback"):
        first = run_service.create_run(thread.pk, input=SF, actor=owner)
        assert transactions.claim_next_run("elsewhere", thread.pk) is not None
        second = run_service.create_run(
            thread.pk, input=NYC, multitask_strategy=strategy, checkpoint_id=head, actor=owner
        )
        assert second.kwargs["fork_guard"] == [str(first.pk)], strategy
        Run.objects.filter(thread=thread).update(status=RunStatus.SUCCESS)
        Thread.objects.filter(pk=thread.pk).update(status=ThreadStatus.IDLE)
