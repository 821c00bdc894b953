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


class Counted:
    """A converter that counts the items it converts."""

    def __init__(self):
        self.converted = []

    def __call__(self, item):
        self.converted.append(item)
        return {"json of": item} if isinstance(item, str) else item


def test_a_kept_lists_json_is_made_once_for_every_reader():
    decoded, convert = DecodedBlobs(1000), Counted()
    first = decoded.keep(key(), ["a", "b"], 10)
    assert first.json(convert) == [{"json of": "a"}, {"json of": "b"}]
    again = decoded.get(key())
    assert again.json(convert) == [{"json of": "a"}, {"json of": "b"}]
    assert convert.converted == ["a", "b"]


def test_what_a_reader_changed_in_its_copy_is_converted_for_it_alone():
    decoded, convert = DecodedBlobs(1000), Counted()
    mine = decoded.keep(key(), ["a", "b"], 10)
    mine[1] = "mine"
    mine.append("added")
    assert mine.json(convert) == [{"json of": "a"}, {"json of": "mine"}, {"json of": "added"}]
    assert decoded.get(key()).json(convert) == [{"json of": "a"}, {"json of": "b"}]
    assert convert.converted == ["a", "mine", "added", "b"]


def test_each_reader_has_its_own_json_dicts():
    decoded = DecodedBlobs(1000)
    json = decoded.keep(key(), ["a"], 10).json(Counted())
    json[0]["changed"] = True
    assert decoded.get(key()).json(Counted()) == [{"json of": "a"}]


def test_a_kept_list_copied_or_pickled_is_a_plain_list():
    import copy
    import pickle

    kept = DecodedBlobs(1000).keep(key(), [["nested"]], 10)
    for other in (copy.copy(kept), copy.deepcopy(kept), pickle.loads(pickle.dumps(kept))):
        assert type(other) is list and other == [["nested"]]
    assert copy.deepcopy(kept)[0] is not kept[0]


def test_a_kept_list_extended_in_place_by_its_owner_still_converts():
    """A value kept from a worker's checkpoint that a reducer then extended in
    place (what `heads.values_at` copies against): no JSON form for the new
    items, and no error."""
    decoded, value = DecodedBlobs(1000), ["a"]
    decoded.keep(key(), value, 10)
    value.append("b")
    assert decoded.get(key()).json(Counted()) == [{"json of": "a"}, {"json of": "b"}]
    value.clear()
    assert decoded.get(key()).json(Counted()) == []
    mine = decoded.keep(key("other"), ["x", "y"], 10)
    decoded.kept[key("other")][0].pop()  # shorter than the reader's copy
    assert mine.json(Counted()) == [{"json of": "x"}, {"json of": "y"}]
