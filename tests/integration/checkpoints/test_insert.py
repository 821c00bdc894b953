"""The saver's INSERTs take their parameters from plain rows: what the ORM's
insert would send, without a model instance per row (a quarter of a `put`)."""

import datetime

import pytest
from django.db import connection
from langgraph.checkpoint.base import empty_checkpoint

from checkpoints import saver as saver_module
from checkpoints.models import Checkpoint, CheckpointBlob, CheckpointWrite
from checkpoints.saver import DjangoCheckpointSaver

pytestmark = pytest.mark.django_db

MODELS = (Checkpoint, CheckpointBlob, CheckpointWrite)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_insert_writes_every_column_in_the_statements_order(model):
    fields = saver_module._insert_fields(model)
    _, ordered = saver_module._insert_sql(
        connection.vendor, connection.ops.quote_name, model, 1, (), ()
    )
    assert [f for f, _ in fields] == list(ordered)
    assert [f for f, _ in fields] == [f for f in model._meta.concrete_fields if not f.primary_key]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("value", ["", "text", "ünïcode ✓", None])
def test_a_column_taken_as_it_is_is_what_the_orm_would_send(model, value):
    """A str or None skips `get_db_prep_save` only where that gives it back."""
    as_is = [f for f, skip in saver_module._insert_fields(model) if skip]
    assert as_is, "no column is taken as it is"
    for field in as_is:
        assert field.get_db_prep_save(value, connection) == value, field


def test_the_parameters_are_the_orms_for_every_kind_of_column():
    row = {
        "thread_id": "t",
        "checkpoint_ns": "",
        "checkpoint_id": "c",
        "parent_checkpoint_id": None,
        "run_id": "r",
        "checkpoint": {"v": 4, "id": "c"},
        "metadata": {"step": 1, "source": "loop"},
        "created_at": datetime.datetime(2026, 11, 27, 8, 0, tzinfo=datetime.UTC),
    }
    params = saver_module._prepared(connection, saver_module._insert_fields(Checkpoint), [row])
    instance = Checkpoint(**row)
    expected = [
        f.get_db_prep_save(getattr(instance, f.attname), connection)
        for f in Checkpoint._meta.concrete_fields
        if not f.primary_key
    ]
    # JSON goes through the field on both paths; compare what the driver gets.
    assert [str(getattr(p, "obj", p)) for p in params] == [
        str(getattr(p, "obj", p)) for p in expected
    ]


def test_a_put_and_its_writes_make_no_model_instance(monkeypatch):
    def refused(self, *args, **kwargs):
        raise AssertionError(f"a {type(self).__name__} instance was made")

    for model in MODELS:
        monkeypatch.setattr(model, "__init__", refused)
    saver = DjangoCheckpointSaver()
    config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
    checkpoint = {
        **empty_checkpoint(),
        "channel_values": {"messages": ["hi"]},
        "channel_versions": {"messages": saver.get_next_version(None)},
    }
    config = saver.put(config, checkpoint, {"step": 0}, checkpoint["channel_versions"])
    saver.put_writes(config, [("a", 1), ("b", b"\x00")], "task")
    monkeypatch.undo()
    stored = saver.get_tuple(config)
    assert stored.checkpoint["channel_values"] == {"messages": ["hi"]}
    assert stored.pending_writes == [("task", "a", 1), ("task", "b", b"\x00")]
