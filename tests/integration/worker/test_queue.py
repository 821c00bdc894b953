"""Concurrency and recovery: many simultaneous creations against a real
database, several executors, expired leases."""

import asyncio
from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from checkpoints.models import Checkpoint
from runs.models import Run, RunStatus, Thread, ThreadStatus
from runs.services import persistence
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from runs.services.errors import ThreadBusy
from runs.worker import transactions as queue
from runs.worker.executor import Executor
from tests.conftest import (
    FAST,
    SLOW,
    in_database,
    in_thread,
    make_thread,
    messages_of,
    orm,
    wait_for,
    wait_status,
    wait_streaming,
)

pytestmark = pytest.mark.django_db(transaction=True)

create_in_thread = in_thread(run_service.create_run)


async def create_many(thread_id, strategies_and_texts, config=FAST):
    """Create runs concurrently, each from its own OS thread and DB connection."""

    async def one(strategy, text):
        try:
            return await create_in_thread(
                thread_id,
                input={"messages": [text]},
                multitask_strategy=strategy,
                config=config,
                actor=SYSTEM,
            )
        except ThreadBusy as error:
            return error

    return await asyncio.gather(*(one(s, t) for s, t in strategies_and_texts))


async def max_running_sampler(thread_id, stop: asyncio.Event, seen: list):
    count = orm(lambda: Run.objects.filter(thread_id=thread_id, status=RunStatus.RUNNING).count())
    while not stop.is_set():
        seen.append(await count())
        await asyncio.sleep(0.005)


@pytest.fixture
async def executors(transactional_db):
    """Two executors competing for the same runs."""
    pool = [Executor(worker_id="worker-a"), Executor(worker_id="worker-b")]
    for ex in pool:
        await ex.start()
    yield pool
    for ex in pool:
        await ex.stop()


async def all_settled(thread_id):
    active = await orm(
        Run.objects.filter(thread_id=thread_id, status__in=["pending", "running"]).exists
    )()
    return not active


async def test_concurrent_reject_accepts_exactly_one(thread):
    results = await create_many(thread.pk, [("reject", f"m{i}") for i in range(20)])
    accepted = [r for r in results if isinstance(r, Run)]
    rejected = [r for r in results if isinstance(r, ThreadBusy)]
    assert len(accepted) == 1 and len(rejected) == 19
    assert await orm(Run.objects.count)() == 1


async def test_concurrent_enqueue_executes_all_exactly_once_in_order(executors, thread):
    texts = [f"message {i}" for i in range(15)]
    stop, seen = asyncio.Event(), []
    sampler = asyncio.create_task(max_running_sampler(thread.pk, stop, seen))
    runs = await create_many(thread.pk, [("enqueue", t) for t in texts])
    assert all(isinstance(r, Run) for r in runs)
    await wait_for(lambda: all_settled(thread.pk), timeout=60)
    stop.set()
    await sampler
    assert max(seen) <= 1

    finished = await orm(list)(Run.objects.filter(thread_id=thread.pk).order_by("seq"))
    assert [r.status for r in finished] == [RunStatus.SUCCESS] * 15
    # FIFO: each run started after the previous one ended.
    for earlier, later in zip(finished, finished[1:], strict=False):
        assert earlier.ended_at <= later.started_at
    # Exactly once, in creation (seq) order.
    by_seq = [r.input["messages"][0]["content"] for r in finished]
    humans = [m["content"] for m in await messages_of(thread.pk) if m["type"] == "human"]
    assert humans == by_seq
    assert sorted(humans) == sorted(texts)
    answers = [m for m in await messages_of(thread.pk) if m["type"] == "ai"]
    assert len(answers) == 15
    # Both executors took part, yet never at the same time on this thread.
    assert {r.worker_id for r in finished} <= {"worker-a", "worker-b"}


async def test_mixed_strategies_never_two_running(executors, thread):
    stop, seen = asyncio.Event(), []
    sampler = asyncio.create_task(max_running_sampler(thread.pk, stop, seen))
    kinds = ["enqueue", "interrupt", "rollback", "reject"]
    created = []
    for wave in range(4):
        batch = [(kinds[(wave + i) % 4], f"wave {wave} msg {i}") for i in range(8)]
        created += await create_many(thread.pk, batch, config=SLOW)
        await asyncio.sleep(0.15)
    await wait_for(lambda: all_settled(thread.pk), timeout=90)
    stop.set()
    await sampler
    assert max(seen) <= 1

    runs = await orm(list)(Run.objects.filter(thread_id=thread.pk).order_by("seq"))
    intervals = sorted((r.started_at, r.ended_at) for r in runs if r.started_at)
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert end <= start
    # What remains in the state is exactly what surviving runs said.
    surviving = {r.input["messages"][0]["content"] for r in runs}
    humans = [m["content"] for m in await messages_of(thread.pk) if m["type"] == "human"]
    assert len(humans) == len(set(humans))
    assert set(humans) <= surviving
    accepted_ids = {r.pk for r in created if isinstance(r, Run)}
    rolled_back = accepted_ids - {r.pk for r in runs}
    for run in created:
        if isinstance(run, Run) and run.pk in rolled_back:
            assert run.input["messages"][0]["content"] not in humans
    refreshed = await orm(Thread.objects.get)(pk=thread.pk)
    assert refreshed.status == ThreadStatus.IDLE


async def test_concurrent_claims_take_a_thread_once(thread):
    for i in range(3):
        await orm(run_service.create_run)(thread.pk, input={"messages": [f"m{i}"]}, actor=SYSTEM)
    claim = in_thread(queue.claim_next_run)
    claims = await asyncio.gather(*(claim(f"w{i}", thread.pk) for i in range(12)))
    taken = [c for c in claims if c is not None]
    assert len(taken) == 1
    running = await orm(
        lambda: list(Run.objects.values("thread").filter(status="running").annotate(n=Count("id")))
    )()
    assert running == [{"thread": thread.pk, "n": 1}]


async def expire(run_id, worker_id="dead-worker", attempt=1):
    await orm(
        lambda: Run.objects.filter(pk=run_id).update(
            status=RunStatus.RUNNING,
            worker_id=worker_id,
            attempt=attempt,
            started_at=timezone.now() - timedelta(minutes=5),
            lease_expires_at=timezone.now() - timedelta(seconds=1),
        )
    )()


async def test_run_of_a_dead_worker_gets_another_attempt_and_the_queue_moves_on(thread):
    dead = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["lost"]}, config=FAST, actor=SYSTEM
    )
    await expire(dead.pk)
    queued = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["next"]}, config=FAST, actor=SYSTEM
    )
    executor = Executor(worker_id="survivor")
    await executor.start()
    try:
        resumed = await wait_status(dead.pk, RunStatus.SUCCESS)
        assert resumed.attempt == 2 and resumed.worker_id == "survivor"
        await wait_status(queued.pk, RunStatus.SUCCESS)
    finally:
        await executor.stop()
    refreshed = await orm(Thread.objects.get)(pk=thread.pk)
    assert refreshed.status == ThreadStatus.IDLE
    humans = [m["content"] for m in await messages_of(thread.pk) if m["type"] == "human"]
    assert humans == ["lost", "next"]


async def test_a_run_out_of_attempts_ends_in_error_and_the_queue_moves_on(settings, thread):
    dead = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["lost"]}, config=FAST, actor=SYSTEM
    )
    await expire(dead.pk, attempt=settings.RUNS_MAX_ATTEMPTS)
    queued = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["next"]}, config=FAST, actor=SYSTEM
    )
    executor = Executor(worker_id="survivor")
    await executor.start()
    try:
        recovered = await wait_status(dead.pk, RunStatus.ERROR)
        assert recovered.error["error"] == "WorkerLost"
        await wait_status(queued.pk, RunStatus.SUCCESS)
    finally:
        await executor.stop()
    refreshed = await orm(Thread.objects.get)(pk=thread.pk)
    assert refreshed.status == ThreadStatus.IDLE


async def test_interrupted_run_of_a_dead_worker_ends_interrupted(thread):
    run = await orm(run_service.create_run)(thread.pk, input={"messages": ["x"]}, actor=SYSTEM)
    await expire(run.pk)
    await orm(lambda: Run.objects.filter(pk=run.pk).update(cancel_action="interrupt"))()
    recovered = await orm(queue.recover_expired_runs)()
    assert [(run["status"], told) for run, told in recovered] == [("interrupted", "interrupted")]
    refreshed = await orm(Thread.objects.get)(pk=thread.pk)
    assert refreshed.status == ThreadStatus.IDLE


async def test_heartbeat_keeps_a_long_run_alive(settings, thread):
    settings.RUNS_LEASE_SECONDS = 0.4
    settings.RUNS_HEARTBEAT_SECONDS = 0.1
    pool = [Executor(worker_id="holder"), Executor(worker_id="rival")]
    for ex in pool:
        await ex.start()
    try:
        run = await orm(run_service.create_run)(
            thread.pk,
            input={"messages": ["long"]},
            config={"configurable": {"token_delay": 0.05, "reply_words": 30}},
            actor=SYSTEM,
        )
        done = await wait_status(run.pk, RunStatus.SUCCESS, RunStatus.ERROR, timeout=20)
        assert done.status == RunStatus.SUCCESS
    finally:
        for ex in pool:
            await ex.stop()


async def test_cancel_recorded_only_in_the_database_is_picked_up(settings, thread):
    """If the channel-layer signal is lost, the heartbeat still sees the cancel."""
    settings.RUNS_HEARTBEAT_SECONDS = 0.1
    executor = Executor(worker_id="deaf")
    await executor.start()
    try:
        run = await orm(run_service.create_run)(
            thread.pk, input={"messages": ["long"]}, config=SLOW, actor=SYSTEM
        )

        async def streaming():
            active = executor.active.get(str(run.pk))
            return active is not None and active.partial is not None

        await wait_for(streaming)
        await orm(lambda: Run.objects.filter(pk=run.pk).update(cancel_action="interrupt"))()
        await wait_status(run.pk, RunStatus.INTERRUPTED, timeout=2)
    finally:
        await executor.stop()


async def test_a_run_cut_off_mid_answer_is_resumed_from_its_last_checkpoint(thread):
    """Its completed steps (the tool call and result) are not run again; the
    step it was in (the answer) is, and the final state is a whole run's."""
    first = Executor(worker_id="dies")
    await first.start()
    run = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["what's the weather in Oslo?"]}, config=SLOW, actor=SYSTEM
    )
    await wait_for(
        lambda: orm(lambda: len(state_values(thread.pk).get("messages", [])) >= 3)(), timeout=10
    )
    await wait_streaming(first, run.pk, min_chars=10)
    before = [m["id"] for m in (await orm(state_values)(thread.pk))["messages"]]
    await first.stop()  # gone without settling its run, as after kill -9
    await expire(run.pk, worker_id="dies")
    second = Executor(worker_id="resumes")
    await second.start()
    try:
        done = await wait_status(run.pk, RunStatus.SUCCESS, timeout=20)
    finally:
        await second.stop()
    assert done.attempt == 2
    messages = await messages_of(thread.pk)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert [m["id"] for m in messages[:3]] == before[:3]  # the same tool call, not a new one
    assert messages[3]["content"].startswith("The weather in Oslo is sunny")
    assert len(messages[3]["content"].split()) == 60
    # Resumed, not started over: the input was applied once, the steps go on.
    steps = await orm(
        lambda: [
            (c.metadata["source"], c.metadata["step"])
            for c in Checkpoint.objects.filter(run_id=str(run.pk)).order_by("checkpoint_id")
        ]
    )()
    print("STEPS", steps)
    assert [source for source, _ in steps].count("input") == 1
    assert [step for _, step in steps] == sorted({step for _, step in steps})


async def test_a_worker_stopped_mid_run_stores_what_it_held_before_handing_it_back(
    thread, settings
):
    """SIGTERM past the grace: the run's checkpoints still in memory (held
    here for 30 s, so every one is) are stored before the run is handed back,
    and its next attempt resumes after the tool call instead of redoing it."""
    settings.RUNS_CHECKPOINT_DELAY_SECONDS = 30
    first = Executor(worker_id="stopping")
    await first.start()
    run = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["what's the weather in Oslo?"]}, config=SLOW, actor=SYSTEM
    )
    await wait_streaming(first, run.pk, min_chars=10)  # the answer, after the tool's steps
    await first.shutdown(grace=0)
    released = await orm(Run.objects.get)(pk=run.pk)
    assert (released.status, released.worker_id) == (RunStatus.PENDING, "")
    stored = (await orm(state_values)(thread.pk))["messages"]
    assert [m["type"] for m in stored] == ["human", "ai", "tool"]
    second = Executor(worker_id="resumes")
    await second.start()
    try:
        await wait_status(run.pk, RunStatus.SUCCESS, timeout=20)
    finally:
        await second.stop()
    messages = await messages_of(thread.pk)
    assert [m["type"] for m in messages] == ["human", "ai", "tool", "ai"]
    assert [m["id"] for m in messages[:3]] == [m["id"] for m in stored]  # not called again


def state_values(thread_id) -> dict:
    return persistence.state_values(in_database(thread_id))


def _finish_interrupted(thread_id, run_id, written: list):
    return queue.finish_run(
        thread_id,
        run_id,
        "test-worker",
        status=RunStatus.INTERRUPTED,
        state_writes=lambda: written.append(run_id),
        hand_over=True,
    )


async def test_finishing_writes_the_partial_answer_and_hands_the_thread_over(thread):
    """The partial answer's writes commit with the interrupted run's end, and
    the same call claims the thread's next run."""
    first = await orm(run_service.create_run)(thread.pk, input={"messages": ["a"]}, actor=SYSTEM)
    assert (await orm(queue.claim_next_run)("test-worker", thread.pk)).run_id == str(first.pk)
    second = await orm(run_service.create_run)(
        thread.pk, input={"messages": ["b"]}, multitask_strategy="interrupt", actor=SYSTEM
    )
    written = []
    finished = await orm(_finish_interrupted)(thread.pk, first.pk, written)
    assert written == [first.pk]
    assert finished.run["status"] == "interrupted"
    assert finished.next.run_id == str(second.pk)
    second = await orm(Run.objects.get)(pk=second.pk)
    assert (second.status, second.worker_id) == (RunStatus.RUNNING, "test-worker")
    assert (await orm(Thread.objects.get)(pk=thread.pk)).status == ThreadStatus.BUSY


async def test_the_hand_over_waits_for_a_next_run_that_is_not_due(thread):
    """A run queued with after_seconds is not started by the end of the run
    before it: the thread stays busy, the run pending, for the claim that
    finds it due."""
    first = await orm(run_service.create_run)(thread.pk, input={"messages": ["a"]}, actor=SYSTEM)
    await orm(queue.claim_next_run)("test-worker", thread.pk)
    later = await orm(run_service.create_run)(
        thread.pk,
        input={"messages": ["b"]},
        multitask_strategy="enqueue",
        after_seconds=60,
        actor=SYSTEM,
    )
    finished = await orm(_finish_interrupted)(thread.pk, first.pk, [])
    assert finished.run["status"] == "interrupted" and finished.next is None
    assert (await orm(Run.objects.get)(pk=later.pk)).status == RunStatus.PENDING
    assert (await orm(Thread.objects.get)(pk=thread.pk)).status == ThreadStatus.BUSY


async def test_a_run_rolled_back_before_it_finished_writes_nothing(thread):
    """Rolled back while the executor kept its partial answer: the answer's
    writes are not made (the run is no longer there to make them)."""
    first = await orm(run_service.create_run)(thread.pk, input={"messages": ["a"]}, actor=SYSTEM)
    await orm(queue.claim_next_run)("test-worker", thread.pk)
    await orm(run_service.create_run)(
        thread.pk, input={"messages": ["b"]}, multitask_strategy="rollback", actor=SYSTEM
    )
    written = []
    assert await orm(_finish_interrupted)(thread.pk, first.pk, written) is None
    assert written == []


def test_runs_claimed_before_a_failed_claim_are_handed_out(monkeypatch):
    """One call claims as many runs as the executor has room for; a claim
    that fails after others committed must not lose those."""
    threads = [make_thread() for _ in range(3)]
    for thread in threads:
        run_service.create_run(thread.pk, input={"messages": []}, actor=SYSTEM)
    claim, calls = queue.claim_next_run, []

    def failing_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return claim(*args, **kwargs)

    monkeypatch.setattr(queue, "claim_next_run", failing_second)
    [claimed] = queue.claim_runs("w", 3)
    assert Run.objects.get(pk=claimed.run_id).status == RunStatus.RUNNING
    calls[:] = [None]  # the next claim fails, with nothing claimed: the caller's error
    with pytest.raises(RuntimeError):
        queue.claim_runs("w", 3)


def test_a_claim_whose_head_cannot_be_read_is_still_handed_out(monkeypatch):
    thread = make_thread()
    run = run_service.create_run(thread.pk, input={"messages": []}, actor=SYSTEM)

    def broken(thread_id):
        raise RuntimeError("cannot read")

    monkeypatch.setattr(persistence, "latest", broken)
    claimed = queue.claim_next_run("w", thread.pk, read_head=True)
    assert claimed.run_id == str(run.pk) and claimed.head is None
