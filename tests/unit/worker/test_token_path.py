"""The per-token path of the executor (runs/worker/graph_run.py): what it
publishes and keeps is the same as converting and merging every token."""

import enum
import uuid

from langchain_core.messages import AIMessageChunk

from runs.graphs.serialization import _jsonable, jsonable
from runs.worker.graph_run import ActiveRun, Partial, _part_data


class Colour(enum.StrEnum):
    RED = "red"


def test_jsonable_fast_path_gives_what_the_long_way_gives():
    value = {
        "a": [1, 2.5, True, None, "s", (3, 4)],
        5: {"nested": {Colour.RED: Colour.RED}},
        "id": uuid.UUID(int=7),
        "message": AIMessageChunk(content="hi", id="m"),
    }
    assert jsonable(value) == _jsonable(value)
    assert jsonable(value)["5"] == {"nested": {"red": "red"}}


def test_a_tokens_metadata_is_converted_once_per_model_call():
    active = ActiveRun(claim=None)
    first_call = {"langgraph_node": "model", "run_id": uuid.UUID(int=1)}
    tokens = [AIMessageChunk(content=word, id="m1") for word in ("a", "b")]
    published = [_part_data(active, "messages", (token, first_call)) for token in tokens]
    assert published == [jsonable((token, first_call)) for token in tokens]
    assert published[0][1] is published[1][1]
    second_call = {"langgraph_node": "other"}
    token = AIMessageChunk(content="c", id="m2")
    assert _part_data(active, "messages", (token, second_call)) == jsonable((token, second_call))
    assert _part_data(active, "updates", {"model": {"x": 1}}) == {"model": {"x": 1}}


def test_the_partial_answer_is_every_token_merged():
    partial = Partial("m1", "model")
    words = ["Once", " upon", " a", " time"]
    assert [partial.add(AIMessageChunk(content=w, id="m1")) for w in words] == [0, 1, 2, 3]
    assert partial.text == "Once upon a time"
    assert partial.tokens == 4
    partial.add(AIMessageChunk(content=".", id="m1"))
    assert partial.text == "Once upon a time."
    assert partial.tokens == 5
    assert partial.message().content == "Once upon a time."
    assert Partial("m2", "model").text == ""
