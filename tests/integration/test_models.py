"""Constraints the database itself enforces."""

import pytest
from django.db import IntegrityError, transaction

from runs.models import Checkpoint, Run, RunStatus
from runs.services import state
from runs.services.actors import SYSTEM
from tests.conftest import make_thread

pytestmark = pytest.mark.django_db


def make_run(thread, seq, status):
    return Run.objects.create(thread=thread, seq=seq, assistant_id="agent", status=status)


def test_at_most_one_running_run_per_thread():
    thread = make_thread()
    make_run(thread, 1, RunStatus.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_run(thread, 2, RunStatus.RUNNING)
    # Pending and finished runs are not limited; other threads are independent.
    make_run(thread, 3, RunStatus.PENDING)
    make_run(thread, 4, RunStatus.SUCCESS)
    make_run(make_thread(), 1, RunStatus.RUNNING)


def test_run_sequence_is_unique_per_thread():
    thread = make_thread()
    make_run(thread, 1, RunStatus.SUCCESS)
    with pytest.raises(IntegrityError), transaction.atomic():
        make_run(thread, 1, RunStatus.SUCCESS)


def test_status_must_be_a_known_value():
    thread = make_thread()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_run(thread, 1, "exploded")


def test_current_state_uses_the_latest_checkpoint_index():
    """Reading the state is one indexed probe, not a scan of the history."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    thread = make_thread()
    for i in range(30):
        state.update_state(thread.pk, values={"messages": [f"m{i}"]}, actor=SYSTEM)
    with CaptureQueriesContext(connection) as queries:
        checkpoint = state.current_state(thread.pk, actor=SYSTEM)
    assert len(queries) == 1
    sql = queries[0]["sql"].upper()
    assert "ORDER BY" in sql and "LIMIT 1" in sql
    # ... answered by the (thread, -id) index, on SQLite and PostgreSQL alike.
    plan = Checkpoint.objects.filter(thread_id=thread.pk).order_by("-id")[:1].explain()
    assert "checkpoint_thread_latest_idx" in plan, plan
    assert [m["content"] for m in checkpoint.values["messages"]][-1] == "m29"
    assert len(checkpoint.values["messages"]) == 30
