"""A run's end copies its last checkpoint onto the thread (the values and
interrupts the API serves) from what its saver wrote, not by reading it back:
the copy must be what reading it back gives, however the run ended."""

import asyncio
import operator
import threading
from typing import Annotated, TypedDict

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.graph import START, StateGraph

from checkpoints.models import CheckpointWrite
from checkpoints.saver import DjangoCheckpointSaver
from runs.graphs.serialization import INTERRUPT_KEY as INTERRUPT
from runs.models import Run, RunStatus, Thread
from runs.services import persistence
from runs.services import runs as run_service
from runs.services import state as state_service
from runs.services.actors import SYSTEM
from runs.services.chat_messages import is_interrupted
from runs.worker import heads, transactions
from runs.worker.saver import RunCancelled, RunSaver
from tests.conftest import (
    FAST,
    SLOW,
    in_database,
    make_thread,
    orm,
    wait_for,
    wait_status,
    wait_streaming,
)

pytestmark = pytest.mark.django_db(transaction=True)

SF = {"messages": [{"role": "user", "content": "what's the weather in sf?"}]}


@pytest.fixture(params=[0, 0.05, 30], ids=["stored-at-once", "held-briefly", "held-to-the-end"])
def held(request, settings):
    """How long the run's checkpoints wait in memory (RunSaver.hold_seconds):
    each stored at once; the default; every one stored with the run's end,
    so an interrupt finds its head not stored yet."""
    settings.RUNS_CHECKPOINT_DELAY_SECONDS = request.param
    return request.param


@pytest.fixture
def read_back(monkeypatch):
    """The settles that read the thread's latest checkpoint back.

    Counted on the settling thread only: the test reads the state back as
    soon as the run's status commits, which is before `finish_run` returns."""
    reads, latest = [], persistence.latest
    settling: set[int] = set()
    finish_run = transactions.finish_run

    def counting_latest(thread_id):
        if threading.get_ident() in settling:
            reads.append(thread_id)
        return latest(thread_id)

    def counting_finish(*args, **kwargs):
        settling.add(threading.get_ident())
        try:
            return finish_run(*args, **kwargs)
        finally:
            settling.discard(threading.get_ident())

    monkeypatch.setattr(persistence, "latest", counting_latest)
    monkeypatch.setattr(transactions, "finish_run", counting_finish)
    return reads


def stored_and_read_back(thread_id):
    thread = Thread.objects.get(pk=thread_id)
    checkpoint = in_database(thread_id)
    return (
        (thread.values, thread.interrupts),
        (persistence.state_values(checkpoint), persistence.pending_interrupts(checkpoint)),
    )


async def test_a_finished_run_leaves_its_last_checkpoint_on_the_thread(executor, read_back, held):
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(thread.pk, input=SF, config=FAST, actor=SYSTEM)
    await wait_status(run.pk, RunStatus.SUCCESS)
    stored, read = await orm(stored_and_read_back)(thread.pk)
    assert [m["type"] for m in stored[0]["messages"]] == ["human", "ai", "tool", "ai"]
    assert stored == read
    assert read_back == []


async def test_a_run_stopped_at_interrupt_leaves_what_it_asks(executor, read_back, held):
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk, assistant_id="hitl", input=SF, config=FAST, actor=SYSTEM
    )
    await wait_status(run.pk, RunStatus.SUCCESS, RunStatus.INTERRUPTED, timeout=20)
    stored, read = await orm(stored_and_read_back)(thread.pk)
    [(_, [asked])] = stored[1].items()
    assert asked["value"]["question"] == "Call get_weather?"
    assert stored == read
    assert read_back == []


async def test_an_interrupted_run_leaves_its_partial_answer(executor, read_back, held):
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(thread.pk, input=SF, config=SLOW, actor=SYSTEM)
    await wait_streaming(executor, run.pk, min_chars=20)
    await orm(run_service.cancel_run)(thread.pk, run.pk, action="interrupt", actor=SYSTEM)
    await wait_status(run.pk, RunStatus.INTERRUPTED)
    stored, read = await orm(stored_and_read_back)(thread.pk)
    assert is_interrupted(stored[0]["messages"][-1])
    assert stored[0]["messages"][-1]["content"].startswith("The weather in sf")
    assert stored == read
    assert read_back == []


async def test_the_next_run_starts_from_what_the_interrupted_one_holds(executor, read_back, held):
    """A double-text with interrupt: the first run's end claims the second
    and hands it the thread's latest checkpoint (the partial answer) from its
    saver, decoded, instead of reading it back from the database; the second
    run goes on from it."""
    thread = await orm(make_thread)()
    first = await orm(run_service.create_run)(thread.pk, input=SF, config=SLOW, actor=SYSTEM)
    await wait_streaming(executor, first.pk, min_chars=20)
    second = await orm(run_service.create_run)(
        thread.pk,
        input={"messages": [{"role": "user", "content": "and in Oslo?"}]},
        config=FAST,
        multitask_strategy="interrupt",
        actor=SYSTEM,
    )
    assert (await wait_status(second.pk, RunStatus.SUCCESS)).attempt == 1
    stored, read = await orm(stored_and_read_back)(thread.pk)
    messages = stored[0]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai", "human", "ai"]
    assert is_interrupted(messages[3]) and messages[3]["content"].startswith("The weather in sf")
    assert messages[4]["content"] == "and in Oslo?"
    assert stored == read
    assert read_back == []


@pytest.fixture
def reads_of_the_latest(monkeypatch):
    """The thread ids whose latest checkpoint is read back from the database."""
    reads, latest = [], persistence.latest

    def counting_latest(thread_id):
        reads.append(str(thread_id))
        return latest(thread_id)

    monkeypatch.setattr(persistence, "latest", counting_latest)
    return reads


async def test_a_threads_next_run_starts_from_what_its_last_run_here_held(
    executor, reads_of_the_latest, held
):
    """A run that ends with nothing queued behind it leaves its last checkpoint,
    decoded, with its executor: the thread's next run starts from it (one
    probe says it is still the latest) instead of decoding it back."""
    thread = await orm(make_thread)()
    first = await orm(run_service.create_run)(thread.pk, input=SF, config=FAST, actor=SYSTEM)
    await wait_status(first.pk, RunStatus.SUCCESS)
    reads_of_the_latest.clear()
    second = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["and now?"]}, config=FAST, actor=SYSTEM
    )
    await wait_status(second.pk, RunStatus.SUCCESS)
    stored, read = await orm(stored_and_read_back)(thread.pk)
    messages = stored[0]["messages"]
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai", "human", "ai"]
    assert messages[4]["content"] == "and now?"
    assert stored == read
    assert reads_of_the_latest == []


async def a_thread_changed_since_its_run():
    """A thread whose run ended here, then got a note added through the API
    (a new latest checkpoint the worker did not keep)."""
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(thread.pk, input=SF, config=FAST, actor=SYSTEM)
    await wait_status(run.pk, RunStatus.SUCCESS)
    await orm(state_service.update_state)(
        thread.pk,
        actor=SYSTEM,
        values={"messages": [{"role": "user", "content": "a note added by hand"}]},
        as_node="tools",
    )
    return thread


async def test_a_kept_checkpoint_no_longer_the_latest_is_not_used(executor, reads_of_the_latest):
    """The state changed since the run ended (an update through the API): the
    next run reads the new latest checkpoint back and starts from it."""
    thread = await a_thread_changed_since_its_run()
    reads_of_the_latest.clear()
    second = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["and now?"]}, config=FAST, actor=SYSTEM
    )
    await wait_status(second.pk, RunStatus.SUCCESS)
    assert reads_of_the_latest == [str(thread.pk)]  # the claim's, the kept one being stale
    messages = (await orm(stored_and_read_back)(thread.pk))[0][0]["messages"]
    assert [m["content"] for m in messages[4:6]] == ["a note added by hand", "and now?"]


@pytest.fixture
def decoded_from_the_database(monkeypatch):
    """Checkpoints read back from the database and decoded (thread ids)."""
    reads, read_one = [], DjangoCheckpointSaver._read_one

    def counting(self, connection, thread_id, ns, checkpoint_id):
        reads.append(str(thread_id))
        return read_one(self, connection, thread_id, ns, checkpoint_id)

    monkeypatch.setattr(DjangoCheckpointSaver, "_read_one", counting)
    return reads


async def test_the_latest_state_is_read_from_what_the_worker_here_kept(executor, decoded_for_reads):
    """The API's read of a thread's state after its run ended in this process
    takes the channel values of the checkpoint its worker kept decoded, and
    keeps them: read again once a run took that checkpoint, nothing is decoded
    either. Both say what reading it from the database says."""
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(thread.pk, input=SF, config=FAST, actor=SYSTEM)
    await wait_status(run.pk, RunStatus.SUCCESS)
    kept = await orm(state_service.get_state)(thread.pk, actor=SYSTEM)
    assert decoded_for_reads == []
    await orm(heads.KEPT.take)(thread.pk)  # taken, as by a run: no longer in the process
    read = await orm(state_service.get_state)(thread.pk, actor=SYSTEM)
    assert decoded_for_reads == []
    assert [m["type"] for m in kept["values"]["messages"]] == ["human", "ai", "tool", "ai"]
    assert kept == read
    assert read["values"] == persistence.state_values(await orm(in_database)(thread.pk))


async def test_a_state_changed_since_is_read_from_the_database(executor, decoded_from_the_database):
    thread = await a_thread_changed_since_its_run()
    decoded_from_the_database.clear()
    state = await orm(state_service.get_state)(thread.pk, actor=SYSTEM)
    assert decoded_from_the_database == [str(thread.pk)]
    assert state["values"]["messages"][-1]["content"] == "a note added by hand"


@pytest.fixture
def decoded_for_reads(monkeypatch):
    """The channels the API's state reads decode (persistence.reader)."""
    decoded, load_blob = [], DjangoCheckpointSaver._load_blob

    def counting(self, key, type_, value):
        if self.decoded is not None:
            decoded.append(key[2])
        return load_blob(self, key, type_, value)

    monkeypatch.setattr(DjangoCheckpointSaver, "_load_blob", counting)
    return decoded


async def test_a_state_read_again_elsewhere_decodes_only_what_changed(
    executor, settings, decoded_for_reads
):
    """Where no worker kept the thread's checkpoint (an API process in
    production: RUNS_KEPT_CHECKPOINTS 0 here), a state read decodes the
    conversation once; read again it decodes nothing, and after the next run
    only the messages channel it changed."""
    settings.RUNS_KEPT_CHECKPOINTS = 0
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(thread.pk, input=SF, config=FAST, actor=SYSTEM)
    await wait_status(run.pk, RunStatus.SUCCESS)
    first = await orm(state_service.get_state)(thread.pk, actor=SYSTEM)
    assert "messages" in decoded_for_reads
    decoded_for_reads.clear()
    assert await orm(state_service.get_state)(thread.pk, actor=SYSTEM) == first
    assert (
        await orm(state_service.thread_messages)(thread.pk, actor=SYSTEM)
        == (first["values"]["messages"])
    )
    assert decoded_for_reads == []
    run = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["and now?"]}, config=FAST, actor=SYSTEM
    )
    await wait_status(run.pk, RunStatus.SUCCESS)
    state = await orm(state_service.get_state)(thread.pk, actor=SYSTEM)
    assert decoded_for_reads == ["messages"]
    assert state["values"] == persistence.state_values(await orm(in_database)(thread.pk))
    assert [m["content"] for m in state["values"]["messages"]][4] == "and now?"


def test_a_checkpoint_no_longer_the_latest_is_read_back(transactional_db):
    """Another checkpoint came after the one the run's saver holds: the
    latest is read, not the one held."""
    thread = make_thread()
    run = run_service.create_run(thread.pk, input=SF, actor=SYSTEM)
    transactions.claim_next_run("w", thread.pk)
    saver = RunSaver(thread_id=thread.pk, run_id=run.pk, worker_id="w")
    config = {"configurable": {"thread_id": str(thread.pk), "checkpoint_ns": ""}}
    mine = saver.put(config, {**empty_checkpoint(), "id": str(uuid6())}, {}, {})
    assert saver.latest().config == mine
    later = {**empty_checkpoint(), "id": str(uuid6())}
    theirs = persistence.saver().put(mine, later, {}, {})
    assert saver.latest().config == theirs
    assert saver.latest().checkpoint["id"] == later["id"]


@pytest.mark.parametrize("graph", ["agent", "hitl"])
async def test_the_held_checkpoint_is_the_one_read_back(executor, monkeypatch, graph):
    """What the saver holds is what get_tuple would read: the configs, the
    stored metadata, the values and the pending writes (an interrupt's)."""
    held = []
    held_head = RunSaver._held_head

    def recording(self):
        held.append(held_head(self))
        return held[-1]

    monkeypatch.setattr(RunSaver, "_held_head", recording)
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk, assistant_id=graph, input=SF, config=FAST, actor=SYSTEM
    )
    await wait_status(run.pk, RunStatus.SUCCESS, RunStatus.INTERRUPTED, timeout=20)
    read = await orm(in_database)(thread.pk)
    mine = held[-1]
    assert mine.config == read.config
    assert mine.parent_config == read.parent_config
    assert mine.metadata == read.metadata
    # The serializer stores a tuple as a list: the one difference.
    assert [(t, c, list(v) if isinstance(v, tuple) else v) for t, c, v in mine.pending_writes] == (
        read.pending_writes
    )
    assert (graph == "hitl") == bool(read.pending_writes)
    values = {
        k: v
        for k, v in mine.checkpoint["channel_values"].items()
        if k in read.checkpoint["channel_values"]
    }
    assert values == read.checkpoint["channel_values"]
    assert {k: v for k, v in mine.checkpoint.items() if k != "channel_values"} == {
        k: v for k, v in read.checkpoint.items() if k != "channel_values"
    }


def test_writes_stored_before_their_checkpoint_are_held_with_it(transactional_db):
    """LangGraph's async durability stores a step's writes and its checkpoint
    in the background, on several database threads: the writes may come
    first. They are the checkpoint's all the same."""
    thread = make_thread()
    run = run_service.create_run(thread.pk, input=SF, actor=SYSTEM)
    transactions.claim_next_run("w", thread.pk)
    saver = RunSaver(thread_id=thread.pk, run_id=run.pk, worker_id="w")
    config = {"configurable": {"thread_id": str(thread.pk), "checkpoint_ns": ""}}
    first = {**empty_checkpoint(), "id": str(uuid6())}
    stored = saver.put(config, first, {}, {})
    second = {**empty_checkpoint(), "id": str(uuid6())}
    on_second = {"configurable": {**stored["configurable"], "checkpoint_id": second["id"]}}
    saver.put_writes(on_second, [(INTERRUPT, ["asked"])], "task")
    saver.put_writes(stored, [("messages", "late")], "old-task")  # on the first: not the head's
    saver.put(stored, second, {}, {})
    held = saver.latest()
    assert held is not None and held.checkpoint is second  # the one held, not read back
    assert held.config["configurable"]["checkpoint_id"] == second["id"]
    assert held.pending_writes == [("task", INTERRUPT, ["asked"])]
    assert held.pending_writes == in_database(thread.pk).pending_writes


def test_a_tasks_writes_wait_for_the_runs_next_checkpoint(transactional_db):
    """Under LangGraph's async durability a task's writes are stored with the
    run's next checkpoint, in its transaction, not in one of their own; what
    the run reads through its saver meanwhile has them."""
    thread = make_thread()
    run = run_service.create_run(thread.pk, input=SF, actor=SYSTEM)
    transactions.claim_next_run("w", thread.pk)
    saver = RunSaver(thread_id=thread.pk, run_id=run.pk, worker_id="w", queue_writes=True)
    config = {"configurable": {"thread_id": str(thread.pk), "checkpoint_ns": ""}}
    stored = saver.put(config, {**empty_checkpoint(), "id": str(uuid6())}, {}, {})
    async_to_sync(saver.aput_writes)(stored, [(INTERRUPT, ["asked"])], "task")
    stored_writes = CheckpointWrite.objects.filter(thread_id=str(thread.pk))
    assert not stored_writes.exists()
    assert saver.latest().pending_writes == [("task", INTERRUPT, ["asked"])]
    # A read the saver cannot answer from memory stores them first.
    assert saver.get_tuple(stored).pending_writes == [("task", INTERRUPT, ["asked"])]
    assert stored_writes.count() == 1
    async_to_sync(saver.aput_writes)(stored, [("messages", "more")], "other-task")
    with CaptureQueriesContext(connection) as statements:
        saver.put(stored, {**empty_checkpoint(), "id": str(uuid6())}, {}, {})
    assert stored_writes.count() == 2
    if connection.vendor == "sqlite":  # one transaction for both
        assert [q["sql"] for q in statements].count("BEGIN IMMEDIATE") == 1, statements


def test_a_cancelled_run_queues_no_write(transactional_db):
    thread = make_thread()
    run = run_service.create_run(thread.pk, input=SF, actor=SYSTEM)
    transactions.claim_next_run("w", thread.pk)
    saver = RunSaver(
        thread_id=thread.pk, run_id=run.pk, worker_id="w", queue_writes=True, cancelled=lambda: True
    )
    on = {"thread_id": str(thread.pk), "checkpoint_ns": "", "checkpoint_id": "1"}
    with pytest.raises(RunCancelled):
        async_to_sync(saver.aput_writes)({"configurable": on}, [("messages", "late")], "task")
    assert saver.queued == []


@pytest.mark.parametrize("durability", [None, "async", "exit", "sync"])
async def test_a_runs_task_writes_are_stored_at_once_only_with_sync_durability(
    executor, monkeypatch, durability
):
    at_once = []
    put_writes = RunSaver.put_writes

    def recording(self, *args, **kwargs):
        at_once.append(args)
        return put_writes(self, *args, **kwargs)

    monkeypatch.setattr(RunSaver, "put_writes", recording)
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk,
        assistant_id="hitl",
        input=SF,
        config=FAST,
        kwargs={"durability": durability},
        actor=SYSTEM,
    )
    await wait_status(run.pk, RunStatus.SUCCESS, RunStatus.INTERRUPTED, timeout=20)
    stored, read = await orm(stored_and_read_back)(thread.pk)
    assert stored == read
    [(_, [asked])] = stored[1].items()  # the interrupt's writes, stored
    assert asked["value"]["question"] == "Call get_weather?"
    assert bool(at_once) == (durability == "sync")


class Failing(TypedDict):
    messages: list


def fail(state: Failing) -> Failing:
    raise ValueError("broken node")


failing = StateGraph(Failing).add_node(fail).add_edge(START, "fail").compile()


async def test_a_failed_runs_error_is_stored_with_its_end(executor, settings, held):
    """A failed task's error is stored by the time the run has ended (LangGraph
    puts its last checkpoint again on its way out, with the queued writes)."""
    settings.RUNS_GRAPHS = {**(settings.RUNS_GRAPHS or {}), "failing": f"{__name__}:failing"}
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk, assistant_id="failing", input={"messages": []}, actor=SYSTEM
    )
    await wait_status(run.pk, RunStatus.ERROR)
    latest = await orm(in_database)(thread.pk)
    assert [channel for _, channel, _ in latest.pending_writes] == ["__error__"]  # LangGraph's


class Notes(TypedDict):
    notes: Annotated[list, operator.add]


QUICK_DONE = threading.Event()


async def quick(state: Notes) -> Notes:
    await asyncio.sleep(0.2)  # after its step's checkpoint is stored
    QUICK_DONE.set()
    return {"notes": ["quick"]}


async def slow(state: Notes) -> Notes:
    await asyncio.sleep(30)
    return {"notes": ["slow"]}


parallel = (
    StateGraph(Notes)
    .add_node(quick)
    .add_node(slow)
    .add_edge(START, "quick")
    .add_edge(START, "slow")
    .compile()
)


async def test_an_interrupted_run_keeps_the_writes_of_its_finished_tasks(executor, settings, held):
    """A step cut short has no next checkpoint: the run's end stores the
    writes of the tasks that had finished (here `quick`'s, while `slow` ran)."""
    settings.RUNS_GRAPHS = {**(settings.RUNS_GRAPHS or {}), "parallel": f"{__name__}:parallel"}
    QUICK_DONE.clear()
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(
        thread.pk, assistant_id="parallel", input={"notes": []}, actor=SYSTEM
    )
    assert await asyncio.to_thread(QUICK_DONE.wait, 10)
    await asyncio.sleep(0.1)  # its writes handed to the saver
    await orm(run_service.cancel_run)(thread.pk, run.pk, action="interrupt", actor=SYSTEM)
    await wait_status(run.pk, RunStatus.INTERRUPTED)
    latest = await orm(in_database)(thread.pk)
    assert [(channel, value) for _, channel, value in latest.pending_writes] == [
        ("notes", ["quick"])
    ]


@pytest.mark.parametrize("delay", [0.05, 30])
async def test_a_runs_checkpoints_wait_in_memory_at_most_the_delay(executor, settings, delay):
    """A run's checkpoints are held in memory for at most
    RUNS_CHECKPOINT_DELAY_SECONDS: while an answer streams, the thread's
    stored state already has the question (a page reloaded then shows it; a
    worker that dies loses no more than that)."""
    settings.RUNS_CHECKPOINT_DELAY_SECONDS = delay
    thread = await orm(make_thread)()
    run = await orm(run_service.create_run)(thread.pk, input=SF, config=SLOW, actor=SYSTEM)
    await wait_streaming(executor, run.pk, min_chars=20)

    async def stored_question():
        latest = await orm(in_database)(thread.pk)
        return latest and persistence.state_values(latest)["messages"][0]["type"] == "human"

    if delay > 1:
        await asyncio.sleep(0.2)
        assert not await stored_question()  # all held: stored with the run's end
    else:
        await wait_for(stored_question, timeout=2)
    assert (await orm(Run.objects.get)(pk=run.pk)).status == RunStatus.RUNNING
    await orm(run_service.cancel_run)(thread.pk, run.pk, action="interrupt", actor=SYSTEM)
    await wait_status(run.pk, RunStatus.INTERRUPTED)
    latest = await orm(in_database)(thread.pk)
    assert persistence.state_values(latest)["messages"][0]["type"] == "human"


def test_a_held_checkpoint_the_database_refuses_waits_for_the_runs_end(transactional_db):
    """A store of held checkpoints that finds the run asked to stop (its
    signal not heard yet) stores nothing and keeps them; the run's next write
    raises RunCancelled; its end (interrupted) stores what it held, under the
    thread lock, with the settle."""
    thread = make_thread()
    run = run_service.create_run(thread.pk, input=SF, actor=SYSTEM)
    transactions.claim_next_run("w", thread.pk)
    saver = RunSaver(
        thread_id=thread.pk, run_id=run.pk, worker_id="w", queue_writes=True, hold_seconds=30
    )
    config = {"configurable": {"thread_id": str(thread.pk), "checkpoint_ns": ""}}
    first = {**empty_checkpoint(), "id": str(uuid6())}
    stored = async_to_sync(saver.aput)(config, first, {}, {})
    assert in_database(thread.pk) is None and len(saver.held) == 1
    assert saver.latest().checkpoint is first  # the run reads what it holds
    Run.objects.filter(pk=run.pk).update(cancel_action="interrupt")
    with pytest.raises(RunCancelled):
        saver.flush()
    assert in_database(thread.pk) is None and len(saver.held) == 1
    with pytest.raises(RunCancelled):
        async_to_sync(saver.aput)(stored, {**empty_checkpoint(), "id": str(uuid6())}, {}, {})
    finished = transactions.finish_run(
        thread.pk,
        run.pk,
        "w",
        status=RunStatus.INTERRUPTED,
        state_writes=saver.write_queued,
        head=saver.latest,
    )
    assert finished is not None and saver.held == []
    assert in_database(thread.pk).checkpoint["id"] == first["id"]
