"""Input normalisation and the add_messages reducer."""

import pytest

from runs.services import chat_messages as msgs


def test_role_form_is_normalised_to_langchain_form():
    values = msgs.normalise_input({"messages": [{"role": "user", "content": "hi"}]})
    (message,) = values["messages"]
    assert message["type"] == "human"
    assert message["content"] == "hi"
    assert message["id"]


def test_langchain_core_reads_our_messages():
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage, convert_to_messages

    converted = convert_to_messages(
        [
            msgs.human("q"),
            msgs.ai("", tool_calls=[{"name": "get_weather", "args": {}, "id": "c1"}]),
            msgs.tool("{}", tool_call_id="c1", name="get_weather"),
            msgs.ai("partial", interrupted=True),
        ]
    )
    assert [type(m) for m in converted] == [HumanMessage, AIMessage, ToolMessage, AIMessage]
    assert converted[1].tool_calls[0]["name"] == "get_weather"
    assert converted[3].response_metadata["interrupted"] is True


def test_add_messages_replaces_by_id():
    first = msgs.human("a", id="1")
    merged = msgs.add_messages([first], [msgs.human("b", id="2"), msgs.human("A", id="1")])
    assert [m["content"] for m in merged] == ["A", "b"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([], "input"),
        ({"messages": 3}, "input.messages"),
        ({"messages": [{"type": "wizard", "content": "x"}]}, "input.messages[0].type"),
        ({"messages": [{"role": "user", "content": 5}]}, "input.messages[0].content"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "input.messages[0].tool_call_id"),
        ({"messages": [{"role": "user", "content": "x" * 100_000}]}, "input.messages[0].content"),
    ],
)
def test_bad_input_names_the_field(raw, field):
    with pytest.raises(msgs.MessageError) as raised:
        msgs.normalise_input(raw)
    assert raised.value.field == field
