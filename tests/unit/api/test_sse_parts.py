"""RunStreamer: attaching mid-run gives what already streamed once, then the rest."""

from runs.api.sse import RunStreamer
from runs.bus import protocol


def token(index, text, run_id="r1", message_id="m1"):
    return protocol.token_event(
        "t1", run_id, message_id=message_id, text=text, index=index, node="model"
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
