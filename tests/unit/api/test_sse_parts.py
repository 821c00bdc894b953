"""RunStreamer: attaching mid-run gives what already streamed once, then the
rest; parts become the events of the modes a client asked for."""

from runs.api.sse import RunStreamer
from runs.bus import protocol


def token(index, text, run_id="r1", message_id="m1"):
    chunk = {"type": "AIMessageChunk", "content": text, "id": message_id}
    metadata = {"langgraph_node": "model"}
    return protocol.part_event(
        "t1", run_id, mode="messages", ns=(), data=[chunk, metadata], seq=index + 1, index=index
    )


def snapshot(text, count, run_id="r1"):
    return protocol.snapshot_reply(run_id, {"message_id": "m1", "text": text, "count": count})


def texts(streamer, messages):
    parts = [part for message in messages for part in streamer.on_message(message)]
    return [data[0]["content"] for event, data in parts if event == "messages"]


def test_tokens_before_the_snapshot_are_held_and_not_repeated():
    streamer = RunStreamer("t1", "r1", ["messages-tuple"], attach=True)
    # Token 3 reaches us before the snapshot (which already holds tokens 0-3),
    # token 4 after it, and token 3 again would be a duplicate.
    sent = texts(streamer, [token(3, " d"), snapshot("a b c d", 4), token(3, " d"), token(4, " e")])
    assert sent == ["a b c d", " e"]


def test_without_a_snapshot_the_held_tokens_go_out_on_release():
    streamer = RunStreamer("t1", "r1", ["messages-tuple"], attach=True)
    assert texts(streamer, [token(5, " f")]) == []
    released = [data[0]["content"] for _, data in streamer.release()]
    assert released == [" f"]
    assert texts(streamer, [token(6, " g")]) == [" g"]


def test_other_runs_are_ignored_and_plain_streams_pass_through():
    streamer = RunStreamer("t1", "r1", ["messages-tuple"])
    assert texts(streamer, [token(0, "x", run_id="other"), token(0, "a"), token(1, " b")]) == [
        "a",
        " b",
    ]


def test_parts_are_named_as_the_platform_names_them():
    streamer = RunStreamer("t1", "r1", ["values", "messages", "custom"])
    values = protocol.part_event("t1", "r1", mode="values", ns=(), data={"x": 1}, seq=1)
    updates = protocol.part_event("t1", "r1", mode="updates", ns=(), data={"n": {}}, seq=2)
    inner = protocol.part_event("t1", "r1", mode="custom", ns=("inner:abc",), data="hi", seq=3)
    tool = {"type": "tool", "content": "{}", "id": "t", "tool_call_id": "c"}
    whole = protocol.part_event("t1", "r1", mode="messages", ns=(), data=[tool, {}], seq=4)
    parts = [
        p
        for m in (values, updates, inner, token(0, "a"), token(1, " b"), whole)
        for p in streamer.on_message(m)
    ]
    assert [event for event, _ in parts] == [
        "values",  # updates: not asked for
        "custom|inner:abc",
        "messages/metadata",
        "messages/partial",
        "messages/partial",
        "messages/metadata",
        "messages/complete",
    ]
    assert parts[4][1][0]["content"] == "a b" and parts[4][1][0]["type"] == "ai"
    assert parts[6][1] == [tool]
