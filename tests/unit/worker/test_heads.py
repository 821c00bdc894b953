"""The checkpoints a worker keeps for threads' next runs: bounded, taken once,
and only while still the thread's latest."""

from types import SimpleNamespace

import pytest
from langgraph.checkpoint.base import CheckpointTuple, empty_checkpoint

from runs.services import persistence
from runs.worker.heads import LatestCheckpoints


def head(checkpoint_id: str) -> CheckpointTuple:
    config = {
        "configurable": {"thread_id": "t", "checkpoint_ns": "", "checkpoint_id": checkpoint_id}
    }
    return CheckpointTuple(config, {**empty_checkpoint(), "id": checkpoint_id}, {}, None, [])


@pytest.fixture
def database(monkeypatch):
    """The thread's latest checkpoint id in the database (`latest_ids`), and
    the threads whose checkpoint is read back (`reads`)."""
    db = SimpleNamespace(latest_ids={}, reads=[])
    saver = SimpleNamespace(latest_id=lambda thread_id: db.latest_ids.get(thread_id))
    monkeypatch.setattr(persistence, "saver", lambda: saver)

    def latest(thread_id):
        db.reads.append(thread_id)
        return head(db.latest_ids[thread_id])

    monkeypatch.setattr(persistence, "latest", latest)
    return db


def test_a_kept_checkpoint_still_the_latest_is_taken_once(database):
    kept = LatestCheckpoints(size=4)
    database.latest_ids["a"] = "1"
    first = head("1")
    kept.keep("a", first)
    assert kept.take("a") is first
    assert database.reads == []
    assert kept.take("a") is not first  # taken: the next is read back
    assert database.reads == ["a"]


def test_one_no_longer_the_latest_is_read_back(database):
    kept = LatestCheckpoints(size=4)
    kept.keep("a", head("1"))
    database.latest_ids["a"] = "2"  # a state update, another worker's run...
    assert kept.take("a").config["configurable"]["checkpoint_id"] == "2"
    assert database.reads == ["a"]


def test_the_oldest_threads_are_forgotten_beyond_the_size(database):
    kept = LatestCheckpoints(size=2)
    for thread_id in "abc":
        database.latest_ids[thread_id] = "1"
        kept.keep(thread_id, head("1"))
    kept.keep("b", head("1"))  # kept again: the most recent
    for thread_id in "abc":
        kept.take(thread_id)
    assert database.reads == ["a"]


def test_size_zero_keeps_nothing(database, settings):
    settings.RUNS_KEPT_CHECKPOINTS = 0
    kept = LatestCheckpoints()
    database.latest_ids["a"] = "1"
    kept.keep("a", head("1"))
    kept.take("a")
    assert database.reads == ["a"]


def test_a_reader_takes_the_values_of_the_checkpoint_it_read_only():
    heads = LatestCheckpoints(size=4)
    kept = head("c1")
    kept.checkpoint["channel_values"] = {"messages": ["hi"]}
    heads.keep("t", kept)
    values = heads.values_at("t", "c1")
    assert values == {"messages": ["hi"]}
    values["messages"].append("mine")  # its own dict and list
    assert heads.values_at("t", "c1") == {"messages": ["hi"]}
    # A run that took the checkpoint extends its list in place: not the reader's.
    kept.checkpoint["channel_values"]["messages"].append("the run's")
    assert values == {"messages": ["hi", "mine"]}
    assert heads.values_at("t", "c0") == {} and heads.values_at("other", "c1") == {}
