"""The saver's own rules, beyond the conformance suite: blobs shared between
checkpoints survive deletes that leave a checkpoint naming them, metadata
filters of all kinds on both databases, paging where ids repeat, writes'
idempotency, versions."""

import pytest
from django.db.models.sql.query import Query
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.serde.types import ERROR

from checkpoints.models import Checkpoint, CheckpointBlob
from checkpoints.saver import DjangoCheckpointSaver

pytestmark = pytest.mark.django_db


@pytest.fixture
def saver():
    return DjangoCheckpointSaver()


def step(saver, parent, values, metadata=None, *, thread_id="t", ns="", changed=None):
    """Put a checkpoint after `parent` (a stored config, or None) with these
    channel values; the channels in `changed` (default: all) get new versions."""
    versions = {}
    if parent is not None:
        versions = dict(saver.get_tuple(parent).checkpoint["channel_versions"])
    changed = values.keys() if changed is None else changed
    new_versions = {ch: saver.get_next_version(versions.get(ch)) for ch in changed}
    checkpoint = {
        **empty_checkpoint(),
        "id": str(uuid6()),
        "channel_values": values,
        "channel_versions": {**versions, **new_versions},
    }
    config = parent or {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns}}
    return saver.put(config, checkpoint, metadata or {}, new_versions)


def values_of(saver, config):
    return saver.get_tuple(config).checkpoint["channel_values"]


def test_delete_for_runs_keeps_a_blob_a_later_run_still_names(saver):
    """run-2 did not change "doc", so it names the blob run-1 stored: deleting
    run-1 keeps it; deleting run-2 too then deletes it."""
    one = step(saver, None, {"doc": "big", "n": 1}, {"run_id": "run-1"})
    two = step(saver, one, {"doc": "big", "n": 2}, {"run_id": "run-2"}, changed=["n"])
    assert CheckpointBlob.objects.count() == 3

    saver.delete_for_runs(["run-1"])
    assert values_of(saver, two) == {"doc": "big", "n": 2}
    assert CheckpointBlob.objects.count() == 2  # run-1's "n" is gone

    saver.delete_for_runs(["run-2"])
    assert not CheckpointBlob.objects.exists()


def test_delete_for_runs_keeps_a_blob_an_earlier_checkpoint_stored(saver):
    one = step(saver, None, {"doc": "big"}, {"run_id": "run-1"})
    two = step(saver, one, {"doc": "big", "n": 2}, {"run_id": "run-2"}, changed=["n"])
    saver.delete_for_runs(["run-2"])
    assert saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}).config == one
    assert values_of(saver, one) == {"doc": "big"}
    assert saver.get_tuple(two) is None
    assert CheckpointBlob.objects.count() == 1


def test_a_rollbacks_deletes_are_not_built_by_the_orm(saver, monkeypatch):
    """A rollback is a double-text: its reads and deletes of checkpoints,
    writes and blobs are prepared statements (chatapp.platform.prepared),
    not querysets compiled on every call (three quarters of its Python)."""
    one = step(saver, None, {"doc": "big"}, {"run_id": "run-1"})
    step(saver, one, {"doc": "big", "n": 2}, {"run_id": "run-2"}, changed=["n"])
    built = []
    get_compiler = Query.get_compiler
    monkeypatch.setattr(
        Query, "get_compiler", lambda *a, **k: built.append(a) or get_compiler(*a, **k)
    )
    saver.delete_for_runs(["run-2"])  # "doc" is run-1's, still named; "n" goes
    monkeypatch.undo()
    assert built == []
    assert list(CheckpointBlob.objects.values_list("channel", flat=True)) == ["doc"]


def test_delete_for_runs_leaves_other_namespaces_and_threads(saver):
    step(saver, None, {"x": 1}, {"run_id": "run-1"})
    step(saver, None, {"x": 1}, {"run_id": "run-1"}, ns="sub:1")
    other = step(saver, None, {"x": 1}, {"run_id": "run-2"}, thread_id="other")
    saver.delete_for_runs(["run-1"])
    assert list(Checkpoint.objects.values_list("thread_id", flat=True)) == ["other"]
    assert values_of(saver, other) == {"x": 1}
    with pytest.raises(TypeError):
        saver.delete_for_runs("run-2")


def test_prune_keeps_the_blobs_the_latest_names(saver):
    one = step(saver, None, {"doc": "big", "n": 1})
    two = step(saver, one, {"doc": "big", "n": 2}, changed=["n"])
    three = step(saver, two, {"doc": "big", "n": 3}, changed=["n"])
    saver.put_writes(two, [("n", 5)], "task")
    saver.prune(["t"])
    assert [t.config for t in saver.list({"configurable": {"thread_id": "t"}})] == [three]
    found = saver.get_tuple(three)
    assert found.checkpoint["channel_values"] == {"doc": "big", "n": 3}
    assert found.parent_config is None
    assert CheckpointBlob.objects.count() == 2
    assert saver.get_tuple(two) is None


@pytest.mark.parametrize(
    "filter, expected",
    [
        ({"source": "loop"}, ["a", "b"]),
        ({"source": "loop", "step": 2}, ["b"]),
        ({"step": 0}, ["c"]),
        ({"flag": True}, ["a"]),
        ({"flag": False}, ["b"]),
        ({"score": 1.5}, ["a"]),
        ({"owner": None}, ["c"]),
        ({"tags": ["x", "y"]}, ["a"]),
        ({"nested": {"k": "v"}}, ["b"]),
        ({"odd__key": 'it\'s "quoted"'}, ["c"]),
        ({"missing": "value"}, []),
    ],
)
def test_list_metadata_filters(saver, filter, expected):
    metadata = {
        "a": {"source": "loop", "step": 1, "flag": True, "score": 1.5, "tags": ["x", "y"]},
        "b": {"source": "loop", "step": 2, "flag": False, "nested": {"k": "v"}},
        "c": {"source": "input", "step": 0, "owner": None, "odd__key": 'it\'s "quoted"'},
    }
    for name, md in metadata.items():
        step(saver, None, {}, {**md, "name": name})
    found = saver.list({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, filter=filter)
    assert sorted(t.metadata["name"] for t in found) == expected


def test_list_of_everything_pages_where_ids_repeat(saver, monkeypatch):
    """A copied thread has the same checkpoint ids: pages of one still list
    every (thread, namespace, id) once, newest first."""
    one = step(saver, None, {"x": 1})
    step(saver, one, {"x": 2})
    step(saver, None, {"x": 1}, ns="sub:1")
    saver.copy_thread("t", "copy")
    expected = [t.config for t in saver.list(None)]
    assert len(expected) == 6
    monkeypatch.setattr(saver, "page_size", 1)
    assert [t.config for t in saver.list(None)] == expected
    assert [t.config for t in saver.list({"configurable": {"thread_id": "copy"}})] == [
        c for c in expected if c["configurable"]["thread_id"] == "copy"
    ]
    assert [t.config for t in saver.list(None, limit=4)] == expected[:4]
    before = expected[2]
    assert [t.config for t in saver.list(None, before=before)] == [
        c
        for c in expected
        if c["configurable"]["checkpoint_id"] < before["configurable"]["checkpoint_id"]
    ]


def test_list_with_a_checkpoint_id(saver):
    one = step(saver, None, {"x": 1})
    step(saver, one, {"x": 2})
    assert [t.config for t in saver.list(one)] == [one]


def test_put_again_replaces_the_metadata(saver):
    one = step(saver, None, {"x": 1}, {"step": 1})
    tup = saver.get_tuple(one)
    saver.put(
        {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, tup.checkpoint, {"step": 9}, {}
    )
    assert saver.get_tuple(one).metadata == {"step": 9}
    assert Checkpoint.objects.count() == 1


def test_writes_are_stored_once_but_special_ones_are_replaced(saver):
    one = step(saver, None, {"x": 1})
    saver.put_writes(one, [("x", "first")], "task")
    saver.put_writes(one, [("x", "second")], "task")
    saver.put_writes(one, [(ERROR, "first error")], "task")
    saver.put_writes(one, [(ERROR, "second error")], "task")
    saver.put_writes(one, [], "task")
    writes = saver.get_tuple(one).pending_writes
    assert writes == [("task", ERROR, "second error"), ("task", "x", "first")]


def test_pending_writes_are_in_writes_sort_key_order(saver):
    one = step(saver, None, {"x": 1})
    saver.put_writes(one, [("a", 1), ("b", 2)], "task-b", "path-1")
    saver.put_writes(one, [("c", 3)], "task-a", "path-2")
    saver.put_writes(one, [("d", 4)], "task-z", "path-0")
    channels = [w[1] for w in saver.get_tuple(one).pending_writes]
    assert channels == ["d", "a", "b", "c"]


def test_versions_increase_as_strings():
    saver = DjangoCheckpointSaver()
    versions = [saver.get_next_version(None)]
    for _ in range(12):
        versions.append(saver.get_next_version(versions[-1]))
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    assert saver.get_next_version(4).startswith(f"{5:032}.")


def test_prune_and_copy_arguments(saver):
    saver.prune([])
    with pytest.raises(TypeError):
        saver.prune("t")
    with pytest.raises(ValueError):
        saver.prune(["t"], strategy="everything")
    saver.copy_thread("nothing", "copy")
    assert not Checkpoint.objects.exists()


def test_writes_beyond_one_statements_parameters_are_all_stored(saver):
    """The saver writes its own INSERT ... ON CONFLICT: a task with more writes
    than one statement takes parameters (SQLite: 999 in old builds) is split
    into several, and a retried step still stores each write once."""
    from checkpoints.models import CheckpointWrite

    config = step(saver, None, {"n": 1})
    writes = [(f"ch{i}", i) for i in range(1500)]
    saver.put_writes(config, writes, "task-1")
    saver.put_writes(config, writes, "task-1")  # retried: ignored
    assert CheckpointWrite.objects.count() == 1500
    pending = saver.get_tuple(config).pending_writes
    assert [value for _, _, value in pending] == list(range(1500))


def test_a_checkpoint_put_again_replaces_its_row(saver):
    """`put` of an existing checkpoint id updates it (ON CONFLICT DO UPDATE)."""
    first = step(saver, None, {"n": 1}, {"run_id": "run-1"})
    tuple_ = saver.get_tuple(first)
    saver.put(
        {"configurable": {"thread_id": "t", "checkpoint_ns": ""}},
        tuple_.checkpoint,
        {"run_id": "run-2", "step": 7},
        {},
    )
    assert Checkpoint.objects.count() == 1
    row = Checkpoint.objects.get()
    assert row.run_id == "run-2" and row.metadata["step"] == 7


def test_latest_id_is_the_latest_checkpoint_of_its_namespace(saver):
    assert saver.latest_id("t") is None
    one = step(saver, None, {"n": 1})
    two = step(saver, one, {"n": 2})
    step(saver, None, {"n": 3}, ns="child")
    step(saver, None, {"n": 4}, thread_id="other")
    assert saver.latest_id("t") == two["configurable"]["checkpoint_id"]
    assert (
        saver.latest_id("t")
        == saver.get_tuple({"configurable": {"thread_id": "t", "checkpoint_ns": ""}}).config[
            "configurable"
        ]["checkpoint_id"]
    )
    assert saver.latest_id("t", "child") is not None
    assert saver.latest_id("nobody") is None
