"""The executor's plain-SQL statements (runs/worker/sql.py): the saver's guard
against a rollback that holds the thread's lock while the run's next write
waits for it (PostgreSQL's row locks), and settling a thread's status."""

import threading
import time

import pytest
from django.db import close_old_connections, connection, transaction

from runs.models import Run, Thread
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from runs.worker import transactions as queue
from runs.worker.saver import RunCancelled, RunSaver
from tests.conftest import make_thread

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_write_waiting_behind_a_rollback_sees_its_run_gone():
    """The write's guard waits for the thread's lock; the rollback holding it
    updates the thread and deletes the run, then commits: the guard must see
    the run gone (a statement that joined the run to the locked thread re-checked
    the thread's new row only, with the run's row from before the wait)."""
    if not connection.features.has_select_for_update:
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises writers; no row locks")
    thread = make_thread()
    run = run_service.create_run(thread.pk, input={"messages": ["hi"]}, actor=SYSTEM)
    claim = queue.claim_next_run("guard-worker", thread.pk)
    assert claim is not None and claim.run_id == str(run.pk)
    saver = RunSaver(thread_id=thread.pk, run_id=run.pk, worker_id="guard-worker")
    locked, outcome = threading.Event(), {}

    def rollback():
        try:
            with transaction.atomic():
                Thread.objects.select_for_update().get(pk=thread.pk)
                locked.set()
                time.sleep(0.5)  # the guard is waiting for the lock now
                Thread.objects.filter(pk=thread.pk).update(status="idle")
                Run.objects.filter(pk=run.pk).delete()
        finally:
            close_old_connections()
            connection.close()

    def write():
        locked.wait(5)
        try:
            with transaction.atomic():
                saver.check_run()
            outcome["result"] = "allowed"
        except RunCancelled:
            outcome["result"] = "cancelled"
        finally:
            connection.close()

    threads = [threading.Thread(target=rollback), threading.Thread(target=write)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert outcome == {"result": "cancelled"}


def test_a_thread_with_a_queued_run_stays_busy_when_its_run_ends():
    """_settle_thread: another run in flight keeps the thread busy; the last
    one's end makes it idle."""
    from runs.models import ThreadStatus

    thread = make_thread()
    first = run_service.create_run(thread.pk, input={"messages": ["a"]}, actor=SYSTEM)
    assert queue.claim_next_run("settle-worker", thread.pk).run_id == str(first.pk)
    second = run_service.create_run(
        thread.pk, input={"messages": ["b"]}, multitask_strategy="enqueue", actor=SYSTEM
    )
    queue.finish_run(thread.pk, first.pk, "settle-worker", status="success")
    assert Thread.objects.get(pk=thread.pk).status == ThreadStatus.BUSY
    assert queue.claim_next_run("settle-worker", thread.pk).run_id == str(second.pk)
    queue.finish_run(thread.pk, second.pk, "settle-worker", status="success")
    assert Thread.objects.get(pk=thread.pk).status == ThreadStatus.IDLE
