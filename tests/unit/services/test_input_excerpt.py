"""A run's input in a few words: how the admin and a double-text's record name a run."""

from runs.services.chat_messages import input_excerpt


def test_the_last_message_text_whitespace_folded():
    given = {"messages": [{"type": "human", "content": "first"}, {"content": "  what's\n up?  "}]}
    assert input_excerpt(given) == "what's up?"


def test_content_blocks_are_joined():
    given = {"messages": [{"content": [{"type": "text", "text": "a"}, "b", {"type": "image"}]}]}
    assert input_excerpt(given) == "a b"


def test_long_text_is_cut_with_an_ellipsis():
    text = input_excerpt({"messages": [{"content": "word " * 50}]}, limit=20)
    assert len(text) <= 20 and text.endswith("…")


def test_no_input_and_inputs_without_messages():
    assert input_excerpt(None) == ""
    assert input_excerpt({"topic": "cats"}) == '{"topic": "cats"}'
