"""What the hot paths cost, counted (never timed): statements per operation,
database connections per run, no write per streamed token, and query plans
that stay independent of how many threads the database holds.

bench/queries.py prints the same counts; bench/README.md has the timings.
"""

import asyncio
import threading

import pytest
from django.db import connection, transaction
from django.db.backends.signals import connection_created
from django.db.models.sql.query import Query
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checkpoints.models import Checkpoint
from runs.models import Run
from runs.services import assistants, persistence, state, threads
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from runs.services.errors import ThreadBusy
from runs.worker import sql as claim_sql
from runs.worker import transactions as queue
from runs.worker.executor import Executor
from tests.conftest import make_thread, make_user, orm

USER = {"messages": [{"role": "user", "content": "hello"}]}


def answer(words: int) -> dict:
    return {"configurable": {"token_delay": 0, "reply_words": words}}


class ExecutorStatements:
    """Counts the connections the executor's database threads open and the
    statements they run (installed before the executor connects)."""

    def __init__(self):
        self.connections = 0
        self.statements = 0
        self.lock = threading.Lock()

    def __enter__(self):
        connection_created.connect(self.created)
        return self

    def __exit__(self, *exc):
        connection_created.disconnect(self.created)

    @staticmethod
    def ours() -> bool:
        return threading.current_thread().name.startswith("runs-executor-db")

    def created(self, sender, connection, **kwargs):
        if self.ours():
            with self.lock:
                self.connections += 1
            connection.execute_wrappers.append(self.wrapper)

    def wrapper(self, execute, sql, params, many, context):
        with self.lock:
            self.statements += 1
        return execute(sql, params, many, context)


async def run_to_end(thread_id, words: int) -> Run:
    run = await orm(run_service.create_run)(
        thread_id, input=USER, config=answer(words), actor=SYSTEM
    )
    for _ in range(1000):
        current = await orm(Run.objects.get)(pk=run.pk)
        if current.status not in ("pending", "running"):
            return current
        await asyncio.sleep(0.01)
    raise AssertionError("run did not end")


@pytest.mark.django_db(transaction=True)
async def test_executor_reuses_its_connection_and_writes_nothing_per_token(settings):
    # The look for due crons is a statement per RUNS_CRON_POLL_SECONDS, not per
    # run: left out, so the count does not grow with how long the runs take.
    settings.RUNS_CRON_POLL_SECONDS = 3600
    # Each checkpoint stored at once: held (the default 0.05 s), a run that
    # outlasts the hold on a loaded machine adds a flush, which is a statement
    # per 0.05 s, not per token (test_a_one_step_run_is_two_calls_... counts those).
    settings.RUNS_CHECKPOINT_DELAY_SECONDS = 0
    thread = await orm(make_thread)()
    with ExecutorStatements() as counted:
        executor = Executor(worker_id="cost-worker")
        await executor.start()
        try:
            await run_to_end(thread.pk, 3)  # warm up: connect
            await asyncio.sleep(0.1)
            spent = []
            for words in (3, 120):
                before = counted.statements
                for _ in range(3):
                    assert (await run_to_end(thread.pk, words)).status == "success"
                    await asyncio.sleep(0.1)  # the hand-over after the run
                spent.append(counted.statements - before)
        finally:
            await executor.stop()
    # One connection per database thread for all the runs, not one per call.
    assert counted.connections <= executor.db.size
    # A 120-token answer costs what a 3-token one does: no statement per token
    # (a little slack for the scheduler's periodic poll).
    short, long = spent
    assert long <= short + 4, spent
    # A one-step graph (the demo's answer), on SQLite: the claim (6: a read
    # without the write lock that finds the thread, then BEGIN, the same
    # question under the lock, the run, two UPDATEs; no re-check of the
    # running runs), the failed claim of the scheduler's fill (1: the read, no
    # BEGIN), the graph's first read of the thread (3), three checkpoints, each
    # a transaction that locks the thread and checks the run, with the two
    # task writes (one INSERT each) in the next checkpoint's (14), finishing
    # with the thread's values (7: they are the saver's last checkpoint, not
    # read back; one probe checks it is still the latest). No claim for the
    # hand-over: finishing saw that nothing else is in flight. On PostgreSQL
    # 28: no BEGIN statements, but the guard locks the thread and reads the
    # run in two (runs/worker/sql.py). The task writes in transactions of
    # their own made it 35 (32).
    assert short <= 3 * 31, spent


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("delay", [30, 0], ids=["held", "stored-at-once"])
async def test_a_one_step_run_is_two_calls_to_the_database_thread(settings, delay):
    """Each call is a hop from the event loop to the executor's database
    thread and back (and, where it writes, a transaction): the claim, with the
    thread's latest checkpoint that the graph starts from; the run's end, with
    its three checkpoints and their task writes, held in memory meanwhile
    (RUNS_CHECKPOINT_DELAY_SECONDS; 0.05 s by default, 30 here: longer than
    the run, however loaded the machine). Stored at once
    (a delay of 0), each checkpoint is a call of its own: five. It was eight:
    the graph's first read and two task writes had calls of their own."""
    settings.RUNS_CRON_POLL_SECONDS = 3600
    settings.RUNS_CHECKPOINT_DELAY_SECONDS = delay
    thread = await orm(make_thread)()
    executor = Executor(worker_id="cost-worker")
    calls = []
    run = executor.db.run

    async def counted(func, /, *args, **kwargs):
        calls.append(getattr(func, "__name__", repr(func)))
        return await run(func, *args, **kwargs)

    executor.db.run = counted
    await executor.start()
    try:
        await run_to_end(thread.pk, 3)  # warm up
        await asyncio.sleep(0.1)
        calls.clear()
        done = await run_to_end(thread.pk, 3)
        assert done.status == "success"
        await asyncio.sleep(0.1)
    finally:
        await executor.stop()
    ours = [name for name in calls if name != "close_all" and not name.startswith("_close")]
    puts = [] if delay else ["put"] * 3
    assert sorted(ours) == sorted(["claim_runs", *puts, "finish_run"]), calls
    stored = await orm(lambda: Checkpoint.objects.filter(run_id=str(done.pk)).count())()
    assert stored == 3


class Recorded(ExecutorStatements):
    """The statements of the executor's database threads, in order, while `on`."""

    def __init__(self):
        super().__init__()
        self.on = False
        self.sql: list[tuple[str, tuple]] = []

    def wrapper(self, execute, sql, params, many, context):
        if self.on:
            with self.lock:
                self.sql.append((sql, tuple(params or ())))
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)
async def test_an_interrupt_settles_and_hands_over_in_one_transaction(monkeypatch):
    """From the interrupting message to the interrupted run's end, the executor
    makes one write transaction: the partial answer's checkpoint (LangGraph's
    update_state, its writes kept by the saver), the run's end, the thread's
    values, and the start of the message's run. It was five, then two: the
    cancelled step's refused write, the update's task writes and its
    checkpoint (each guarded), finish, the hand-over's claim (plus a
    claim woken by the create that found the thread busy), each queued on the
    executor's one SQLite thread, most behind a hop to the event loop. The
    start also hands the message's run the thread's latest checkpoint, which
    it would read in a call of its own as it starts: the partial answer the
    interrupted run's saver holds, not decoded back from the database."""
    thread = await orm(make_thread)()
    with Recorded() as recorded:
        real_finish, real_latest = queue.finish_run, persistence.latest
        first_reads = []

        def finish_run(*args, **kwargs):
            try:
                return real_finish(*args, **kwargs)
            finally:
                recorded.on = False  # the rest is the next run's

        def latest(thread_id):
            if not recorded.on:
                return real_latest(thread_id)
            recorded.on = False  # the next run's first read
            try:
                first_reads.append(str(thread_id))
                return real_latest(thread_id)
            finally:
                recorded.on = True

        monkeypatch.setattr(queue, "finish_run", finish_run)
        monkeypatch.setattr(persistence, "latest", latest)
        executor = Executor(worker_id="cost-worker")
        await executor.start()
        try:
            slow = {"configurable": {"token_delay": 0.05, "reply_words": 200}}
            first = await orm(run_service.create_run)(
                thread.pk, input=USER, config=slow, actor=SYSTEM
            )
            for _ in range(500):
                active = executor.active.get(str(first.pk))
                if active is not None and active.partial is not None and active.partial.tokens > 1:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the first run did not stream")
            recorded.on = True
            second = await orm(run_service.create_run)(
                thread.pk,
                input=USER,
                config=answer(3),
                multitask_strategy="interrupt",
                actor=SYSTEM,
            )
            for _ in range(500):
                if (await orm(Run.objects.get)(pk=second.pk)).status == "success":
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the second run did not run")
        finally:
            await executor.stop()
    assert (await orm(Run.objects.get)(pk=first.pk)).status == "interrupted"
    assert first_reads == []
    statements = [sql for sql, _ in recorded.sql]
    settle = recorded.sql
    if connection.vendor == "sqlite":  # PostgreSQL's BEGIN is not a statement of ours
        begins = [sql for sql in statements if sql.startswith("BEGIN")]
        assert len(begins) == 1, statements  # the settle, with the next run's start
        settle = recorded.sql[statements.index(begins[0]) :]
    assert any(sql.startswith('INSERT INTO "checkpoints_checkpoint"') for sql, _ in settle)
    assert any(
        sql.startswith('UPDATE "runs_run"')
        and "running" in params
        and second.pk.hex in (str(param).replace("-", "") for param in params)
        for sql, params in settle
    ), settle
    # No write of the cancelled step tried (the saver refuses it at once). The
    # update's read of the head checkpoint (1: the run's last checkpoint, held
    # by its saver, checked to be the latest by one probe); BEGIN, the thread
    # locked, the run checked, the thread's first pending run (4); the partial
    # answer: its task writes, blobs, checkpoint (3); the run ended, the
    # thread's values (3: the partial answer's checkpoint as the saver wrote
    # it, checked the same way; no question of the runs in flight, the
    # pending run answers it); the next run started (1). Its head is the
    # checkpoint the end copied onto the thread under its lock. It was 17: the
    # claim in a transaction of its own after the end (6 with its BEGIN).
    assert len(statements) <= 12, statements
    # The latest checkpoint's id, probed by the update's read and by the end
    # under its lock; not a third time for the next run's head.
    probes = [sql for sql in statements if sql.startswith('SELECT "checkpoint_id" FROM')]
    assert len(probes) == 2, statements
    # Neither the thread's stored conversation nor a checkpoint the run wrote
    # is read back.
    assert not [sql for sql in statements if '"runs_thread"."values"' in sql], statements
    assert not [sql for sql in statements if sql.startswith("SELECT") and "blob" in sql], statements
    # The thread's lock and the run's check are lookups by key: no ORDER BY
    # (first() sorted by the models' ordering, for a run a join to its thread).
    assert not [sql for sql in statements if '"runs_thread"."created_at" DESC' in sql], statements


def test_a_message_that_interrupts_a_running_run_wakes_no_worker(transactional_db, monkeypatch):
    """The running run hands the thread over when it ends (finish_run): a
    wake-up would only cost every worker a claim that finds the thread busy.
    A rollback (nothing left running) or an idle thread still wakes them."""
    woken = []
    monkeypatch.setattr(run_service, "wake_workers_sync", woken.append)
    for strategy, wakes in (("interrupt", False), ("enqueue", False), ("rollback", True)):
        thread = make_thread()
        run_service.create_run(thread.pk, input=USER, actor=SYSTEM)
        assert woken == [thread.pk]
        assert queue.claim_next_run("elsewhere", thread.pk) is not None
        woken.clear()
        run_service.create_run(thread.pk, input=USER, multitask_strategy=strategy, actor=SYSTEM)
        assert bool(woken) == wakes, strategy
        woken.clear()


def test_claim_is_driven_by_pending_runs_not_by_threads(db):
    """The claim query must not read every thread of the database."""
    if connection.vendor != "sqlite":
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's; PostgreSQL plans it as a semi-join")
    sql, params = claim_sql.claimable_thread(timezone.now(), lock=True)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
    assert "SCAN runs_thread" not in plan, plan
    assert "USING INDEX run_status_lease_idx (status=?)" in plan, plan


def test_get_state_is_four_statements(transactional_db, django_assert_num_queries):
    """The thread (ownership and graph), then its latest checkpoint, its
    pending writes and its values: each an index probe."""
    thread = make_thread(metadata={"graph_id": "agent"})
    state.update_state(thread.pk, values=USER, actor=SYSTEM)
    with django_assert_num_queries(4):
        state.get_state(thread.pk, actor=SYSTEM)


def test_double_text_statement_budget(transactional_db, django_assert_max_num_queries):
    """The strategy decision is one short transaction: lock, read the runs in
    flight, cancel them, append the new run."""
    # BEGIN (SQLite), the statements, COMMIT or ROLLBACK.
    # Rollback also deletes the run's checkpoints and writes and reads the
    # thread's restored state for its values, and remembers the erased run
    # for the timeline (one INSERT into RolledBackRun).
    budgets = {"reject": 4, "interrupt": 7, "rollback": 13, "enqueue": 6}
    for strategy, budget in budgets.items():
        thread = make_thread()
        run_service.create_run(thread.pk, input=USER, actor=SYSTEM)
        assert queue.claim_next_run("elsewhere", thread.pk) is not None
        with django_assert_max_num_queries(budget):
            try:
                run_service.create_run(
                    thread.pk, input=USER, multitask_strategy=strategy, actor=SYSTEM
                )
            except ThreadBusy:
                assert strategy == "reject"


def test_a_run_of_an_assistant_reads_it_once(transactional_db):
    """A default assistant costs a run nothing (no options of its own); a
    user's costs one index probe, its options read with it."""
    owner = make_user("alice")
    mine = assistants.create_assistant(actor=owner, graph_id="agent", context={"reply_words": 3})
    counts = {}
    for assistant_id in ("agent", str(mine.pk)):
        thread = make_thread(owner)
        with CaptureQueriesContext(connection) as captured:
            run_service.create_run(thread.pk, assistant_id=assistant_id, input=USER, actor=owner)
        counts[assistant_id] = len(captured)
    assert counts[str(mine.pk)] == counts["agent"] + 1


def test_creating_a_run_does_not_read_the_thread_state(transactional_db):
    """A message on a long conversation does not decode the conversation (the
    thread's copy of its state) to lock the thread, whatever the strategy."""
    for strategy in ("enqueue", "interrupt", "rollback"):
        thread = make_thread(metadata={"graph_id": "agent"})
        state.update_state(thread.pk, values=USER, actor=SYSTEM)
        run_service.create_run(thread.pk, input=USER, actor=SYSTEM)
        assert queue.claim_next_run("elsewhere", thread.pk) is not None
        with CaptureQueriesContext(connection) as queries:
            run_service.create_run(thread.pk, input=USER, multitask_strategy=strategy, actor=SYSTEM)
        reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT")]
        assert reads and not [sql for sql in reads if '"runs_thread"."values"' in sql], reads


@pytest.mark.django_db(transaction=True)
async def test_streamed_tokens_do_not_hop_to_the_sync_thread(monkeypatch):
    """Channels' consumers run close_old_connections on the shared sync thread
    before every handler; ours skip it for channel-layer events (tokens)."""
    import channels.consumer
    from channels.layers import get_channel_layer

    from runs.bus import protocol
    from tests.integration.ws.test_consumer import communicator

    thread = await orm(make_thread)()
    owner = await orm(lambda: thread.owner)()
    ws = communicator(f"/ws/threads/{thread.pk}/", owner)
    assert (await ws.connect())[0]
    await ws.receive_json_from()  # state
    hops = []
    original = channels.consumer.aclose_old_connections

    async def counted():
        hops.append(1)
        await original()

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    layer = get_channel_layer()
    for index in range(20):
        chunk = {"type": "AIMessageChunk", "content": f" w{index}", "id": "m"}
        token = protocol.part_event(
            thread.pk, "r", mode="messages", ns=(), data=[chunk, {}], seq=index, index=index
        )
        await layer.group_send(protocol.thread_group(thread.pk), token)
    frames = [await ws.receive_json_from() for _ in range(20)]
    assert [f["index"] for f in frames] == list(range(20))
    assert hops == []
    await ws.disconnect()


async def test_in_memory_layer_does_not_walk_every_channel_per_message(monkeypatch):
    from channels.layers import InMemoryChannelLayer as ChannelsLayer

    from chatapp.platform.inmemory_layer import InMemoryChannelLayer

    walks = []
    monkeypatch.setattr(ChannelsLayer, "_clean_expired", lambda self: walks.append(1))
    layer = InMemoryChannelLayer(capacity=1000)
    channels = [await layer.new_channel() for _ in range(3)]
    for channel in channels:
        await layer.group_add("g", channel)
    for i in range(100):
        await layer.group_send("g", {"type": "x", "i": i})
    received = [await layer.receive(channels[0]) for _ in range(100)]
    assert [m["i"] for m in received] == list(range(100))
    assert len(walks) <= 2  # at most once per clean_interval (1 s), not 200 times


async def test_events_from_sync_code_are_queued_in_order_without_waiting(monkeypatch):
    """send_sync from a sync_to_async thread (a view, an on_commit hook) does
    not hold that thread for the channel layer: it queues to the loop."""
    from asgiref.sync import sync_to_async

    from runs.bus import publish

    release = asyncio.Event()
    sent = []

    class SlowLayer:
        async def group_send(self, group, message):
            await release.wait()
            sent.append((group, message["n"]))

    monkeypatch.setattr(publish, "get_channel_layer", lambda: SlowLayer())

    def from_sync_code():
        for n in range(5):
            publish.send_sync(f"g{n % 2}", {"type": "x", "n": n})
        return "returned"

    # Would never return if send_sync waited for the (blocked) layer.
    assert await asyncio.wait_for(sync_to_async(from_sync_code)(), 5) == "returned"
    assert sent == []
    release.set()
    for _ in range(100):
        if len(sent) == 5:
            break
        await asyncio.sleep(0.01)
    assert sent == [("g0", 0), ("g1", 1), ("g0", 2), ("g1", 3), ("g0", 4)]


def test_a_claim_that_finds_nothing_is_one_read(transactional_db, django_assert_num_queries):
    """Most claims find nothing (the fill's try after each run it starts, a
    wake-up for a thread another worker took). On SQLite: one statement, and
    no write transaction (BEGIN IMMEDIATE would lock out every writer). On
    PostgreSQL the question is asked in a transaction, with SKIP LOCKED, so
    that concurrent workers pick different threads: BEGIN, it, COMMIT."""
    thread = make_thread()
    sqlite = connection.vendor == "sqlite"
    with django_assert_num_queries(2 if sqlite else 6) as captured:
        assert queue.claim_next_run("cost-worker") is None
        assert queue.claim_next_run("cost-worker", thread.pk) is None
    if sqlite:
        assert not [q for q in captured.captured_queries if "BEGIN" in q["sql"]]


def test_lookups_by_key_ask_for_no_order(transactional_db):
    """`runs.get`, the thread lock of every create and cancel: the row of a
    unique key, without the model's ordering (for a run, a join to its
    thread, compiled and sorted for one row)."""
    owner = make_user()
    thread = make_thread(owner)
    run = run_service.create_run(thread.pk, input=USER, actor=owner)
    with CaptureQueriesContext(connection) as queries:
        assert run_service.get_run(thread.pk, run.pk, actor=owner) == run
        with transaction.atomic():
            assert threads.lock_thread(thread.pk, actor=owner) == thread
    assert len(queries) >= 2
    assert not [q["sql"] for q in queries if "ORDER BY" in q["sql"]], queries.captured_queries


def test_the_request_paths_of_a_conversation_build_no_orm_query(transactional_db, monkeypatch):
    """A new thread, a message with each strategy on a busy thread, reading a
    run, and the join's and stream's read of it: prepared statements
    (chatapp.platform.prepared), not querysets compiled on every request."""
    from runs.bus.subscribe import load_run
    from runs.services.actors import owner_of_new_threads

    owner = make_user()
    owner_of_new_threads(owner)  # (the actor's resolution, once per process)
    built = []
    get_compiler = Query.get_compiler
    monkeypatch.setattr(
        Query, "get_compiler", lambda *a, **k: built.append(a) or get_compiler(*a, **k)
    )
    for strategy in ("interrupt", "rollback", "enqueue"):
        thread = threads.create_thread(actor=owner)
        first = run_service.create_run(thread.pk, input=USER, actor=owner)
        assert queue.claim_next_run("elsewhere", thread.pk) is not None
        second = run_service.create_run(
            thread.pk, input=USER, multitask_strategy=strategy, actor=owner
        )
        assert run_service.get_run(thread.pk, second.pk, actor=owner) == second
        assert load_run.__wrapped__(thread.pk, second.pk)["run_id"] == str(second.pk)
        assert (load_run.__wrapped__(thread.pk, first.pk) is None) == (strategy == "rollback")
    assert built == []
