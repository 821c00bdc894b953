"""Constraints the database itself enforces."""

import pytest
from django.db import IntegrityError, transaction

from runs.models import Run, RunStatus
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


def test_the_state_is_read_in_the_same_few_queries_whatever_the_history():
    """The thread, then its latest checkpoint, writes and values (index probes,
    asserted in tests/integration/checkpoints/test_queries.py): not a walk
    over the history."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    thread = make_thread(metadata={"graph_id": "agent"})
    counts, updates = [], 0
    for history in (5, 30):
        while updates < history:
            state.update_state(
                thread.pk, values={"messages": [f"m{updates}"]}, as_node="model", actor=SYSTEM
            )
            updates += 1
        with CaptureQueriesContext(connection) as queries:
            current = state.get_state(thread.pk, actor=SYSTEM)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 4, counts
    assert [m["content"] for m in current["values"]["messages"]][-1] == "m29"
    assert len(current["values"]["messages"]) == 30
