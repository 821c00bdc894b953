"""The channel values a reader keeps decoded: only versions that name one
value for good, within a budget of stored bytes, each read with its own outer
list or dict."""

from checkpoints.decoded import DecodedBlobs, lasting
from checkpoints.saver import DjangoCheckpointSaver

VERSION = DjangoCheckpointSaver().get_next_version(None)


def key(channel="messages", version=VERSION):
    return ("thread", "", channel, version)


def test_only_the_savers_own_versions_last():
    saver = DjangoCheckpointSaver()
    assert lasting(saver.get_next_version(None))
    assert lasting(saver.get_next_version(VERSION))
    # Another saver's versions, kept as their str(): they may be written again.
    for version in ("1", "2.0", "0.5", "00000000000000000000000000000001", "x" * 40):
        assert not lasting(version), version


def test_a_kept_value_is_read_back_without_its_blob():
    decoded = DecodedBlobs(1000)
    messages = ["hi", "there"]
    assert decoded.keep(key(), messages, 100) == messages
    assert decoded.get(key()) == messages
    assert decoded.get(key(version=DjangoCheckpointSaver().get_next_version(VERSION))) is None


def test_a_version_that_may_be_written_again_is_not_kept():
    decoded = DecodedBlobs(1000)
    assert decoded.keep(key(version="3"), ["old"], 10) == ["old"]
    assert decoded.get(key(version="3")) is None and decoded.size == 0


def test_each_read_has_its_own_list_or_dict():
    decoded = DecodedBlobs(1000)
    mine = decoded.keep(key(), ["a"], 10)
    mine.append("changed by a reducer")
    theirs = decoded.get(key())
    assert theirs == ["a"]
    theirs.append("b")
    settings = decoded.keep(key("settings"), {"model": "x"}, 10)
    settings["model"] = "y"
    assert decoded.get(key()) == ["a"] and decoded.get(key("settings")) == {"model": "x"}


def test_the_least_recently_read_go_first_past_the_budget():
    decoded = DecodedBlobs(250)
    for channel in ("a", "b", "c"):
        decoded.keep(key(channel), channel, 100)
    assert decoded.get(key("a")) is None  # 300 > 250: the oldest went
    assert decoded.get(key("b")) == "b"  # read: now the newest
    decoded.keep(key("d"), "d", 100)
    assert decoded.get(key("c")) is None and decoded.get(key("b")) == "b"
    assert decoded.size == 200


def test_a_value_larger_than_the_budget_is_not_kept():
    decoded = DecodedBlobs(50)
    assert decoded.keep(key(), "big", 51) == "big"
    assert decoded.get(key()) is None and decoded.size == 0
    nothing = DecodedBlobs(0)
    assert nothing.keep(key(), "empty", 0) == "empty"
    assert nothing.get(key()) is None


def test_keeping_a_value_again_counts_it_once():
    decoded = DecodedBlobs(1000)
    decoded.keep(key(), "v", 100)
    decoded.keep(key(), "v", 100)
    assert decoded.size == 100 and len(decoded.kept) == 1
