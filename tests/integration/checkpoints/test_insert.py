"""The saver's INSERTs take their parameters from plain rows: what the ORM's
insert would send, without a model instance per row (a third of a `put`)."""

import datetime

import pytest
from django.db import connection
from langgraph.checkpoint.base import empty_checkpoint

from checkpoints.models import Checkpoint, CheckpointBlob, CheckpointWrite
from checkpoints.saver import DjangoCheckpointSaver

pytestmark = pytest.mark.django_db

MODELS = (Checkpoint, CheckpointBlob, CheckpointWrite)


def test_the_parameters_are_the_orms_for_every_kind_of_column(monkeypatch):
    rows = {
        Checkpoint: {
            "thread_id": "t",
            "checkpoint_ns": "",
            "checkpoint_id": "c",
            "parent_checkpoint_id": None,
            "run_id": "r",
            "checkpoint": {"v": 4, "id": "c"},
            "metadata": {"step": 1, "source": "loop"},
            "created_at": datetime.datetime(2026, 11, 27, 8, 0, tzinfo=datetime.UTC),
        },
        CheckpointBlob: {
            "thread_id": "t",
            "checkpoint_ns": "ns",
            "channel": "messages",
            "version": "1",
            "type": "msgpack",
            "value": b"\x00\x01",
            "checkpoint_id": "c",
        },
        CheckpointWrite: {
            "thread_id": "t",
            "checkpoint_ns": "",
            "checkpoint_id": "c",
            "task_id": "task",
            "task_path": "",
            "idx": -1,
            "channel": "__error__",
            "type": "msgpack",
            "value": b"x",
            "run_id": None,
        },
    }
    sent = []

    class Cursor:
        def __init__(self, cursor):
            self.cursor = cursor

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, params):
            sent.append(params)

    monkeypatch.setattr(connection, "cursor", lambda: Cursor(None))
    saver = DjangoCheckpointSaver()
    for model, row in rows.items():
        sent.clear()
        saver._insert(model, [row])
        instance = model(**row)
        expected = [
            f.get_db_prep_save(getattr(instance, f.attname), connection)
            for f in model._meta.concrete_fields
            if not f.primary_key
        ]
        # JSON goes through its field on both paths: compare what the driver gets.
        [params] = sent
        assert [str(getattr(p, "obj", p)) for p in params] == [
            str(getattr(p, "obj", p)) for p in expected
        ], model


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
