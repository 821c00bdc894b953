"""Round trips to PostgreSQL of a double-text's transactions (the create, the
stopped run's end, the next run's claim) and of a guarded checkpoint write,
counted on the wire.

Each statement of a transaction was a round trip: sent, its answer waited
for, the next one sent. Pipelined (chatapp/platform/pipeline.py), the
statements whose answer nothing reads before the next goes out share one.
Counted by a TCP relay between the test's connection and PostgreSQL: a round
trip is the server answering after the client sent something.
"""

import asyncio
import contextlib
import selectors
import socket
import threading

import pytest
from django.db import IntegrityError, connection, connections, transaction
from langgraph.checkpoint.base import empty_checkpoint

from chatapp.platform.pipeline import pipelined
from runs.models import Run, RunStatus, Thread
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from runs.worker import transactions as queue
from runs.worker.saver import RunSaver
from tests.conftest import make_thread

pytestmark = pytest.mark.django_db(transaction=True)
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's round trips"
)


class CountingRelay:
    """Relays one connection to PostgreSQL and counts the server's answers
    that follow something the client sent."""

    def __init__(self, host: str, port: int):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target = (host, port)
        self.count = 0
        self.lock = threading.Lock()
        self.client_spoke = False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def reset(self) -> None:
        with self.lock:
            self.count, self.client_spoke = 0, False

    def _relay(self) -> None:
        client, _ = self.listener.accept()
        server = socket.create_connection(self.target)
        with client, server, selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ)
            selector.register(server, selectors.EVENT_READ)
            while not self.stopped.is_set():
                for key, _ in selector.select(0.1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    with self.lock:
                        if key.fileobj is client:
                            self.client_spoke = True
                        elif self.client_spoke:
                            self.count += 1
                            self.client_spoke = False
                    (server if key.fileobj is client else client).sendall(data)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.listener.close()


@pytest.fixture
def round_trips():
    """This thread's default connection, through a CountingRelay (not pooled:
    one connection, the relay's)."""
    original = connections["default"]
    settings = original.settings_dict
    host = settings["HOST"] or "127.0.0.1"
    relay = CountingRelay(host, int(settings["PORT"] or 5432))
    relayed = connections.create_connection("default")
    options = {k: v for k, v in settings["OPTIONS"].items() if k != "pool"}
    relayed.settings_dict = {
        **settings,
        "HOST": "127.0.0.1",
        "PORT": str(relay.port),
        "OPTIONS": options,
    }
    connections["default"] = relayed
    try:
        relayed.ensure_connection()
        yield relay
    finally:
        relayed.close()
        connections["default"] = original
        relay.close()


def a_running_run(worker_id: str = "trips-worker"):
    thread = make_thread()
    run = run_service.create_run(thread.pk, input={"messages": ["hi"]}, actor=SYSTEM)
    assert queue.claim_next_run(worker_id, thread.pk) is not None
    return thread, run


def a_checkpoint(saver: RunSaver) -> tuple[dict, dict]:
    config = {"configurable": {"thread_id": saver.thread_id, "checkpoint_ns": ""}}
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"messages": ["hi"]}
    checkpoint["channel_versions"] = {"messages": saver.get_next_version(None, None)}
    return config, checkpoint


@on_postgresql
@pytest.mark.parametrize("queued", [False, True], ids=["alone", "handing-over"])
def test_an_interrupted_runs_end_waits_only_for_its_reads(round_trips, queued):
    """The end of an interrupted run with its partial answer (an update's
    checkpoint, kept by the saver for the end's transaction): BEGIN with the
    thread locked and the run checked; the answer's rows, the run's update,
    the question of runs in flight and the latest checkpoint's id; the
    thread's update; COMMIT. It was ten, one a statement, then five with
    BEGIN a round trip of its own (chatapp/platform/psycopg_begin.py).
    Handing the thread over to a run queued behind it: that run is asked for
    with the lock (and answers the question of the runs in flight), and its
    start goes with the thread's update: still four. With a claim of its own
    after the end it was nine."""
    thread, run = a_running_run()
    following = queued and run_service.create_run(
        thread.pk, input={"messages": ["again"]}, multitask_strategy="interrupt", actor=SYSTEM
    )
    saver = RunSaver(thread_id=thread.pk, run_id=run.pk, worker_id="trips-worker")
    saver.defer_writes()
    config, checkpoint = a_checkpoint(saver)
    versions = dict(checkpoint["channel_versions"])
    asyncio.run(saver.aput(config, checkpoint, {"source": "update", "step": 1}, versions))
    round_trips.reset()
    finished = queue.finish_run(
        thread.pk,
        run.pk,
        "trips-worker",
        status="interrupted",
        state_writes=saver.write_deferred,
        head=saver.latest,
        hand_over=queued,
    )
    assert finished is not None and finished.run["status"] == "interrupted"
    assert round_trips.count == 4
    assert Run.objects.get(pk=run.pk).status == RunStatus.INTERRUPTED
    thread = Thread.objects.get(pk=thread.pk)
    assert thread.values == {"messages": ["hi"]}
    if not queued:
        assert thread.status == "idle" and finished.next is None
        return
    assert thread.status == "busy" and finished.next.run_id == str(following.pk)
    assert finished.next.head[0].checkpoint["channel_values"] == {"messages": ["hi"]}
    started = Run.objects.get(pk=following.pk)
    assert (started.status, started.worker_id) == (RunStatus.RUNNING, "trips-worker")


@on_postgresql
def test_an_interrupting_message_sends_its_writes_together(round_trips):
    """BEGIN with the thread locked and its runs in flight asked for; the
    running run told to stop, the thread's update and the new run together;
    COMMIT. It was seven, then four."""
    thread, running = a_running_run()
    round_trips.reset()
    run = run_service.create_run(
        thread.pk, input={"messages": ["again"]}, multitask_strategy="interrupt", actor=SYSTEM
    )
    assert round_trips.count == 3
    assert Run.objects.get(pk=running.pk).cancel_action == "interrupt"
    assert Run.objects.get(pk=run.pk).status == RunStatus.PENDING
    assert Thread.objects.get(pk=thread.pk).run_counter == 2


@on_postgresql
def test_a_claim_sends_its_updates_together(round_trips):
    """BEGIN with the claimable thread locked; its first pending run; the
    run's and the thread's updates together; COMMIT. It was six, then five."""
    thread = make_thread()
    run = run_service.create_run(thread.pk, input={"messages": ["hi"]}, actor=SYSTEM)
    round_trips.reset()
    claimed = queue.claim_next_run("trips-worker", thread.pk)
    assert claimed is not None and claimed.run_id == str(run.pk)
    assert round_trips.count == 4
    assert Run.objects.get(pk=run.pk).status == RunStatus.RUNNING
    assert Thread.objects.get(pk=thread.pk).status == "busy"


@on_postgresql
def test_a_guarded_checkpoint_is_three_round_trips(round_trips):
    """BEGIN with the thread's lock and the run's check; the checkpoint's rows
    together; COMMIT. It was one a statement, then four."""
    thread, run = a_running_run()
    saver = RunSaver(thread_id=thread.pk, run_id=run.pk, worker_id="trips-worker")
    config, checkpoint = a_checkpoint(saver)
    versions = dict(checkpoint["channel_versions"])
    round_trips.reset()
    stored = saver.put(config, checkpoint, {"source": "input", "step": -1}, versions)
    assert round_trips.count == 3
    assert saver.get_tuple(stored).checkpoint["channel_values"] == {"messages": ["hi"]}


@on_postgresql
def test_a_pipelined_error_is_raised_at_the_commit_and_rolls_back(round_trips):
    """A violated constraint surfaces where the pipeline next waits, as
    Django's error; nothing of the transaction stays, and the connection
    goes on."""
    first, second = make_thread(), make_thread()
    Run.objects.create(thread_id=first.pk, seq=1, assistant_id="agent", status=RunStatus.RUNNING)
    run = Run.objects.create(thread_id=first.pk, seq=2, assistant_id="agent")
    with pytest.raises(IntegrityError), pipelined(), transaction.atomic():
        Thread.objects.filter(pk=second.pk).update(metadata={"touched": True})
        # A second running run on the thread: one_running_run_per_thread.
        Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    assert Thread.objects.get(pk=second.pk).metadata == {}
    assert Run.objects.get(pk=run.pk).status == RunStatus.PENDING


@on_postgresql
def test_a_nested_pipeline_raises_its_own_error(round_trips):
    """Leaving an inner `pipelined()` waits for what it queued: its caller
    sees a failed write there, not at the outer block's COMMIT (the saver
    keeps what it failed to store, RunSaver.write_queued)."""
    thread = make_thread()
    Run.objects.create(thread_id=thread.pk, seq=1, assistant_id="agent", status=RunStatus.RUNNING)
    run = Run.objects.create(thread_id=thread.pk, seq=2, assistant_id="agent")
    seen = []
    with pytest.raises(IntegrityError), pipelined(), transaction.atomic():
        try:
            with pipelined():
                Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
            seen.append("inner block left")
        except IntegrityError:
            seen.append("raised inside")
            raise
    assert seen == ["raised inside"]


def test_pipelined_does_nothing_off_postgresql(monkeypatch):
    """Elsewhere statements run one by one, as before: an UPDATE's row count
    is known at once."""
    thread = make_thread()
    if connection.vendor == "postgresql":
        from psycopg import pq

        connection.ensure_connection()
        monkeypatch.setattr(connection, "vendor", "sqlite")
        with pipelined():
            assert connection.connection.pgconn.pipeline_status == pq.PipelineStatus.OFF
        return
    with pipelined():
        assert Thread.objects.filter(pk=thread.pk).update(metadata={"a": 1}) == 1


@on_postgresql
def test_a_pipelined_transactions_begin_shares_its_first_round_trip(round_trips):
    """chatapp/platform/psycopg_begin.py: psycopg alone syncs right after the
    BEGIN it sends in pipeline mode, a round trip of its own. When this
    fails, psycopg no longer does: the patch can go."""
    from chatapp.platform.psycopg_begin import begun

    thread = make_thread()

    def trips(begin: bool) -> int:
        round_trips.reset()
        with transaction.atomic():
            conn = connection.connection
            with conn.pipeline(), begun(conn) if begin else contextlib.nullcontext():
                Thread.objects.filter(pk=thread.pk).update(metadata={"begun": begin})
        return round_trips.count

    assert trips(False) == trips(True) + 1 == 3  # BEGIN; the update; COMMIT
    assert Thread.objects.get(pk=thread.pk).metadata == {"begun": True}


@on_postgresql
def test_a_transaction_begun_with_its_statements_rolls_back_whole(round_trips):
    """The BEGIN sent with the first statements opens the transaction they
    run in: an error after them rolls them back too."""
    first, second = make_thread(), make_thread()
    Run.objects.create(thread_id=first.pk, seq=1, assistant_id="agent", status=RunStatus.RUNNING)
    run = Run.objects.create(thread_id=first.pk, seq=2, assistant_id="agent")
    with pytest.raises(IntegrityError), transaction.atomic(), pipelined():
        Thread.objects.filter(pk=second.pk).update(metadata={"touched": True})
        assert Thread.objects.get(pk=second.pk).metadata == {"touched": True}  # a read: a sync
        Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    assert Thread.objects.get(pk=second.pk).metadata == {}
    assert Run.objects.get(pk=run.pk).status == RunStatus.PENDING
    from psycopg.pq import TransactionStatus

    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
