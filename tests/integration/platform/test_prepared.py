"""chatapp.platform.prepared reads what the ORM reads and writes what it writes.

It relies on Django's converters (`Field.get_col`, `ops.get_db_converters`,
`Expression.get_db_converters`) and `Model.from_db`: these tests fail when
their behaviour changes under it (a field type the ORM converts that it does
not, a changed signature)."""

import gc
import json
import weakref
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatapp.platform import prepared
from chatapp.platform.prepared import delete, insert, select, select_one, update_fields
from runs.models import ACTIVE_RUN_STATUSES, Run, RunStatus, Thread
from runs.services import runs as run_service
from runs.services.actors import SYSTEM
from tests.conftest import make_thread

pytestmark = pytest.mark.django_db

SF = {"messages": [{"role": "user", "content": "sf"}]}


def fields_of(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def a_thread_with_runs():
    thread = make_thread(metadata={"graph_id": "agent", "nested": {"a": [1, 2]}})
    Thread.objects.filter(pk=thread.pk).update(
        values={"messages": [{"content": "é"}]},
        interrupts={"t": [{"value": 1}]},
        expires_at=timezone.now() + timedelta(hours=1),
        error={"error": "E"},
    )
    first = run_service.create_run(thread.pk, input=SF, actor=SYSTEM)
    second = run_service.create_run(
        thread.pk, input=SF, actor=SYSTEM, multitask_strategy="enqueue", after_seconds=5
    )
    return Thread.objects.get(pk=thread.pk), first, second


def test_a_thread_read_by_key_is_the_orms():
    thread, _, _ = a_thread_with_runs()
    mine = select_one(Thread, {"pk": thread.pk})
    assert type(mine) is Thread and not mine._state.adding
    assert fields_of(mine) == fields_of(thread)
    assert select_one(Thread, {"pk": thread.pk, "owner": thread.owner_id}).pk == thread.pk
    assert select_one(Thread, {"pk": thread.pk, "owner": thread.owner_id + 1}) is None


def test_deferred_fields_are_read_on_access():
    thread, _, _ = a_thread_with_runs()
    mine = select_one(Thread, {"pk": thread.pk}, defer=("values", "interrupts"))
    assert mine.get_deferred_fields() == {"values", "interrupts"}
    assert mine.values == thread.values  # read now


def test_a_raw_field_is_the_text_the_database_sends():
    """A JSON column read raw is its stored text (what `wait` sends as it is);
    the other fields are converted as the ORM does."""
    thread, _, _ = a_thread_with_runs()
    mine = select_one(Thread, {"pk": thread.pk}, raw=("values",))
    assert type(mine.values) is str
    assert json.loads(mine.values) == thread.values == {"messages": [{"content": "é"}]}
    assert {**fields_of(mine), "values": thread.values} == fields_of(thread)


def test_the_first_run_in_order_is_the_orms():
    thread, first, second = a_thread_with_runs()
    mine = select_one(Run, {"thread": thread.pk, "status": RunStatus.PENDING}, order_by=("seq",))
    orm = Run.objects.filter(thread=thread.pk, status=RunStatus.PENDING).order_by("seq").first()
    assert fields_of(mine) == fields_of(orm) and mine.pk == first.pk
    last = select_one(Run, {"thread": thread.pk, "status": RunStatus.PENDING}, order_by=("-seq",))
    assert last.pk == second.pk and last.not_before == Run.objects.get(pk=second.pk).not_before


def test_a_locked_read_needs_a_transaction_and_locks(transactional_db):
    thread = make_thread()
    with pytest.raises(RuntimeError):
        select_one(Thread, {"pk": thread.pk}, lock=True)
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        assert select_one(Thread, {"pk": thread.pk}, lock=True).pk == thread.pk
    locks = connection.features.has_select_for_update
    assert ("FOR UPDATE" in queries[-1]["sql"]) == locks


def test_an_update_of_named_fields_is_what_save_writes():
    thread, first, _ = a_thread_with_runs()
    run = select_one(Run, {"pk": first.pk})
    run.status, run.error = RunStatus.ERROR, {"error": "ValueError", "message": "ü"}
    run.ended_at = run.updated_at = timezone.now()
    update_fields(run, ["status", "error", "ended_at", "updated_at"])
    assert fields_of(Run.objects.get(pk=first.pk)) == fields_of(run)


def test_runs_in_a_set_of_statuses_in_order_are_the_orms():
    thread, first, second = a_thread_with_runs()
    Run.objects.filter(pk=first.pk).update(status=RunStatus.RUNNING)
    mine = select(Run, {"thread": thread.pk, "status": ACTIVE_RUN_STATUSES}, order_by=("seq",))
    orm = list(thread.in_flight_runs())
    assert [fields_of(r) for r in mine] == [fields_of(r) for r in orm]
    assert [r.pk for r in mine] == [first.pk, second.pk]
    assert select(Run, {"thread": thread.pk, "status": [RunStatus.SUCCESS]}) == []


def test_an_insert_is_what_create_writes():
    thread, _, _ = a_thread_with_runs()
    run = Run(thread=thread, seq=9, assistant_id="agent", input=SF, kwargs={"k": ["v"]})
    insert(run)
    assert not run._state.adding and run.created_at is not None
    assert fields_of(Run.objects.get(pk=run.pk)) == fields_of(run)


def test_a_field_of_the_related_row_is_the_orms_join():
    thread, first, _ = a_thread_with_runs()
    mine = select_one(Run, {"pk": first.pk, "thread__owner": thread.owner_id})
    assert fields_of(mine) == fields_of(Run.objects.get(pk=first.pk, thread__owner=thread.owner_id))
    assert select_one(Run, {"pk": first.pk, "thread__owner": thread.owner_id + 1}) is None
    with CaptureQueriesContext(connection) as queries:
        select_one(Run, {"pk": first.pk, "thread__owner": thread.owner_id})
    assert len(queries) == 1


def test_a_comparison_is_the_orms():
    thread, first, second = a_thread_with_runs()
    for lookup in ("gt", "gte", "lt", "lte"):
        mine = select(Run, {"thread": thread.pk, f"seq__{lookup}": first.seq}, order_by=("seq",))
        orm = Run.objects.filter(thread=thread.pk, **{f"seq__{lookup}": first.seq}).order_by("seq")
        assert [r.pk for r in mine] == [r.pk for r in orm], lookup
    assert [r.pk for r in select(Run, {"seq__gte": second.seq, "thread": thread.pk})] == [second.pk]
    with pytest.raises(TypeError):
        select(Run, {"seq__gt": [1, 2]})  # one value to compare with
    # A foreign key's field named like a comparison is still the join.
    assert select_one(Run, {"pk": first.pk, "thread__pk": thread.pk}).pk == first.pk


def test_a_delete_is_the_orms():
    thread, first, second = a_thread_with_runs()
    assert delete(Run, {"thread": thread.pk, "pk": [first.pk]}) == 1
    assert list(Run.objects.filter(thread=thread.pk).values_list("pk", flat=True)) == [second.pk]
    assert delete(Run, {"pk": []}) == 0 and select(Run, {"pk": []}) == []
    assert Run.objects.filter(pk=second.pk).exists()
    with pytest.raises(TypeError):
        delete(Thread, {"pk": thread.pk})  # its runs point to it: the ORM cascades


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's prepared statements")
def test_a_statement_run_again_is_prepared_on_its_connection():
    """Server-side binding with psycopg's prepare threshold (settings): the
    statements the hot paths repeat are planned once per connection."""
    thread = make_thread()
    for _ in range(6):
        assert select_one(Thread, {"pk": thread.pk}) is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "runs_thread"' in sql for sql in prepared), prepared


@pytest.mark.parametrize("value", ["", "text", "ünïcode ✓", "x" * 5000, None])
def test_a_text_column_is_sent_what_the_orm_sends(value):
    """`db_value` skips `get_db_prep_save` for a str or None of a text column:
    only where that gives the value back, on every model of the project."""
    columns = [
        field
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if type(field) in prepared._AS_IS_FIELDS
    ]
    assert len(columns) > 20
    for field in columns:
        assert field.get_db_prep_save(value, connection) == value, field
        assert field.get_db_prep_value(value, connection) == value, field  # a key compared
        assert prepared.db_value(field, value, connection) == value
    # Anything else goes through the field.
    when = timezone.now()
    created = Run._meta.get_field("created_at")
    assert prepared.db_value(created, when, connection) == created.get_db_prep_save(
        when, connection
    )
    status = Run._meta.get_field("status")
    assert prepared.db_value(status, RunStatus.RUNNING, connection) == "running"


def test_converters_are_kept_per_connection_and_go_with_it():
    read = tuple(Run._meta.concrete_fields)
    mine = prepared._row_converters(connection, Run, read)
    assert prepared._row_converters(connection, Run, read) is mine
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    theirs = prepared._row_converters(other, Run, read)
    assert theirs is not mine and [p for p, _, _ in theirs] == [p for p, _, _ in mine]
    gone = weakref.ref(other)
    other.close()
    del other, theirs
    gc.collect()
    assert gone() is None
