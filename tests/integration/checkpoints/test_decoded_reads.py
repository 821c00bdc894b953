"""A saver that keeps what it decoded (`decoded=`): a checkpoint read again
fetches and decodes only the channel values it has not read before, and what
it returns is what a plain saver reads."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.types import Command

from checkpoints.decoded import DecodedBlobs
from checkpoints.models import CheckpointBlob
from checkpoints.saver import DjangoCheckpointSaver

from .test_graphs import agent_graph, config, contents
from .test_queries import put_steps, statements

pytestmark = pytest.mark.django_db

LATEST = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}


class CountingSaver(DjangoCheckpointSaver):
    """Counts the blobs it decodes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loaded = []

    def _load_blob(self, key, type_, value):
        self.loaded.append(key[2])
        return super()._load_blob(key, type_, value)


@pytest.fixture
def reader():
    return CountingSaver(decoded=DecodedBlobs(2**20))


def test_a_checkpoint_read_again_is_two_queries_and_no_decoding(reader):
    put_steps(DjangoCheckpointSaver(), "t", 5)
    first = reader.get_tuple(LATEST)
    assert sorted(reader.loaded) == ["messages", "settings"]
    with CaptureQueriesContext(connection) as queries:
        again = reader.get_tuple(LATEST)
    assert len(statements(queries.captured_queries)) == 2  # the checkpoint, its writes
    assert sorted(reader.loaded) == ["messages", "settings"]
    assert again == first == DjangoCheckpointSaver().get_tuple(LATEST)


def test_the_next_step_reads_only_the_channel_it_changed(reader):
    steps = put_steps(DjangoCheckpointSaver(), "t", 4)
    reader.get_tuple(steps[2])
    reader.loaded.clear()
    with CaptureQueriesContext(connection) as queries:
        found = reader.get_tuple(LATEST)  # steps[3]: "messages" changed, "settings" not
    assert found.config == steps[3] and reader.loaded == ["messages"]
    assert found.checkpoint["channel_values"] == {
        "messages": [f"message {i}" for i in range(4)],
        "settings": {"model": "x"},
    }
    _, _, blobs = queries.captured_queries
    assert "messages" in blobs["sql"] and "settings" not in blobs["sql"]  # not asked for


def test_history_pages_reuse_what_they_decoded(reader):
    put_steps(DjangoCheckpointSaver(), "t", 6)
    first = list(reader.list(LATEST))
    decoded = len(reader.loaded)
    assert decoded == 6 + 1  # a "messages" each step, one "settings"
    assert list(reader.list(LATEST)) == first == list(DjangoCheckpointSaver().list(LATEST))
    assert len(reader.loaded) == decoded


def test_a_rolled_back_thread_run_again_reads_its_new_values(reader):
    """Deleted checkpoints' versions never come back: the run that replaces
    them writes versions of its own, so nothing kept is stale."""
    saver = DjangoCheckpointSaver()
    put_steps(saver, "t", 2, run_id="first")
    assert reader.get_tuple(LATEST).checkpoint["channel_values"]["messages"][-1] == "message 1"
    saver.delete_for_runs(["first"])
    assert reader.get_tuple(LATEST) is None
    versions = {"messages": saver.get_next_version(None)}
    again = {**empty_checkpoint(), "channel_values": {"messages": ["again"]}}
    config = saver.put(LATEST, {**again, "channel_versions": versions}, {}, versions)
    assert reader.get_tuple(LATEST).checkpoint["channel_values"] == {"messages": ["again"]}
    assert reader.get_tuple(config).config == config


def test_another_savers_versions_are_decoded_each_time(reader):
    """Versions written by a caller (ints, as other savers make them) may be
    written again with other values: they are not kept."""
    saver = DjangoCheckpointSaver()
    checkpoint = {
        **empty_checkpoint(),
        "channel_values": {"messages": ["one"]},
        "channel_versions": {"messages": 1},
    }
    saver.put(LATEST, checkpoint, {}, {"messages": 1})
    assert reader.get_tuple(LATEST).checkpoint["channel_values"] == {"messages": ["one"]}
    saver.delete_thread("t")
    saver.put(LATEST, {**checkpoint, "channel_values": {"messages": ["two"]}}, {}, {"messages": 1})
    assert reader.get_tuple(LATEST).checkpoint["channel_values"] == {"messages": ["two"]}
    assert reader.loaded == ["messages", "messages"]


def test_a_reader_changing_what_it_read_does_not_change_the_next_read(reader):
    put_steps(DjangoCheckpointSaver(), "t", 2)
    values = reader.get_tuple(LATEST).checkpoint["channel_values"]
    values["messages"].append("added in place")
    values["settings"]["model"] = "changed"
    assert reader.get_tuple(LATEST).checkpoint["channel_values"] == {
        "messages": ["message 0", "message 1"],
        "settings": {"model": "x"},
    }


@pytest.mark.django_db(transaction=True)  # a sync graph calls the saver on its own threads
def test_a_graphs_states_read_through_it_are_a_plain_savers(reader):
    """A graph's runs written by a plain saver, its states read through the
    reader after each change (an interrupt in a subgraph, the resume, a
    rollback of the resume, a resume again): each state and the history are
    the plain saver's, while the reader decodes each value once."""
    saver = DjangoCheckpointSaver()
    writer = agent_graph(saver)
    plain, kept = agent_graph(DjangoCheckpointSaver()), agent_graph(reader)

    def same_states():
        for graph_config in (config("t"), {"configurable": {"thread_id": "t"}}):
            expected = plain.get_state(graph_config, subgraphs=True)
            assert kept.get_state(graph_config, subgraphs=True) == expected
        assert list(kept.get_state_history(config("t"))) == list(
            plain.get_state_history(config("t"))
        )

    writer.invoke({"messages": [HumanMessage("hi")]}, config("t", "run-1"))
    same_states()
    same_states()
    decoded = len(reader.loaded)
    same_states()
    assert len(reader.loaded) == decoded  # nothing new to decode
    writer.invoke(Command(resume="yes"), config("t", "run-2"))
    same_states()
    assert contents(kept.get_state(config("t")))[-1] == "done"
    saver.delete_for_runs(["run-2"])
    same_states()
    assert kept.get_state(config("t")).next == ("sub",)
    writer.invoke(Command(resume="no"), config("t", "run-3"))
    same_states()
    assert contents(kept.get_state(config("t")))[-2:] == ["answer: no", "done"]


class HoldingSaver(CountingSaver):
    """Holds the values of one checkpoint in memory, as a worker's kept one."""

    held: tuple[str, dict] = ("", {})

    def _held_values(self, thread_id, ns, checkpoint_id):
        held_id, values = self.held
        return dict(values) if checkpoint_id == held_id else {}


def test_values_held_in_memory_are_kept_by_their_stored_size_not_decoded():
    saver = DjangoCheckpointSaver()
    steps = put_steps(saver, "t", 3)
    stored = saver.get_tuple(LATEST)
    reader = HoldingSaver(decoded=DecodedBlobs(2**20))
    reader.held = (steps[-1]["configurable"]["checkpoint_id"], stored.checkpoint["channel_values"])
    with CaptureQueriesContext(connection) as queries:
        found = reader.get_tuple(LATEST)
    assert reader.loaded == [] and found == stored
    _, _, sizes = statements(queries.captured_queries)
    assert "LENGTH(" in sizes.upper()
    assert reader.decoded.size == sum(
        len(b.value)
        for b in CheckpointBlob.objects.filter(thread_id="t")
        if b.version in {str(v) for v in stored.checkpoint["channel_versions"].values()}
    )
    reader.held = ("", {})
    assert reader.get_tuple(LATEST) == stored and reader.loaded == []  # kept since


def test_a_channel_the_held_values_lack_is_read_from_its_blob():
    saver = DjangoCheckpointSaver()
    steps = put_steps(saver, "t", 2)
    stored = saver.get_tuple(LATEST)
    reader = HoldingSaver(decoded=DecodedBlobs(2**20))
    values = dict(stored.checkpoint["channel_values"])
    del values["settings"]
    reader.held = (steps[-1]["configurable"]["checkpoint_id"], values)
    assert reader.get_tuple(LATEST) == stored
    assert reader.loaded == ["settings"]
